'use strict';
// What proctor missed: a reviewer marks a span of the recording as an event of a kind that
// proctor did not raise (a `missed` verdict), from a small form under the controls (key m).
// The marks are drawn in the timeline's "missed" lane and listed under it.
const Missed = (function () {
  const { el } = Desk;

  // o: recording, kinds ([{kind}]), dur, fmt(t), now(), seek(t), say(text), redraw(), and the
  // elements: formAfter (the form goes after it), listAfter (the list goes after it)
  function make(o) {
    let marks = [];
    const form = el('form', 'missed-form'); form.id = 'missed-form'; form.hidden = true;
    form.setAttribute('aria-label', 'Mark a missed event');
    const field = (label, input) => { const l = el('label', '', label + ' '); l.appendChild(input); form.appendChild(l); return input; };
    form.appendChild(el('strong', '', 'Missed event: '));
    const kind = field('kind', el('select')); kind.id = 'missed-kind';
    for (const k of o.kinds) kind.appendChild(new Option(k.kind, k.kind));
    const num = () => { const i = el('input'); i.type = 'number'; i.step = '0.1'; i.min = '0'; i.max = String(o.dur); return i; };
    const start = field('from (s)', num()); start.id = 'missed-start';
    const end = field('to (s)', num()); end.id = 'missed-end';
    const note = field('note', el('input')); note.id = 'missed-note'; note.type = 'text'; note.placeholder = 'what was missed';
    const save = el('button', '', 'Save mark'); save.type = 'submit'; form.appendChild(save);
    const cancel = el('button', '', 'Cancel'); cancel.type = 'button'; form.appendChild(cancel);
    o.formAfter.after(form);

    const list = el('div', 'missed-list'); list.id = 'missed-list'; list.hidden = true;
    o.listAfter.after(list);

    const r1 = (t) => Math.round(t * 10) / 10;
    // m: open the form from the current time (5 s long, within the recording); m again while
    // it is open ends the span at the current time
    function open(t) {
      if (!Desk.desk) { o.say('Marking a missed event needs `proctor review` on this folder.'); return; }
      if (!form.hidden && t > +start.value) { end.value = String(r1(t)); kind.focus(); return; }
      const s = Math.min(r1(t), Math.max(0, r1(o.dur - 0.1)));
      start.value = String(s);
      end.value = String(r1(Math.min(s + 5, o.dur)));
      note.value = '';
      form.hidden = false;
      kind.focus();
    }
    function close() { form.hidden = true; }
    cancel.addEventListener('click', close);
    form.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') { close(); ev.stopPropagation(); } });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const s = +start.value, e = +end.value;
      if (!(e > s) || s < 0 || e > o.dur + 0.05) { o.say('Not saved: the span must run forwards within the recording (0 to ' + o.fmt(o.dur) + ').'); return; }
      const body = { recording: o.recording, kind: kind.value, start_s: s, end_s: Math.min(e, o.dur), verdict: 'missed', note: note.value, reviewer: Desk.reviewer() };
      o.say('Saving…');
      try {
        const r = await Desk.api('decisions', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
        if (!r.ok) { o.say('Not saved: ' + (r.status === 403 ? 'the server was restarted with a new token (see the message at the top).' : await r.text())); return; }
        const saved = await r.json();
        marks.push(saved);
        close();
        show();
        o.say('Marked as missed: ' + saved.kind + ' ' + o.fmt(saved.start_s) + '–' + o.fmt(saved.end_s));
      } catch (err) { o.say('Not saved: the server did not answer.'); }
    });

    function show() {
      list.textContent = '';
      list.hidden = !marks.length;
      o.redraw();
      if (!marks.length) return;
      list.appendChild(el('strong', '', 'Marked as missed (' + marks.length + '): '));
      for (const m of marks) {
        const b = el('button', 'chip missed-mark'); b.type = 'button';
        b.appendChild(document.createTextNode(m.kind + ' ' + o.fmt(m.start_s) + '–' + o.fmt(m.end_s) + (m.note ? ' · ' + m.note : '') + (m.reviewer ? ' · by ' + m.reviewer : '')));
        b.title = 'Play from the start of this mark';
        b.addEventListener('click', () => o.seek(m.start_s, true));
        list.appendChild(b);
      }
    }
    async function load() {
      if (!Desk.desk) return;
      try {
        const r = await Desk.api('missed?recording=' + encodeURIComponent(o.recording));
        if (!r.ok) return;
        marks = (await r.json()).filter((m) => m.recording === o.recording);
        show();
      } catch (err) { /* none shown */ }
    }
    return { open, load, marks: () => marks };
  }
  return { make };
})();
