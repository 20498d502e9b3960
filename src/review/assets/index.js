'use strict';
(function () {
  const D = JSON.parse(document.getElementById('data').textContent);
  const $ = (s) => document.querySelector(s);
  const { el, plural, desk } = Desk;
  const COLOR = {}; for (const [k, c] of D.kinds) COLOR[k] = c;
  const head = $('#head');
  head.appendChild(el('h1', '', 'Review queue'));
  head.appendChild(el('span', 'meta', D.title));
  const ok = D.rows.filter((r) => r.status === 'ok').length;
  head.appendChild(el('span', 'meta', plural(D.rows.length, 'recording') + ', ' + (D.rows.length - ok) + ' failed'));
  // where to start: the first recording in priority order with events left to review
  const next = el('a', 'next', ''); next.id = 'next'; next.hidden = true;
  head.appendChild(next);
  if (desk) { const csv = el('a', '', 'Verdicts as CSV'); csv.id = 'csv-link'; csv.href = Desk.served('api/decisions.csv'); csv.title = 'Every verdict and missed mark, one a line'; head.appendChild(csv); }
  head.appendChild(Desk.reviewerBox());
  function href(r) { return desk ? Desk.served(r.link) : r.link; }
  function showNext() {
    const r = Desk.nextTodo(D.rows, null);
    next.hidden = !r;
    if (r) { next.textContent = 'Review next: ' + r.id; next.href = href(r); }
  }

  // filters
  const f = $('#filters');
  const q = el('input'); q.type = 'search'; q.placeholder = 'Search candidate or id'; q.setAttribute('aria-label', 'Search candidate or id');
  const kindSel = el('select'); kindSel.setAttribute('aria-label', 'Kind');
  kindSel.appendChild(new Option('any kind', ''));
  for (const [k] of D.kinds) kindSel.appendChild(new Option(k, k));
  const bandSel = el('select'); bandSel.setAttribute('aria-label', 'Band');
  for (const [v, label] of [['', 'any band'], ['high', 'high risk'], ['medium', 'medium risk'], ['low', 'low risk'], ['failed', 'failed']]) bandSel.appendChild(new Option(label, v));
  const revSel = el('select'); revSel.setAttribute('aria-label', 'Review status');
  for (const [v, label] of [['', 'any review status'], ['todo', 'not fully reviewed'], ['done', 'reviewed']]) revSel.appendChild(new Option(label, v));
  const shown = el('span', 'meta', ''); shown.setAttribute('role', 'status');
  for (const x of [q, kindSel, bandSel, revSel, shown]) f.appendChild(x);

  const HEADS = ['#', 'Recording', 'Candidate', 'Score', 'Band', 'Events by kind', 'Reviewed', 'Status'];
  const thead = $('#rows thead');
  const hr = el('tr');
  for (const h of HEADS) { const th = el('th', '', h); th.scope = 'col'; hr.appendChild(th); }
  thead.appendChild(hr);
  const tbody = $('#rows tbody');
  const trs = [];
  // a cell, labelled with its column for the narrow layout (cards)
  function td(col, cls, text) { const c = el('td', cls, text); c.dataset.label = HEADS[col]; return c; }
  function reviewCell(cell, r) {
    cell.textContent = '';
    if (r.status !== 'ok') {
      const acked = Desk.acknowledged(r);
      cell.appendChild(el('span', acked ? 'rev-done' : 'rev-none', acked ? 'failure acknowledged' : 'failed: needs a look'));
      return;
    }
    const n = r.events || 0;
    const cls = n === 0 || r.reviewed >= n ? 'rev-done' : r.reviewed > 0 ? 'rev-part' : 'rev-none';
    cell.appendChild(el('span', cls, n === 0 ? 'nothing to review' : r.reviewed + ' / ' + n));
    // events whose reviewers differ, and spans marked as missed
    if (r.disagreements > 0) { cell.appendChild(document.createTextNode(' ')); cell.appendChild(el('span', 'disagree', r.disagreements + ' disagree')); }
    if (r.missed > 0) { cell.appendChild(document.createTextNode(' ')); cell.appendChild(el('span', 'missed-count', r.missed + ' missed')); }
  }
  // a failed recording leaves the "not fully reviewed" list once someone has acknowledged it
  function ackButton(tr, r) {
    const b = el('button', 'ack', ''); b.type = 'button';
    const paint = () => {
      const on = Desk.acknowledged(r);
      b.textContent = on ? 'Acknowledged' : 'Acknowledge';
      b.setAttribute('aria-pressed', on ? 'true' : 'false');
      b.title = on ? 'Put it back on the list of recordings to look at' : 'Mark this failure as seen: it leaves the "not fully reviewed" list (kept in this browser)';
    };
    paint();
    b.addEventListener('click', () => { Desk.acknowledge(r, !Desk.acknowledged(r)); paint(); reviewCell(tr._rev, r); apply(); });
    return b;
  }
  function makeRow(r, i) {
    const tr = el('tr', r.status === 'ok' ? '' : 'failed');
    tr.dataset.id = r.id;
    tr.dataset.band = r.status === 'ok' ? (r.band || '') : 'failed';
    tr.appendChild(td(0, 'num idx', i + 1));
    const name = td(1, 'rec');
    if (r.link) {
      const a = el('a', '', r.id);
      a.href = href(r);
      name.appendChild(a);
    } else name.textContent = r.id;
    tr.appendChild(name);
    tr.appendChild(td(2, 'cand', r.candidate || ''));
    tr.appendChild(td(3, 'num', r.score === null || r.score === undefined ? '' : Math.round(r.score)));
    const b = td(4); if (r.band) b.appendChild(el('span', 'band band-' + r.band, r.band)); tr.appendChild(b);
    const c = td(5, 'counts');
    for (const k of r._kinds) { const s = Desk.kindLabel(k, COLOR[k]); s.appendChild(document.createTextNode(' ' + r.counts[k].count)); c.appendChild(s); }
    tr.dataset.kinds = r._kinds.join(' ');
    tr.appendChild(c);
    const rv = td(6); tr._rev = rv; reviewCell(rv, r); tr.appendChild(rv);
    const st = td(7, 'status', r.status === 'ok' ? 'ok' : 'failed: ' + (r.error || 'unknown error'));
    if (r.status !== 'ok') { st.appendChild(document.createTextNode(' ')); st.appendChild(ackButton(tr, r)); }
    tr.appendChild(st);
    tr._row = r;
    return tr;
  }
  // the filters run over every row's data; only the first PAGE rows that match are in the
  // table, more on "Show more" (an archive of 10,000 would otherwise cost seconds to lay out)
  const PAGE = 200;
  D.rows.forEach((r, i) => {
    r._i = i;
    r._kinds = D.kinds.map(([k]) => k).filter((k) => r.counts[k] && r.counts[k].count > 0);
    r._band = r.status === 'ok' ? (r.band || '') : 'failed';
    r._text = (r.id + '\n' + (r.candidate || '')).toLowerCase();
  });
  const more = el('button', 'more', ''); more.type = 'button'; more.id = 'more'; more.hidden = true;
  $('#rows').after(more);
  let matched = [], limit = PAGE;
  function trOf(r) { if (!r._tr) { r._tr = makeRow(r, r._i); trs.push(r._tr); } return r._tr; }
  function render() {
    const frag = document.createDocumentFragment();
    for (const r of matched.slice(0, limit)) frag.appendChild(trOf(r));
    tbody.textContent = '';
    tbody.appendChild(frag);
    const left = matched.length - Math.min(limit, matched.length);
    more.hidden = left <= 0;
    more.textContent = 'Show ' + Math.min(PAGE, left) + ' more (' + left + ' not shown)';
  }
  function apply() {
    const text = q.value.trim().toLowerCase();
    matched = D.rows.filter((r) => (!text || r._text.includes(text))
      && (!kindSel.value || r._kinds.includes(kindSel.value))
      && (!bandSel.value || r._band === bandSel.value)
      && (!revSel.value || (revSel.value === 'todo') === Desk.todo(r)));
    limit = PAGE;
    render();
    shown.textContent = matched.length + ' shown' + (matched.length > limit ? ' (first ' + limit + ' listed)' : '');
    $('#empty').hidden = matched.length > 0;
    showNext();
  }
  more.addEventListener('click', () => { limit += PAGE; render(); shown.textContent = matched.length + ' shown' + (matched.length > limit ? ' (first ' + limit + ' listed)' : ''); });
  for (const x of [q, kindSel, bandSel, revSel]) x.addEventListener('input', apply);
  apply();
  document.body.dataset.ready = 'true';
  if (desk) {
    Desk.api('status').then((r) => r.ok ? r.json() : null).then((s) => {
      if (!s) return;
      for (const r of D.rows) { r.reviewed = s[r.id] || 0; if (r._tr) reviewCell(r._tr._rev, r); }
      apply();
    }).catch(() => {});
  }
})();
