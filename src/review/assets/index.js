'use strict';
(function () {
  const D = JSON.parse(document.getElementById('data').textContent);
  const $ = (s) => document.querySelector(s);
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  let desk = null;
  try { const c = document.querySelector('meta[name="proctor-desk"]').getAttribute('content'); if (c) desk = JSON.parse(c); } catch (err) { desk = null; }
  const COLOR = {}; for (const [k, c] of D.kinds) COLOR[k] = c;
  const head = $('#head');
  head.appendChild(el('h1', '', 'Review queue'));
  head.appendChild(el('span', 'meta', D.title));
  const ok = D.rows.filter((r) => r.status === 'ok').length;
  head.appendChild(el('span', 'meta', D.rows.length + ' recordings, ' + (D.rows.length - ok) + ' failed'));
  head.appendChild(el('span', 'mode', desk ? 'Reviewing as ' + (desk.reviewer || '?') : 'Read-only: run `proctor review` on this folder to record verdicts'));

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
  const shown = el('span', 'meta', '');
  for (const x of [q, kindSel, bandSel, revSel, shown]) f.appendChild(x);

  const thead = $('#rows thead');
  const hr = el('tr');
  for (const h of ['#', 'Recording', 'Candidate', 'Score', 'Band', 'Events by kind', 'Reviewed', 'Status']) hr.appendChild(el('th', '', h));
  thead.appendChild(hr);
  const tbody = $('#rows tbody');
  const trs = [];
  function reviewCell(td, r) {
    td.textContent = '';
    if (r.status !== 'ok') return;
    const n = r.events || 0;
    const cls = n === 0 || r.reviewed >= n ? 'rev-done' : r.reviewed > 0 ? 'rev-part' : 'rev-none';
    td.appendChild(el('span', cls, n === 0 ? 'nothing to review' : r.reviewed + ' / ' + n));
  }
  D.rows.forEach((r, i) => {
    const tr = el('tr', r.status === 'ok' ? '' : 'failed');
    tr.dataset.id = r.id;
    tr.dataset.band = r.status === 'ok' ? (r.band || '') : 'failed';
    tr.appendChild(el('td', 'num', i + 1));
    const td = el('td');
    if (r.link) {
      const a = el('a', '', r.id);
      a.href = r.link + (desk && desk.query ? desk.query : '');
      td.appendChild(a);
    } else td.textContent = r.id;
    tr.appendChild(td);
    tr.appendChild(el('td', '', r.candidate || ''));
    tr.appendChild(el('td', 'num', r.score === null || r.score === undefined ? '' : Math.round(r.score)));
    const b = el('td'); if (r.band) b.appendChild(el('span', 'band band-' + r.band, r.band)); tr.appendChild(b);
    const c = el('td', 'counts');
    const kinds = [];
    for (const [k] of D.kinds) {
      const v = r.counts[k];
      if (v && v.count > 0) { const s = el('span', '', k + ' ' + v.count); s.style.background = COLOR[k]; c.appendChild(s); kinds.push(k); }
    }
    tr.dataset.kinds = kinds.join(' ');
    tr.appendChild(c);
    const rv = el('td'); reviewCell(rv, r); tr.appendChild(rv);
    tr.appendChild(el('td', '', r.status === 'ok' ? 'ok' : 'failed: ' + (r.error || 'unknown error')));
    tr._row = r; tr._rev = rv;
    trs.push(tr);
    tbody.appendChild(tr);
  });
  function apply() {
    const text = q.value.trim().toLowerCase();
    let n = 0;
    for (const tr of trs) {
      const r = tr._row;
      const done = r.status === 'ok' && (r.events || 0) <= r.reviewed;
      const show = (!text || r.id.toLowerCase().includes(text) || (r.candidate || '').toLowerCase().includes(text))
        && (!kindSel.value || tr.dataset.kinds.split(' ').includes(kindSel.value))
        && (!bandSel.value || tr.dataset.band === bandSel.value)
        && (!revSel.value || (revSel.value === 'done') === done);
      tr.hidden = !show;
      if (show) n++;
    }
    shown.textContent = n + ' shown';
    $('#empty').hidden = n > 0;
  }
  for (const x of [q, kindSel, bandSel, revSel]) x.addEventListener('input', apply);
  apply();
  if (desk) {
    fetch(desk.api + 'status', { headers: { 'X-Proctor-Token': desk.token } }).then((r) => r.ok ? r.json() : null).then((s) => {
      if (!s) return;
      for (const tr of trs) { tr._row.reviewed = s[tr._row.id] || 0; reviewCell(tr._rev, tr._row); }
      apply();
    }).catch(() => {});
  }
})();
