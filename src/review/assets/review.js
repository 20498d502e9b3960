'use strict';
(function () {
  const D = JSON.parse(document.getElementById('data').textContent);
  const $ = (s) => document.querySelector(s);
  const { el, plural, desk, store } = Desk;
  const video = $('#video');
  const listEl = $('#events');
  const RATES = [0.5, 0.75, 1, 1.25, 1.5, 2, 3, 4];
  const KIND = {};
  D.kinds.forEach((k) => { KIND[k.kind] = k; });
  let dur = D.duration_s || 0;
  for (const e of D.events) if (e.e > dur) dur = e.e;
  if (!(dur > 0)) dur = 1;

  function fmt(t) {
    t = Math.max(0, t || 0);
    const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
    const ss = (s < 10 ? '0' : '') + s.toFixed(1);
    return (h ? h + ':' + (m < 10 ? '0' : '') : '') + m + ':' + ss;
  }
  function color(kind) { return (KIND[kind] && KIND[kind].color) || '#555'; }
  function keyOf(kind, s, e) { return kind + '|' + Math.round(s * 1000) + '|' + Math.round(e * 1000); }

  // --- verdicts known: embedded when the page was written, then the server's ----------------------
  // by event, each reviewer's latest verdict (two reviewers may differ: the event is disputed)
  const decisions = new Map();
  function keep(d) {
    const k = keyOf(d.kind, d.start_s, d.end_s);
    const list = (decisions.get(k) || []).filter((x) => x.reviewer !== d.reviewer);
    if (d.verdict === 'confirmed' || d.verdict === 'dismissed') list.push(d);
    if (list.length) decisions.set(k, list); else decisions.delete(k);
  }
  function setDecisions(list) {
    decisions.clear();
    for (const d of list || []) if (d.recording === D.recording) keep(d);
  }
  setDecisions(D.decisions);
  function verdictsOf(e) { return decisions.get(keyOf(e.k, e.s, e.e)) || []; }
  // the verdict shown: this reviewer's, else the latest given
  function verdictOf(e) {
    const all = verdictsOf(e);
    if (!all.length) return undefined;
    const me = Desk.reviewer();
    return all.find((d) => d.reviewer === me) || all.reduce((a, b) => ((b.decided_at || '') > (a.decided_at || '') ? b : a));
  }
  function disputed(e) { return new Set(verdictsOf(e).map((d) => d.verdict)).size > 1; }
  function verdictText(d, withTime) {
    return d.verdict + (d.reviewer ? ' by ' + d.reviewer : '') + (withTime && d.decided_at ? ', ' + Desk.localTime(d.decided_at) : '');
  }
  // every reviewer's verdict: "confirmed by Ada · dismissed by Bob"
  function verdictsText(e, withTime) { return verdictsOf(e).map((d) => verdictText(d, withTime)).join(' · '); }

  // --- header: the way back to the queue, the recording, its report -------------------------------
  const head = $('#head');
  const queueHref = desk ? Desk.served('') : D.index;
  if (queueHref) { const a = el('a', 'back', '← Queue'); a.id = 'queue-link'; a.href = queueHref; a.title = 'Back to the review queue'; head.appendChild(a); }
  head.appendChild(el('h1', '', D.recording));
  if (D.candidate) head.appendChild(el('span', 'meta', 'Candidate: ' + D.candidate));
  const sc = el('span', 'meta');
  sc.appendChild(document.createTextNode('Score ' + Math.round(D.score) + ' '));
  sc.appendChild(el('span', 'band band-' + D.band, D.band + ' risk'));
  head.appendChild(sc);
  head.appendChild(el('span', 'meta', plural(D.events.length, 'event') + ' · ' + fmt(dur) + ' · ' + D.file));
  if (D.report) { const a = el('a', '', 'PDF report'); a.id = 'report-link'; a.href = D.report + (desk && desk.query ? desk.query : ''); head.appendChild(a); }
  head.appendChild(Desk.reviewerBox());

  // --- video --------------------------------------------------------------------------------------
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
    if (video.paused) {
      // playing the flagged span only: start it again from its beginning once it has played
      if (spanOnly && sel >= 0) { const e = D.events[sel]; if (now() >= e.e - 0.05 || now() < e.s - 0.5) seek(e.s); }
      const p = video.play(); if (p && p.catch) p.catch(() => {});
    } else video.pause();
  }
  function setRate(dir) {
    let i = RATES.indexOf(video.playbackRate);
    if (i < 0) i = RATES.indexOf(1);
    i = Math.min(RATES.length - 1, Math.max(0, i + dir));
    video.playbackRate = RATES[i];
    rateEl.textContent = RATES[i] + 'x';
  }
  // "flagged span only": an event plays from its start and stops at its end
  let spanOnly = store.get('proctor-span-only') === '1';
  function setSpanOnly(on) {
    spanOnly = on;
    store.set('proctor-span-only', on ? '1' : '0');
    spanBtn.setAttribute('aria-pressed', on ? 'true' : 'false');
  }
  function holdSpan() {
    if (!spanOnly || sel < 0 || video.paused) return;
    const e = D.events[sel];
    if (video.currentTime >= e.e) { video.pause(); try { video.currentTime = e.e; } catch (err) { /* keep */ } }
  }

  // --- controls -----------------------------------------------------------------------------------
  const controls = $('#controls');
  function btn(label, title, fn) {
    const b = el('button', '', label); b.type = 'button'; b.title = title; b.addEventListener('click', fn); controls.appendChild(b); return b;
  }
  btn('◀ Prev', 'Previous event (k or p)', () => step(-1));
  btn('Play / pause', 'Play / pause (space)', togglePlay);
  btn('Next ▶', 'Next event (j)', () => step(1));
  btn('−5 s', 'Back 5 s (Shift+←; ← is 2 s)', () => seek(now() - 5));
  btn('+5 s', 'Forward 5 s (Shift+→; → is 2 s)', () => seek(now() + 5));
  btn('Slower', 'Slower ([ or -)', () => setRate(-1));
  const rateEl = el('span', 'meta', '1x'); controls.appendChild(rateEl);
  btn('Faster', 'Faster (] or +)', () => setRate(1));
  const spanBtn = btn('Flagged span only', 'Play only the selected event\'s span, from its start to its end (f)', () => setSpanOnly(!spanOnly));
  spanBtn.id = 'span-only';
  setSpanOnly(spanOnly);
  const timeEl = el('span', 'meta time', ''); controls.appendChild(timeEl);
  btn('Next recording', 'The next recording in the queue with events left to review (n)', () => nextRecording());
  if (desk) btn('Mark missed…', 'Mark a span from the current time as an event proctor missed (m)', () => missed.open(now())).id = 'mark-missed';
  btn('?', 'Keyboard shortcuts (?)', () => { help.hidden = !help.hidden; });
  const status = el('span', '', ''); status.id = 'status'; status.setAttribute('role', 'status'); controls.appendChild(status);

  // --- timeline -----------------------------------------------------------------------------------
  const hidden = new Set();
  const tracks = $('#tracks');
  const timeline = Timeline.make({
    events: D.events, lanes: D.kinds.filter((k) => k.count > 0).map((k) => k.kind), color, dur, fmt, signals: D.signals,
    marks: desk ? () => missed.marks() : null,
    tracks, axis: $('#axis'), canvas: $('#timeline'), lanesBox: $('#lanes'), signalsBox: $('#signals'), cursor: $('#cursor'),
  });
  function drawTimeline() { timeline.draw(sel, hidden); }
  function drawCursor() {
    const t = now();
    timeline.cursor(t);
    timeEl.textContent = fmt(t) + ' / ' + fmt(dur);
  }
  tracks.addEventListener('click', (ev) => {
    // a click on a span selects that event, anywhere else seeks there
    const i = timeline.eventAt(ev.clientX, ev.clientY, hidden);
    if (i >= 0) select(i, true); else seek(timeline.timeAt(ev.clientX));
  });

  // --- legend: colours, and filters by kind (kinds with events only) ------------------------------
  const legend = $('#legend');
  for (const k of D.kinds) {
    if (!(k.count > 0)) continue;
    const b = el('button', 'chip'); b.type = 'button';
    b.setAttribute('aria-pressed', 'true');
    b.title = k.rule;
    const sw = el('span', 'sw'); sw.style.background = k.color; sw.setAttribute('aria-hidden', 'true'); b.appendChild(sw);
    b.appendChild(document.createTextNode(k.kind + ' ' + k.count));
    b.addEventListener('click', () => {
      if (hidden.has(k.kind)) hidden.delete(k.kind); else hidden.add(k.kind);
      b.setAttribute('aria-pressed', hidden.has(k.kind) ? 'false' : 'true');
      for (const li of rows) li.hidden = hidden.has(li.dataset.kind);
      drawTimeline(); updateCount();
    });
    legend.appendChild(b);
  }
  // what was not checked, and the analysis's warnings, under the timeline
  const notes = el('div', ''); notes.id = 'notes';
  for (const k of D.not_checked) notes.appendChild(el('span', 'chip', k + ': not checked'));
  for (const w of D.warnings) notes.appendChild(el('span', 'chip warn', '⚠ ' + w));
  tracks.after(notes);
  // spans marked as missed: a form under the controls (m), the list under the notes
  const missed = Missed.make({
    recording: D.recording, kinds: D.kinds, dur, fmt, now, seek, say: (t) => { status.textContent = t; }, redraw: () => drawTimeline(),
    formAfter: controls, listAfter: notes,
  });

  // --- event list ---------------------------------------------------------------------------------
  const rows = [];
  const listhead = $('#listhead');
  const countEl = el('span', '', ''); listhead.appendChild(countEl);
  listhead.appendChild(el('span', 'keys', 'j/k next · c/x verdict · n next recording · ? keys'));
  function updateCount() {
    let shown = 0, done = 0;
    for (const e of D.events) if (!hidden.has(e.k)) { shown++; if (verdictOf(e)) done++; }
    countEl.textContent = plural(shown, 'event') + ', ' + done + ' reviewed' + (built < D.events.length ? ' (listing…)' : '');
  }
  function paintVerdict(li, e) {
    if (!li) return;
    const d = verdictOf(e);
    if (d) li.dataset.verdict = d.verdict; else if (li.dataset.verdict) delete li.dataset.verdict;
    if (!d && !li._painted) return;
    li._painted = !!d;
    const split = disputed(e);
    if (split) li.dataset.disputed = 'true'; else if (li.dataset.disputed) delete li.dataset.disputed;
    for (const b of li._buttons) b.classList.toggle('on', !!d && d.verdict === b.dataset.verdict);
    li._state.className = 'vstate' + (split ? ' disputed' : d ? ' ' + d.verdict : '');
    li._state.textContent = split ? 'disputed: ' + verdictsText(e, false) : d ? verdictText(d, false) : '';
  }
  const VERDICTS = [['confirmed', 'Confirm'], ['dismissed', 'Dismiss']];
  function makeRow(i) {
    const e = D.events[i];
    const li = el('li', 'ev');
    li.tabIndex = 0;
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
    const kind = Desk.kindLabel(e.k, color(e.k)); kind.classList.add('kind'); top.appendChild(kind);
    top.appendChild(el('span', 'when', fmt(e.s) + '–' + fmt(e.e) + ' (' + (e.e - e.s).toFixed(1) + ' s) · confidence ' + e.c.toFixed(2)));
    body.appendChild(top);
    body.appendChild(el('div', 'detail', e.d || ''));
    body.appendChild(el('div', 'rule', 'Rule: ' + (KIND[e.k] ? KIND[e.k].rule : '')));
    const v = el('div', 'verdicts');
    li._buttons = [];
    for (const [verdict, label] of VERDICTS) {
      const b = el('button', '', label); b.type = 'button'; b.dataset.verdict = verdict;
      b.disabled = !desk; b.title = desk ? label + ' this event (' + (verdict === 'confirmed' ? 'c' : 'x') + ')' : 'Read-only: open this page through `proctor review`';
      b.setAttribute('aria-label', label + ' ' + e.k + ' at ' + fmt(e.s));
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

  // --- the selected event -------------------------------------------------------------------------
  let sel = -1;
  let offer = false;
  const cur = $('#current');
  // a note typed and not yet saved with a verdict is kept in the browser, by recording and event
  function draftKey(e) { return 'proctor-note|' + D.recording + '|' + keyOf(e.k, e.s, e.e); }
  function showCurrent() {
    cur.textContent = '';
    if (offer) cur.appendChild(endOffer());
    if (sel < 0) { cur.appendChild(el('p', 'meta', 'Select an event (click it, or press j) to watch it and give a verdict.')); return; }
    const e = D.events[sel];
    if (e.p >= 0) { const img = el('img', 'evidence'); img.src = D.pics[e.p]; img.alt = 'evidence at ' + fmt(e.t); cur.appendChild(img); }
    const h = el('h2', '', '');
    h.appendChild(Desk.kindLabel(e.k, color(e.k)));
    h.appendChild(document.createTextNode(' · ' + fmt(e.s) + '–' + fmt(e.e) + ' · confidence ' + e.c.toFixed(2)));
    cur.appendChild(h);
    const d = verdictOf(e);
    const v = el('div', 'verdicts');
    for (const [verdict, label] of [['confirmed', 'Confirm (c)'], ['dismissed', 'Dismiss (x)']]) {
      const b = el('button', d && d.verdict === verdict ? 'on' : '', label); b.type = 'button'; b.dataset.verdict = verdict; b.disabled = !desk;
      b.addEventListener('click', () => give(sel, verdict));
      v.appendChild(b);
    }
    const mine = verdictsOf(e).find((x) => x.reviewer === Desk.reviewer());
    if (mine) {
      const u = el('button', 'undo', 'Undo my verdict (u)'); u.type = 'button'; u.id = 'undo';
      u.title = 'Take back your verdict: the event is unreviewed again (u)';
      u.addEventListener('click', () => give(sel, 'cleared'));
      v.appendChild(u);
    }
    if (d) {
      const split = disputed(e);
      v.appendChild(el('span', 'vstate ' + (split ? 'disputed' : d.verdict), (split ? 'Reviewers disagree: ' : '') + verdictsText(e, true)));
    }
    cur.appendChild(v);
    const note = el('textarea'); note.id = 'note'; note.placeholder = desk ? 'Note (optional), saved with the verdict' : 'Notes are taken through `proctor review`';
    note.disabled = !desk;
    const draft = desk ? store.get(draftKey(e)) : null;
    note.value = draft !== null ? draft : d ? d.note || '' : '';
    note.setAttribute('aria-label', 'Note');
    const noteState = el('div', 'rule', draft !== null ? 'Note not saved yet: kept in this browser until you give a verdict.' : '');
    noteState.id = 'note-state';
    note.addEventListener('input', () => {
      store.set(draftKey(e), note.value);
      noteState.textContent = 'Note not saved yet: kept in this browser until you give a verdict.';
    });
    cur.appendChild(note);
    cur.appendChild(noteState);
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
  }
  function select(i, play) {
    if (i < 0 || i >= D.events.length) return;
    buildUpTo(i + 1);
    if (sel >= 0) rows[sel].classList.remove('current');
    sel = i;
    offer = false;
    const li = rows[i];
    li.classList.add('current');
    li.scrollIntoView({ block: 'nearest' });
    li.focus({ preventScroll: true });
    showCurrent();
    drawTimeline();
    const e = D.events[i];
    seek(spanOnly ? e.s : e.s - 2, play);
  }
  function step(dir) {
    let i = sel;
    for (;;) {
      i += dir;
      if (i < 0) return;
      if (i >= D.events.length) { if (dir > 0) offerNext(); return; }
      if (!hidden.has(D.events[i].k)) { select(i, true); return; }
    }
  }

  // --- on to the next recording -------------------------------------------------------------------
  let nextRow;  // undefined: not asked yet; null: none left
  async function findNext() {
    if (!desk) return null;
    try {
      const r = await Desk.api('queue');
      if (!r.ok) return null;
      nextRow = Desk.nextTodo(await r.json(), D.recording);
    } catch (err) { nextRow = null; }
    return nextRow;
  }
  function nextHref(r) { return Desk.served(r.link); }
  async function nextRecording() {
    if (!desk) {
      if (D.index) { window.location.href = D.index; return; }
      status.textContent = 'Moving on needs the queue: open this folder with `proctor review`.';
      return;
    }
    const r = await findNext();
    if (r) window.location.href = nextHref(r);
    else status.textContent = 'No other recording has events left to review.';
  }
  // after the last event: what is next, as a link (focused, so Enter follows it)
  function endOffer() {
    const box = el('div', 'endbox'); box.id = 'endbox';
    box.appendChild(el('strong', '', 'That was the last event of this recording. '));
    if (nextRow) {
      const a = el('a', '', 'Next recording to review: ' + nextRow.id + ' (n)'); a.href = nextHref(nextRow); a.id = 'next-link';
      box.appendChild(a);
    } else if (desk && nextRow === null) box.appendChild(el('span', '', 'No other recording has events left to review. '));
    if (queueHref) { box.appendChild(document.createTextNode(' ')); const q = el('a', '', 'Back to the queue'); q.href = queueHref; box.appendChild(q); }
    return box;
  }
  async function offerNext() {
    if (desk) await findNext();
    offer = true;
    showCurrent();
    const a = document.getElementById('next-link') || document.querySelector('#endbox a');
    if (a) a.focus();
  }

  // --- verdicts -----------------------------------------------------------------------------------
  async function give(i, verdict) {
    if (!desk || i < 0) return;
    const e = D.events[i];
    const noteEl = document.getElementById('note');
    const body = { recording: D.recording, kind: e.k, start_s: e.s, end_s: e.e, verdict: verdict, note: i === sel && noteEl ? noteEl.value : '', reviewer: Desk.reviewer() };
    status.textContent = 'Saving…';
    try {
      const r = await Desk.api('decisions', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      if (r.status === 403) { status.textContent = 'Not saved: the server was restarted with a new token (see the message at the top).'; return; }
      if (!r.ok) { status.textContent = 'Not saved: ' + (await r.text()); return; }
      const saved = await r.json();
      keep(saved);
      if (verdict !== 'cleared') store.remove(draftKey(e));
      paintVerdict(rows[i], e);
      if (i === sel) showCurrent();
      updateCount();
      status.textContent = (verdict === 'cleared' ? 'Taken back: unreviewed again' : 'Saved: ' + verdict) + ' (' + e.k + ' at ' + fmt(e.s) + ')';
    } catch (err) {
      status.textContent = 'Not saved: the server did not answer.';
    }
  }
  async function refresh() {
    if (!desk) return;
    try {
      const r = await Desk.api('decisions?recording=' + encodeURIComponent(D.recording));
      if (!r.ok) return;
      setDecisions(await r.json());
      D.events.forEach((e, i) => paintVerdict(rows[i], e));
      showCurrent(); updateCount();
    } catch (err) { /* keep the embedded verdicts */ }
  }

  // --- keyboard -----------------------------------------------------------------------------------
  const help = $('#help');
  const keys = [['j / ↓', 'next event (after the last: the next recording)'], ['k / p / ↑', 'previous event'],
    ['n', 'next recording with events left to review'], ['space', 'play / pause (on a button: press it)'],
    ['← / →', 'back / forward 2 s'], ['Shift + ← / →', 'back / forward 5 s'], ['[ or - / ] or +', 'slower / faster (0.5x to 4x)'],
    ['f', 'play the flagged span only (on / off)'], ['c / x', 'confirm / dismiss the selected event'], ['u', 'undo your verdict on the selected event'],
    ['m', 'mark a missed event from the current time'],
    ['Enter', 'play the focused event (on a button: press it)'], ['?', 'this help']];
  help.appendChild(el('strong', '', 'Keyboard'));
  const dl = el('div', 'keys');
  for (const [k, what] of keys) { const p = el('div'); p.appendChild(el('kbd', '', k)); p.appendChild(document.createTextNode(' ' + what)); dl.appendChild(p); }
  help.appendChild(dl);
  // keys a focused control answers itself: Space and Enter press a button or follow a link,
  // the video's own controls take Space and the arrows
  function ownKey(t, key) {
    if (!t || !t.tagName) return false;
    if ((key === ' ' || key === 'Enter') && (t.tagName === 'BUTTON' || t.tagName === 'A' || t.tagName === 'SUMMARY')) return true;
    return t.tagName === 'VIDEO' && [' ', 'Enter', 'ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown'].includes(key);
  }
  document.addEventListener('keydown', (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t && (t.tagName === 'TEXTAREA' || t.tagName === 'INPUT' || t.tagName === 'SELECT')) { if (ev.key === 'Escape') t.blur(); return; }
    if (ownKey(t, ev.key)) return;
    let done = true;
    switch (ev.key) {
      case 'j': case 'ArrowDown': step(1); break;
      case 'k': case 'p': case 'ArrowUp': step(-1); break;
      case 'n': nextRecording(); break;
      case ' ': case 'Spacebar': togglePlay(); break;
      case 'ArrowLeft': seek(now() - (ev.shiftKey ? 5 : 2)); break;
      case 'ArrowRight': seek(now() + (ev.shiftKey ? 5 : 2)); break;
      case '[': case '-': case '<': setRate(-1); break;
      case ']': case '+': case '=': case '>': setRate(1); break;
      case 'f': setSpanOnly(!spanOnly); break;
      case 'c': give(sel, 'confirmed'); break;
      case 'x': give(sel, 'dismissed'); break;
      case 'u': if (sel >= 0 && verdictsOf(D.events[sel]).some((d) => d.reviewer === Desk.reviewer())) give(sel, 'cleared'); break;
      case 'm': missed.open(now()); break;
      case '?': help.hidden = !help.hidden; break;
      case 'Escape': help.hidden = true; break;
      default: done = false;
    }
    if (done) ev.preventDefault();
  });

  // --- go -----------------------------------------------------------------------------------------
  function tick() { holdSpan(); drawCursor(); if (!video.paused) requestAnimationFrame(tick); }
  video.addEventListener('play', () => requestAnimationFrame(tick));
  video.addEventListener('timeupdate', () => { holdSpan(); drawCursor(); });
  video.addEventListener('seeked', drawCursor);
  window.addEventListener('resize', () => { drawTimeline(); timeline.drawAxis(); });
  drawTimeline(); drawCursor(); showCurrent(); updateCount();
  setTimeout(buildRest, 0);
  refresh();
  missed.load();
  const who = document.getElementById('reviewer');
  if (who) who.addEventListener('input', () => { D.events.forEach((e, i) => paintVerdict(rows[i], e)); if (sel >= 0) showCurrent(); });
  // for scripts and tests: the page's state
  window.proctorReview = {
    events: D.events, selected: () => sel, select: select, decisions: () => [].concat(...decisions.values()), missed: () => missed.marks(), served: !!desk, ready: () => ready,
    spanOnly: () => spanOnly, nextRecording: nextRecording,
  };
})();
