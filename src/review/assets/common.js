'use strict';
// Helpers the index and the review page share (included before each page's own script).
const Desk = (function () {
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  // `n thing` / `n things`
  function plural(n, one, many) { return n + ' ' + (n === 1 ? one : (many || one + 's')); }
  // a verdict's RFC 3339 time, in the reader's local time
  function localTime(iso) {
    const d = new Date(iso);
    if (isNaN(d.getTime())) return iso || '';
    return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }
  // the swatch of a kind's colour, then its name (text stays in the page's text colour)
  function kindLabel(kind, color, tag) {
    const s = el(tag || 'span', 'kindname');
    const sw = el('span', 'sw'); sw.style.background = color; sw.setAttribute('aria-hidden', 'true');
    s.appendChild(sw); s.appendChild(document.createTextNode(kind));
    return s;
  }

  // served by `proctor review` (the server fills the meta element), or read-only from the disk
  function readDesk() {
    try {
      const c = document.querySelector('meta[name="proctor-desk"]').getAttribute('content');
      return c ? JSON.parse(c) : null;
    } catch (err) { return null; }
  }
  const desk = readDesk();
  function api(path, init) {
    init = init || {};
    init.headers = Object.assign({ 'X-Proctor-Token': desk.token }, init.headers || {});
    return fetch(desk.api + path, init).then((r) => {
      if (r.status === 403) stale();
      return r;
    });
  }
  // the server's own pages (absolute paths, with the token)
  function served(path) { return '/' + path + (desk && desk.query ? desk.query : ''); }
  // the server answered 403: it was restarted with a new token
  const STALE = 'The review server was restarted with a new token, so this page can no longer save or load verdicts. ' +
    'Open the URL `proctor review` printed when it started (the first line of its output). Verdicts already saved are kept.';
  function stale() {
    const box = document.getElementById('stale');
    if (!box || !box.hidden) return;
    box.textContent = STALE;
    box.hidden = false;
  }

  // the browser's storage (absent or refused on some file:// pages): failures are not errors
  const store = {
    get(k) { try { return window.localStorage.getItem(k); } catch (err) { return null; } },
    set(k, v) { try { window.localStorage.setItem(k, v); } catch (err) { /* not kept */ } },
    remove(k) { try { window.localStorage.removeItem(k); } catch (err) { /* nothing */ } },
  };

  // a failed recording, acknowledged by the reviewer in this browser (its error with it,
  // so a new failure is not taken as seen)
  function ackKey(r) { return 'proctor-ack|' + r.id + '|' + (r.error || ''); }
  function acknowledged(r) { return r.status !== 'ok' && store.get(ackKey(r)) === '1'; }
  function acknowledge(r, yes) { if (yes) store.set(ackKey(r), '1'); else store.remove(ackKey(r)); }
  // whether a queue row still needs a reviewer
  function todo(r) {
    if (r.status !== 'ok') return !acknowledged(r);
    return (r.events || 0) > (r.reviewed || 0);
  }
  // the next row after `current` (an id) in the queue's order, wrapping, that has a page and
  // events left to review
  function nextTodo(rows, current) {
    const at = rows.findIndex((r) => r.id === current);
    for (let k = 1; k <= rows.length; k++) {
      const r = rows[(at + k + rows.length) % rows.length];
      if (r.id !== current && r.status === 'ok' && r.link && todo(r)) return r;
    }
    return null;
  }

  // the reviewer's name: set in the page (kept in this browser), else the server's --reviewer
  function reviewer() { return (store.get('proctor-reviewer') || '').trim() || (desk && desk.reviewer) || ''; }
  // the header's "Reviewing as [name]" (served), or the read-only notice (from the disk)
  function reviewerBox() {
    if (!desk) return el('span', 'mode', 'Read-only: run `proctor review` on this folder to record verdicts');
    const box = el('label', 'mode', 'Reviewing as ');
    const input = el('input'); input.id = 'reviewer'; input.type = 'text'; input.size = 12; input.autocomplete = 'name';
    input.value = reviewer(); input.placeholder = desk.reviewer || 'name';
    input.title = 'Your name, saved with each verdict (kept in this browser)';
    input.addEventListener('input', () => store.set('proctor-reviewer', input.value.trim()));
    box.appendChild(input);
    return box;
  }

  return { el, plural, localTime, kindLabel, desk, api, served, stale, store, acknowledged, acknowledge, todo, nextTodo, reviewer, reviewerBox };
})();
