'use strict';
(function () {
  const D = JSON.parse(document.getElementById('data').textContent);
  const $ = (s) => document.querySelector(s);
  const video = $('#video');
  const listEl = $('#events');
  const RATES = [0.5, 0.75, 1, 1.25, 1.5, 2, 3, 4];
  const KIND = {};
  D.kinds.forEach((k) => { KIND[k.kind] = k; });
  let dur = D.duration_s || 0;
  for (const e of D.events) if (e.e > dur) dur = e.e;
  if (!(dur > 0)) dur = 1;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmt(t) {
    t = Math.max(0, t || 0);
    const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
    const ss = (s < 10 ? '0' : '') + s.toFixed(1);
    return (h ? h + ':' + (m < 10 ? '0' : '') : '') + m + ':' + ss;
  }
  function color(kind) { return (KIND[kind] && KIND[kind].color) || '#555'; }
  function keyOf(kind, s, e) { return kind + '|' + Math.round(s * 1000) + '|' + Math.round(e * 1000); }

  // --- served by `proctor review`, or read-only from the disk -----------------------------------
  let desk = null;
  try {
    const c = document.querySelector('meta[name="proctor-desk"]').getAttribute('content');
    if (c) desk = JSON.parse(c);
  } catch (err) { desk = null; }
  const decisions = new Map();
  function setDecisions(list) {
    decisions.clear();
    for (const d of list || []) if (d.recording === D.recording) decisions.set(keyOf(d.kind, d.start_s, d.end_s), d);
  }
  setDecisions(D.decisions);

  // --- header -----------------------------------------------------------------------------------
  const head = $('#head');
  head.appendChild(el('h1', '', D.recording));
  if (D.candidate) head.appendChild(el('span', 'meta', 'Candidate: ' + D.candidate));
  const sc = el('span', 'meta');
  sc.appendChild(document.createTextNode('Score ' + Math.round(D.score) + ' '));
  sc.appendChild(el('span', 'band band-' + D.band, D.band + ' risk'));
  head.appendChild(sc);
  head.appendChild(el('span', 'meta', D.events.length + ' events · ' + fmt(dur) + ' · ' + D.file));
  const mode = el('span', 'mode', desk ? 'Reviewing as ' + (desk.reviewer || '?') : 'Read-only: run `proctor review` on this folder to record verdicts');
  head.appendChild(mode);

  // --- video ------------------------------------------------------------------------------------
  const msg = $('#video-msg');
  let videoOk = false;
  let cursorT = 0;
  function videoFailed(why) {
    videoOk = false;
    msg.hidden = false;
    msg.textContent = why + ' Everything else on this page still works: the timeline, the signals, the events and their pictures.';
  }
  const src = desk ? desk.media : D.video_src;
  if (desk && desk.media_note) {
    // served: the server says where it looked, or why the file there is not the recording
    videoFailed(desk.media_note);
  } else if (src) {
    video.addEventListener('error', () => videoFailed('The recording (' + D.file + ') cannot be played here: the browser cannot play its codec, or the file is not where the page expects it (' + (D.video_src || 'unknown') + ').'));
    video.addEventListener('loadedmetadata', () => { videoOk = true; msg.hidden = true; });
    video.src = src;
  } else {
    videoFailed('The recording (' + D.file + ') was not found when this page was written.');
  }
  function now() { return videoOk ? video.currentTime : cursorT; }
  function seek(t, play) {
    t = Math.min(Math.max(0, t), dur);
    cursorT = t;
    if (videoOk || video.readyState > 0) {
      try { video.currentTime = t; } catch (err) { /* not seekable yet */ }
      if (play) { const p = video.play(); if (p && p.catch) p.catch(() => {}); }
    }
    drawCursor();
  }
  function togglePlay() {
    if (video.paused) { const p = video.play(); if (p && p.catch) p.catch(() => {}); } else video.pause();
  }
  function setRate(dir) {
    let i = RATES.indexOf(video.playbackRate);
    if (i < 0) i = RATES.indexOf(1);
    i = Math.min(RATES.length - 1, Math.max(0, i + dir));
    video.playbackRate = RATES[i];
    rateEl.textContent = RATES[i] + 'x';
  }

  // --- controls ---------------------------------------------------------------------------------
  const controls = $('#controls');
  function btn(label, title, fn) {
    const b = el('button', '', label); b.type = 'button'; b.title = title; b.addEventListener('click', fn); controls.appendChild(b); return b;
  }
  btn('◀ Prev', 'Previous event (k or p)', () => step(-1));
  btn('Play / pause', 'Play / pause (space)', togglePlay);
  btn('Next ▶', 'Next event (j or n)', () => step(1));
  btn('−5 s', 'Back 5 s (Shift+←; ← is 2 s)', () => seek(now() - 5));
  btn('+5 s', 'Forward 5 s (Shift+→; → is 2 s)', () => seek(now() + 5));
  btn('Slower', 'Slower ([ or -)', () => setRate(-1));
  const rateEl = el('span', 'meta', '1x'); controls.appendChild(rateEl);
  btn('Faster', 'Faster (] or +)', () => setRate(1));
  const timeEl = el('span', 'meta', ''); controls.appendChild(timeEl);
  btn('?', 'Keyboard shortcuts (?)', () => { help.hidden = !help.hidden; });
  const status = el('span', '', ''); status.id = 'status'; status.setAttribute('role', 'status'); controls.appendChild(status);

  // --- timeline (canvas: one lane per kind) -----------------------------------------------------
  const lanes = D.kinds.filter((k) => k.count > 0).map((k) => k.kind);
  const laneOf = {}; lanes.forEach((k, i) => { laneOf[k] = i; });
  const LANE = 12;
  const canvas = $('#timeline');
  const hidden = new Set();
  function drawTimeline() {
    const w = canvas.clientWidth || 600, h = Math.max(1, lanes.length) * LANE + 4;
    const r = window.devicePixelRatio || 1;
    canvas.style.height = h + 'px';
    canvas.width = Math.round(w * r); canvas.height = Math.round(h * r);
    const g = canvas.getContext('2d');
    g.setTransform(r, 0, 0, r, 0, 0);
    g.clearRect(0, 0, w, h);
    g.fillStyle = '#f4f4f6';
    for (let i = 0; i < lanes.length; i += 2) g.fillRect(0, 2 + i * LANE, w, LANE);
    for (const e of D.events) {
      if (hidden.has(e.k)) continue;
      const x0 = e.s / dur * w, x1 = e.e / dur * w;
      g.fillStyle = color(e.k);
      g.fillRect(x0, 3 + laneOf[e.k] * LANE, Math.max(2, x1 - x0), LANE - 2);
    }
    if (sel >= 0) {
      const e = D.events[sel];
      g.strokeStyle = '#000'; g.lineWidth = 1.5;
      g.strokeRect(e.s / dur * w - 1, 2 + laneOf[e.k] * LANE, Math.max(2, (e.e - e.s) / dur * w) + 2, LANE);
    }
  }
  // axis ticks
  function drawAxis() {
    const axis = $('#axis'); axis.textContent = '';
    const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
    const stepS = steps.find((s) => dur / s <= 10) || 7200;
    for (let t = 0; t <= dur * 0.97; t += stepS) {
      const s = el('span', '', fmt(t).replace(/\.0$/, ''));
      s.style.left = (t / dur * 100) + '%';
      axis.appendChild(s);
    }
  }

  // --- signals (SVG, one per signal, same time axis) --------------------------------------------
  function drawSignals() {
    const box = $('#signals');
    const NS = 'http://www.w3.org/2000/svg';
    for (const s of D.signals) {
      const div = el('div', 'sig');
      const svg = document.createElementNS(NS, 'svg');
      svg.setAttribute('viewBox', '0 0 1000 100');
      svg.setAttribute('preserveAspectRatio', 'none');
      const span = (s.max - s.min) || 1;
      const y = (v) => (100 - (v - s.min) / span * 96 - 2).toFixed(1);
      for (const m of s.marks) {
        const l = document.createElementNS(NS, 'line');
        l.setAttribute('x1', '0'); l.setAttribute('x2', '1000'); l.setAttribute('y1', y(m)); l.setAttribute('y2', y(m));
        l.setAttribute('stroke', '#d33'); l.setAttribute('stroke-dasharray', '6 4'); l.setAttribute('vector-effect', 'non-scaling-stroke');
        svg.appendChild(l);
      }
      let d = '', pen = false;
      for (const p of s.points) {
        if (p[1] === null || p[1] === undefined) { pen = false; continue; }
        d += (pen ? 'L' : 'M') + (p[0] / dur * 1000).toFixed(1) + ' ' + y(p[1]);
        pen = true;
      }
      const path = document.createElementNS(NS, 'path');
      path.setAttribute('d', d || 'M0 100'); path.setAttribute('fill', 'none'); path.setAttribute('stroke', '#1f4e99');
      path.setAttribute('stroke-width', '1.2'); path.setAttribute('vector-effect', 'non-scaling-stroke');
      svg.appendChild(path);
      div.appendChild(svg);
      const name = el('span', 'name', s.name + (s.marks.length ? ' (threshold ' + s.marks.map((m) => +m.toFixed(3)).join(', ') + ')' : ''));
      div.appendChild(name);
      box.appendChild(div);
    }
  }
  const tracks = $('#tracks');
  const cursor = $('#cursor');
  function drawCursor() {
    const t = now();
    cursor.style.left = (Math.min(1, t / dur) * 100) + '%';
    timeEl.textContent = fmt(t) + ' / ' + fmt(dur);
  }
  tracks.addEventListener('click', (ev) => {
    const r = tracks.getBoundingClientRect();
    const t = (ev.clientX - r.left) / r.width * dur;
    // a click on a span selects that event
    const cr = canvas.getBoundingClientRect();
    if (ev.clientY >= cr.top && ev.clientY <= cr.bottom) {
      const lane = Math.floor((ev.clientY - cr.top - 2) / LANE);
      const slack = dur / r.width * 3;
      for (let i = 0; i < D.events.length; i++) {
        const e = D.events[i];
        if (laneOf[e.k] === lane && !hidden.has(e.k) && e.s - slack <= t && t <= e.e + slack) { select(i, true); return; }
      }
    }
    seek(t);
  });

  // --- legend: colours, and filters by kind -----------------------------------------------------
  const legend = $('#legend');
  for (const k of D.kinds) {
    const b = el('button', 'chip'); b.type = 'button';
    b.setAttribute('aria-pressed', 'true');
    b.title = k.rule;
    const sw = el('span', 'sw'); sw.style.background = k.color; b.appendChild(sw);
    b.appendChild(document.createTextNode(k.kind + ' ' + k.count));
    b.addEventListener('click', () => {
      if (hidden.has(k.kind)) hidden.delete(k.kind); else hidden.add(k.kind);
      b.setAttribute('aria-pressed', hidden.has(k.kind) ? 'false' : 'true');
      for (const li of rows) li.hidden = hidden.has(li.dataset.kind);
      drawTimeline(); updateCount();
    });
    legend.appendChild(b);
  }
  for (const k of D.not_checked) legend.appendChild(el('span', 'chip', k + ': not checked'));
  for (const w of D.warnings) legend.appendChild(el('span', 'chip warn', '⚠ ' + w));

  // --- event list -------------------------------------------------------------------------------
  const rows = [];
  const listhead = $('#listhead');
  const countEl = el('span', '', ''); listhead.appendChild(countEl);
  listhead.appendChild(el('span', 'keys', 'j/k next · c/x verdict · ? keys'));
  function updateCount() {
    let shown = 0, done = 0;
    for (const e of D.events) if (!hidden.has(e.k)) { shown++; if (verdictOf(e)) done++; }
    countEl.textContent = shown + ' events, ' + done + ' reviewed' + (built < D.events.length ? ' (listing…)' : '');
  }
  function verdictOf(e) { return decisions.get(keyOf(e.k, e.s, e.e)); }
  function paintVerdict(li, e) {
    if (!li) return;
    const d = verdictOf(e);
    if (d) li.dataset.verdict = d.verdict; else if (li.dataset.verdict) delete li.dataset.verdict;
    if (!d && !li._painted) return;
    li._painted = !!d;
    for (const b of li._buttons) b.classList.toggle('on', !!d && d.verdict === b.dataset.verdict);
    li._state.className = 'vstate' + (d ? ' ' + d.verdict : '');
    li._state.textContent = d ? d.verdict + (d.reviewer ? ' by ' + d.reviewer : '') : '';
  }
  function makeRow(i) {
    const e = D.events[i];
    const li = el('li', 'ev');
    li.tabIndex = -1;
    li.dataset.i = String(i);
    li.dataset.kind = e.k;
    li.dataset.start = String(e.s);
    li.dataset.end = String(e.e);
    li.style.borderLeftColor = color(e.k);
    if (hidden.has(e.k)) li.hidden = true;
    if (e.p >= 0) {
      const img = el('img'); img.src = D.pics[e.p]; img.alt = e.k + ' at ' + fmt(e.t); img.loading = 'lazy'; img.decoding = 'async';
      li.appendChild(img);
    } else li.appendChild(el('div', 'noimg', 'no picture'));
    const body = el('div', 'body');
    const top = el('div', 'top');
    const kind = el('span', 'kind', e.k); kind.style.color = color(e.k); top.appendChild(kind);
    top.appendChild(document.createTextNode(' ' + fmt(e.s) + '–' + fmt(e.e) + ' (' + (e.e - e.s).toFixed(1) + ' s) · confidence ' + e.c.toFixed(2)));
    body.appendChild(top);
    body.appendChild(el('div', 'detail', e.d || ''));
    body.appendChild(el('div', 'rule', 'Rule: ' + (KIND[e.k] ? KIND[e.k].rule : '')));
    const v = el('div', 'verdicts');
    li._buttons = [];
    for (const [verdict, label] of VERDICTS) {
      const b = el('button', '', label); b.type = 'button'; b.dataset.verdict = verdict;
      b.disabled = !desk; b.title = desk ? label + ' this event (' + (verdict === 'confirmed' ? 'c' : 'x') + ')' : 'Read-only: open this page through `proctor review`';
      v.appendChild(b);
      li._buttons.push(b);
    }
    li._state = el('span', 'vstate', '');
    v.appendChild(li._state);
    body.appendChild(v);
    li.appendChild(body);
    paintVerdict(li, e);
    return li;
  }
  const VERDICTS = [['confirmed', 'Confirm'], ['dismissed', 'Dismiss']];
  // rows are built in slices, so that a page of thousands of events answers at once;
  // an event asked for before its slice is built is built on the spot
  let built = 0;
  function buildUpTo(n) {
    n = Math.min(n, D.events.length);
    if (n <= built) return;
    const frag = document.createDocumentFragment();
    for (let i = built; i < n; i++) { const li = makeRow(i); rows.push(li); frag.appendChild(li); }
    built = n;
    listEl.appendChild(frag);
  }
  function buildRest() {
    buildUpTo(built + 400);
    updateCount();
    if (built < D.events.length) setTimeout(buildRest, 0);
    else { ready = true; document.body.dataset.ready = 'true'; }
  }
  let ready = false;
  buildUpTo(200);
  if (!D.events.length) listEl.appendChild(el('li', 'empty', 'No events: nothing was flagged in this recording.'));
  listEl.addEventListener('click', (ev) => {
    const li = ev.target.closest('li.ev');
    if (!li || li.dataset.i === undefined) return;
    const i = +li.dataset.i;
    const b = ev.target.closest('button[data-verdict]');
    if (b) { if (sel !== i) select(i, false); give(i, b.dataset.verdict); return; }
    select(i, true);
  });
  listEl.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && ev.target.matches('li.ev')) { select(+ev.target.dataset.i, true); ev.preventDefault(); }
  });

  // --- the selected event -----------------------------------------------------------------------
  let sel = -1;
  const cur = $('#current');
  function showCurrent() {
    cur.textContent = '';
    if (sel < 0) { cur.appendChild(el('p', 'meta', 'Select an event (click it, or press j) to watch it and give a verdict.')); return; }
    const e = D.events[sel];
    if (e.p >= 0) { const img = el('img'); img.src = D.pics[e.p]; img.alt = 'evidence at ' + fmt(e.t); cur.appendChild(img); }
    const h = el('h2', '', ''); h.style.fontSize = '1.05em'; h.style.margin = '0 0 .3em';
    const k = el('span', '', e.k); k.style.color = color(e.k); h.appendChild(k);
    h.appendChild(document.createTextNode(' · ' + fmt(e.s) + '–' + fmt(e.e) + ' · confidence ' + e.c.toFixed(2)));
    cur.appendChild(h);
    cur.appendChild(el('div', '', e.d || ''));
    if (e.f) {
      // the candidate's face and the other face, side by side
      const faces = el('div', 'faces');
      for (const [p, label] of [[e.f.a, e.f.al], [e.f.b, e.f.bl]]) {
        if (p < 0) continue;
        const fig = el('figure'); const img = el('img'); img.src = D.pics[p]; img.alt = label;
        fig.appendChild(img); fig.appendChild(el('figcaption', '', label)); faces.appendChild(fig);
      }
      cur.appendChild(faces);
    }
    cur.appendChild(el('div', 'rule', 'Raised because: ' + (KIND[e.k] ? KIND[e.k].rule : '')));
    cur.appendChild(el('div', 'rule', 'Evidence frame at ' + fmt(e.t) + ' · event ' + (sel + 1) + ' of ' + D.events.length));
    const d = verdictOf(e);
    const note = el('textarea'); note.id = 'note'; note.placeholder = desk ? 'Note (optional), saved with the verdict' : 'Notes are taken through `proctor review`';
    note.disabled = !desk; note.value = d ? d.note || '' : '';
    note.setAttribute('aria-label', 'Note');
    cur.appendChild(note);
    const v = el('div', 'verdicts');
    for (const [verdict, label] of [['confirmed', 'Confirm (c)'], ['dismissed', 'Dismiss (x)']]) {
      const b = el('button', d && d.verdict === verdict ? 'on' : '', label); b.type = 'button'; b.dataset.verdict = verdict; b.disabled = !desk;
      b.addEventListener('click', () => give(sel, verdict));
      v.appendChild(b);
    }
    if (d) v.appendChild(el('span', 'vstate ' + d.verdict, d.verdict + (d.reviewer ? ' by ' + d.reviewer : '') + (d.decided_at ? ' at ' + d.decided_at : '')));
    cur.appendChild(v);
    cur.appendChild(el('div', '', ''));
  }
  function select(i, play) {
    if (i < 0 || i >= D.events.length) return;
    buildUpTo(i + 1);
    if (sel >= 0) rows[sel].classList.remove('current');
    sel = i;
    const li = rows[i];
    li.classList.add('current');
    li.scrollIntoView({ block: 'nearest' });
    li.focus({ preventScroll: true });
    showCurrent();
    drawTimeline();
    seek(D.events[i].s - 2, play);
  }
  function step(dir) {
    let i = sel;
    for (;;) {
      i += dir;
      if (i < 0 || i >= D.events.length) return;
      if (!hidden.has(D.events[i].k)) { select(i, true); return; }
    }
  }

  // --- verdicts ---------------------------------------------------------------------------------
  async function give(i, verdict) {
    if (!desk || i < 0) return;
    const e = D.events[i];
    const noteEl = document.getElementById('note');
    const body = { recording: D.recording, kind: e.k, start_s: e.s, end_s: e.e, verdict: verdict, note: i === sel && noteEl ? noteEl.value : '' };
    status.textContent = 'Saving…';
    try {
      const r = await fetch(desk.api + 'decisions', {
        method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Proctor-Token': desk.token }, body: JSON.stringify(body),
      });
      if (!r.ok) { status.textContent = 'Not saved: ' + (await r.text()); return; }
      const saved = await r.json();
      decisions.set(keyOf(saved.kind, saved.start_s, saved.end_s), saved);
      paintVerdict(rows[i], e);
      if (i === sel) showCurrent();
      updateCount();
      status.textContent = 'Saved: ' + verdict + ' (' + e.k + ' at ' + fmt(e.s) + ')';
    } catch (err) {
      status.textContent = 'Not saved: the server did not answer.';
    }
  }
  async function refresh() {
    if (!desk) return;
    try {
      const r = await fetch(desk.api + 'decisions?recording=' + encodeURIComponent(D.recording), { headers: { 'X-Proctor-Token': desk.token } });
      if (!r.ok) return;
      setDecisions(await r.json());
      D.events.forEach((e, i) => paintVerdict(rows[i], e));
      showCurrent(); updateCount();
    } catch (err) { /* keep the embedded verdicts */ }
  }

  // --- keyboard ---------------------------------------------------------------------------------
  const help = $('#help');
  const keys = [['j / n / ↓', 'next event'], ['k / p / ↑', 'previous event'], ['space', 'play / pause'], ['← / →', 'back / forward 2 s'],
    ['Shift + ← / →', 'back / forward 5 s'], ['[ or - / ] or +', 'slower / faster (0.5x to 4x)'], ['c / x', 'confirm / dismiss the selected event'],
    ['Enter', 'play the focused event'], ['?', 'this help']];
  help.appendChild(el('strong', '', 'Keyboard'));
  const dl = el('div', 'keys');
  for (const [k, what] of keys) { const p = el('div'); p.appendChild(el('kbd', '', k)); p.appendChild(document.createTextNode(' ' + what)); dl.appendChild(p); }
  help.appendChild(dl);
  document.addEventListener('keydown', (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t && (t.tagName === 'TEXTAREA' || t.tagName === 'INPUT' || t.tagName === 'SELECT')) { if (ev.key === 'Escape') t.blur(); return; }
    let done = true;
    switch (ev.key) {
      case 'j': case 'n': case 'ArrowDown': step(1); break;
      case 'k': case 'p': case 'ArrowUp': step(-1); break;
      case ' ': case 'Spacebar': togglePlay(); break;
      case 'ArrowLeft': seek(now() - (ev.shiftKey ? 5 : 2)); break;
      case 'ArrowRight': seek(now() + (ev.shiftKey ? 5 : 2)); break;
      case '[': case '-': case '<': setRate(-1); break;
      case ']': case '+': case '=': case '>': setRate(1); break;
      case 'c': give(sel, 'confirmed'); break;
      case 'x': give(sel, 'dismissed'); break;
      case '?': help.hidden = !help.hidden; break;
      case 'Escape': help.hidden = true; break;
      default: done = false;
    }
    if (done) ev.preventDefault();
  });

  // --- go ---------------------------------------------------------------------------------------
  function tick() { drawCursor(); if (!video.paused) requestAnimationFrame(tick); }
  video.addEventListener('play', () => requestAnimationFrame(tick));
  video.addEventListener('timeupdate', drawCursor);
  video.addEventListener('seeked', drawCursor);
  window.addEventListener('resize', drawTimeline);
  drawAxis(); drawSignals(); drawTimeline(); drawCursor(); showCurrent(); updateCount();
  setTimeout(buildRest, 0);
  refresh();
  // for scripts and tests: the page's state
  window.proctorReview = { events: D.events, selected: () => sel, select: select, decisions: () => Array.from(decisions.values()), served: !!desk, ready: () => ready };
})();
