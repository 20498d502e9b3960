'use strict';
// The review page's timeline: a time axis, one lane per kind with its events as spans (a
// canvas, each lane's name over it), the signals on the same axis (SVG) and the cursor.
const Timeline = (function () {
  const LANE = 14;
  const NS = 'http://www.w3.org/2000/svg';
  const { el } = Desk;

  // opts: events ({k, s, e}), lanes (kinds with events, in order), color(kind), dur (s),
  // fmt(t), signals (the page's), marks() (spans marked as missed, {kind, start_s, end_s}: drawn
  // hatched in a last lane, "missed", when given), and the elements: tracks, axis, canvas,
  // lanes, signalsBox, cursor
  function make(o) {
    const laneOf = {}; o.lanes.forEach((k, i) => { laneOf[k] = i; });
    const names = o.marks ? o.lanes.concat(['missed (marked)']) : o.lanes;
    const markLane = o.lanes.length;
    const dur = o.dur;

    function draw(sel, hidden) {
      const canvas = o.canvas;
      const w = canvas.clientWidth || 600, h = Math.max(1, names.length) * LANE + 4;
      const r = window.devicePixelRatio || 1;
      canvas.style.height = h + 'px';
      canvas.width = Math.round(w * r); canvas.height = Math.round(h * r);
      const g = canvas.getContext('2d');
      g.setTransform(r, 0, 0, r, 0, 0);
      g.clearRect(0, 0, w, h);
      g.fillStyle = '#f4f4f6';
      for (let i = 0; i < names.length; i += 2) g.fillRect(0, 2 + i * LANE, w, LANE);
      for (const e of o.events) {
        if (hidden.has(e.k)) continue;
        const x0 = e.s / dur * w, x1 = e.e / dur * w;
        g.fillStyle = o.color(e.k);
        g.fillRect(x0, 3 + laneOf[e.k] * LANE, Math.max(2, x1 - x0), LANE - 2);
      }
      // a missed mark: outlined in its kind's colour, hatched
      for (const m of o.marks ? o.marks() : []) {
        const x0 = m.start_s / dur * w, mw = Math.max(3, (m.end_s - m.start_s) / dur * w), y = 3 + markLane * LANE;
        g.save();
        g.beginPath(); g.rect(x0, y, mw, LANE - 2); g.clip();
        g.strokeStyle = o.color(m.kind); g.lineWidth = 1.5;
        for (let x = x0 - LANE; x < x0 + mw; x += 5) { g.beginPath(); g.moveTo(x, y + LANE - 2); g.lineTo(x + LANE - 2, y); g.stroke(); }
        g.restore();
        g.strokeStyle = o.color(m.kind); g.lineWidth = 1.5; g.strokeRect(x0 + .75, y + .75, mw - 1.5, LANE - 3.5);
      }
      if (sel >= 0) {
        const e = o.events[sel];
        g.strokeStyle = '#000'; g.lineWidth = 1.5;
        g.strokeRect(e.s / dur * w - 1, 2 + laneOf[e.k] * LANE, Math.max(2, (e.e - e.s) / dur * w) + 2, LANE);
      }
    }

    // each lane's kind, written at its left end
    function drawLaneNames() {
      o.lanesBox.textContent = '';
      names.forEach((k, i) => {
        const s = el('span', '', k);
        s.style.top = (2 + i * LANE) + 'px';
        o.lanesBox.appendChild(s);
      });
    }

    function drawAxis() {
      const axis = o.axis; axis.textContent = '';
      const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
      // about one label per 60 px, at most 10
      const most = Math.max(2, Math.min(10, Math.floor((o.tracks.clientWidth || 600) / 60)));
      const stepS = steps.find((s) => dur / s <= most) || 7200;
      for (let t = 0; t <= dur * 0.97; t += stepS) {
        const s = el('span', '', o.fmt(t).replace(/\.0$/, ''));
        s.style.left = (t / dur * 100) + '%';
        if (t === 0) s.style.transform = 'none';  // the first one starts at the left edge, not half out of it
        axis.appendChild(s);
      }
    }

    function drawSignals() {
      for (const s of o.signals) {
        const div = el('div', 'sig');
        const svg = document.createElementNS(NS, 'svg');
        svg.setAttribute('viewBox', '0 0 1000 100');
        svg.setAttribute('preserveAspectRatio', 'none');
        svg.setAttribute('aria-hidden', 'true');
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
        div.appendChild(el('span', 'name', s.name + (s.marks.length ? ' (threshold ' + s.marks.map((m) => +m.toFixed(3)).join(', ') + ')' : '')));
        o.signalsBox.appendChild(div);
      }
    }

    function cursor(t) {
      o.cursor.style.left = (Math.min(1, t / dur) * 100) + '%';
      o.tracks.setAttribute('aria-valuenow', String(Math.round(t)));
      o.tracks.setAttribute('aria-valuetext', o.fmt(t));
    }

    // the time under a click, and the event under it (-1: none)
    function timeAt(clientX) {
      const r = o.tracks.getBoundingClientRect();
      return (clientX - r.left) / r.width * dur;
    }
    function eventAt(clientX, clientY, hidden) {
      const cr = o.canvas.getBoundingClientRect();
      if (clientY < cr.top || clientY > cr.bottom) return -1;
      const t = timeAt(clientX);
      const lane = Math.floor((clientY - cr.top - 2) / LANE);
      const slack = dur / cr.width * 3;
      for (let i = 0; i < o.events.length; i++) {
        const e = o.events[i];
        if (laneOf[e.k] === lane && !hidden.has(e.k) && e.s - slack <= t && t <= e.e + slack) return i;
      }
      return -1;
    }

    o.tracks.setAttribute('aria-valuemax', String(Math.round(dur)));
    drawAxis(); drawLaneNames(); drawSignals();
    return { draw, drawAxis, cursor, timeAt, eventAt };
  }
  return { make };
})();
