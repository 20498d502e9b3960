#!/usr/bin/env python3
"""Checks the review pages and the index in a real browser, as a reviewer would.

Drives Debian's Chromium through chromedriver over the W3C WebDriver protocol, with
Python's standard library only (urllib): nothing to install from a package index, and
nothing downloads a browser. Run by tests/review.rs, which prepares the pages, the
server and an expectations file, then checks decisions.parquet itself:

    review_check.py SPEC.json

SPEC holds: chromium, chromedriver, page (file:// URL of a review page), events
(the [kind, start, end] events.parquet lists for it), server (the URL `proctor review`
printed), served_page (the same page's path under the server), index (file:// URL of a
batch's index.html), index_order (recording ids in priority order), big (file:// URL of
a page with 10,000 events), big_index (file:// URL of an index of 10,000 recordings), screenshots (a directory, or null), proctor (the binary),
archive (a batch's output directory of 12 recordings, which this script serves itself to
restart the server), keyboard_out (where to write the recordings the keyboard review's two
passes reviewed, as {"wide": id, "narrow": id}), axe (axe.min.js, or null: the accessibility check is then left out, and the
caller says it skipped). Prints one line per check and exits non-zero on the first
failure.

With a screenshots directory it also writes the review page and the index at 1440x900
(review-page.png, index.png), 1280x720 and 390x844 (review-WxH.png, index-WxH.png), and the
missed-event form open (review-missed.png):
scripts/screenshots.sh refreshes docs/img/ this way.
"""
import base64
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Driver:
    def __init__(self, chromium, chromedriver):
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="proctor-chromium-")
        self.proc = subprocess.Popen([chromedriver, "--port=%d" % self.port], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = "http://127.0.0.1:%d" % self.port
        for _ in range(100):
            try:
                self._req("GET", "/status")
                break
            except Exception:
                time.sleep(0.1)
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--mute-audio", "--autoplay-policy=no-user-gesture-required",
                "--allow-file-access-from-files", "--window-size=1400,900", "--user-data-dir=" + self.profile]
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {"binary": chromium, "args": args},
                                                   "goog:loggingPrefs": {"browser": "ALL"}}}}
        self.sid = self._req("POST", "/session", caps)["sessionId"]

    def _req(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return json.loads(r.read().decode())["value"]
        except urllib.error.HTTPError as e:
            raise RuntimeError("%s %s: %s" % (method, path, e.read().decode()[:600]))

    def s(self, method, path, body=None):
        return self._req(method, "/session/%s%s" % (self.sid, path), body)

    def get(self, url):
        self.s("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css):
        v = self.s("POST", "/element", {"using": "css selector", "value": css})
        return list(v.values())[0]

    def click(self, css):
        self.s("POST", "/element/%s/click" % self.find(css), {})

    def keys(self, text):
        # keys go to the focused element, as a person's typing would
        self.s("POST", "/actions", {"actions": [{"type": "key", "id": "kb", "actions":
            [a for ch in text for a in ({"type": "keyDown", "value": ch}, {"type": "keyUp", "value": ch})]}]})

    def chord(self, mod, key):
        # a key pressed with a modifier held (Ctrl+A)
        self.s("POST", "/actions", {"actions": [{"type": "key", "id": "kb", "actions": [
            {"type": "keyDown", "value": mod}, {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}, {"type": "keyUp", "value": mod}]}]})

    def tab_until(self, cond, what, back=False, limit=80):
        # Tab (or Shift+Tab) until the focused element is the one wanted: moving as a keyboard user does
        for _ in range(limit):
            if self.js("const a = document.activeElement; return !!(" + cond + ")"):
                return
            if back:
                self.chord("\ue008", "\ue004")
            else:
                self.keys("\ue004")
        raise AssertionError("Tab did not reach " + what)

    def logs(self):
        return self.s("POST", "/se/log", {"type": "browser"})

    def js_async(self, script, *args):
        return self.s("POST", "/execute/async", {"script": script, "args": list(args)})

    def viewport(self, w, h, mobile=False):
        # the page's own size, as a device of that size would give it (not the window's)
        self.s("POST", "/goog/cdp/execute", {"cmd": "Emulation.setDeviceMetricsOverride",
                                              "params": {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": mobile}})

    def rect(self, css):
        return self.js("const e = document.querySelector(arguments[0]); if (!e) return null;"
                       "const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,"
                       "width: r.width, height: r.height, vw: window.innerWidth, vh: window.innerHeight}", css)

    def refresh(self):
        self.s("POST", "/refresh", {})

    def url(self):
        return self.s("GET", "/url")

    def screenshot(self, path):
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.s("GET", "/screenshot")))

    def wait(self, script, what, timeout=15.0):
        end = time.time() + timeout
        while time.time() < end:
            v = self.js(script)
            if v:
                return v
            time.sleep(0.1)
        raise AssertionError("timed out waiting for " + what)

    def quit(self):
        try:
            self.s("DELETE", "")
        except Exception:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what, flush=True)


def no_console_errors(d, where):
    bad = [l for l in d.logs() if l.get("level") == "SEVERE"]
    check(not bad, "no console errors on %s %s" % (where, json.dumps(bad)[:800] if bad else ""))


def in_view(r):
    return r is not None and r["width"] > 0 and r["top"] >= -1 and r["left"] >= -1 and r["bottom"] <= r["vh"] + 1 and r["right"] <= r["vw"] + 1


class Review:
    """`proctor review DIR` run by this script, on a fixed port so that a restart keeps the
    address (as a reviewer's restart would) and an open tab talks to the new server."""

    def __init__(self, exe, folder, port, *extra):
        self.proc = subprocess.Popen([exe, "review", folder, "--reviewer", "tester", "--port", str(port)] + list(extra),
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:%d/?token=" % port):
            raise AssertionError("proctor review printed %r" % self.url)
        self.base = self.url.split("/?")[0]
        # every request carries the token in its URL (the server sets no cookie)
        self.query = "?" + self.url.split("?", 1)[1]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run_axe(d, source, where):
    """axe-core on the page as it is now: prints every violation, fails on a serious or critical one."""
    if not d.js("return typeof window.axe === 'object'"):
        d.js(source + "\n;return typeof window.axe")
    got = d.js_async("""
        const done = arguments[arguments.length - 1];
        window.axe.run(document, {resultTypes: ['violations']}).then((r) => done(r.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 6).map((n) => n.target.join(' ') + ': ' + (n.failureSummary || '').replace(/\\s+/g, ' ').slice(0, 240))}))))
          .catch((e) => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));""")
    for v in got:
        print("axe on %s: %s (%s): %s%s" % (where, v["id"], v["impact"], v["help"], "".join("\n    " + n for n in v["nodes"])), flush=True)
    bad = [v["id"] for v in got if v["impact"] in ("serious", "critical")]
    check(not bad, "axe-core: no serious or critical violation on %s %s" % (where, bad if bad else ""))


SIZES = [(1440, 900, False), (1280, 720, False), (390, 844, True)]


def shot_name(kind, w, h):
    if (w, h) == (1440, 900):
        return "review-page.png" if kind == "review" else "index.png"
    return "%s-%dx%d.png" % (kind, w, h)


READY = "return window.proctorReview && window.proctorReview.served && window.proctorReview.ready()"


def keyboard_review(d, size, kind, tag, after=""):
    """One recording reviewed with the keyboard only, on the review page open now: j/k, c, x, u, a
    note, a missed event (its kind chosen in the select with the arrows), then n to the next
    recording. The page's state is read with JS; every action is a key. Returns the recording."""
    rec = d.js("return location.pathname")
    ev = lambda i: d.js("return document.querySelector(\"li.ev[data-i='%d']\").dataset.verdict || ''" % i)
    saved = lambda what: d.wait("return document.getElementById('status').textContent.startsWith('Saved')", "%s: %s saved" % (size, what), timeout=30)
    check(d.js("return window.proctorReview.events.length") >= 3, "%s: %s has 3 events or more to review" % (size, rec))
    d.keys("j")
    check(d.js("return window.proctorReview.selected()") == 0, "%s: j selects the first event" % size)
    d.keys("jk")
    check(d.js("return window.proctorReview.selected()") == 0, "%s: j then k comes back to it" % size)
    d.keys("c")
    saved("c")
    check(ev(0) == "confirmed", "%s: c confirms the event%s" % (size, after))
    d.keys("j")
    d.keys("x")
    d.wait("return document.querySelector(\"li.ev[data-i='1']\").dataset.verdict === 'dismissed'", "%s: x" % size, timeout=30)
    check(True, "%s: x dismisses the next event" % size)
    d.keys("u")
    d.wait("return !document.querySelector(\"li.ev[data-i='1']\").dataset.verdict", "%s: u" % size, timeout=30)
    check(True, "%s: u takes the verdict back" % size)
    d.keys("j")
    check(d.js("return window.proctorReview.selected()") == 2, "%s: j on to the third event" % size)
    d.tab_until("a.id === 'note'", "the note", back=True)
    d.keys(tag + " note")
    d.keys("\ue00c")  # Escape leaves the note
    check(d.js("return document.activeElement.id") != "note", "%s: Escape leaves the note" % size)
    d.keys("x")
    d.wait("return document.querySelector(\"li.ev[data-i='2']\").dataset.verdict === 'dismissed'", "%s: x with the note" % size, timeout=30)
    check(True, "%s: the note is typed and saved with x" % size)
    # a missed event: m opens the form with its kind focused; the arrows choose the kind
    d.keys("m")
    d.wait("return !document.getElementById('missed-form').hidden && document.activeElement.id === 'missed-kind'", "%s: m" % size)
    check(True, "%s: m opens the form, its kind focused" % size)
    for _ in range(30):
        if d.js("return document.getElementById('missed-kind').value") == kind:
            break
        d.keys("\ue015")  # ArrowDown
    got = d.js("const k = document.getElementById('missed-kind'); return [k.value, document.activeElement.id, Array.from(k.options).map(o => o.value)]")
    check(got[0] == kind, "%s: ArrowDown in the select chooses %s %s" % (size, kind, got))
    check(in_view(d.rect("#missed-kind")), "%s: the focused select is on screen" % size)
    d.keys("\ue004\ue004")  # Tab, Tab: the end of the span
    check(d.js("return document.activeElement.id") == "missed-end", "%s: Tab reaches the span's end" % size)
    start = d.js("return +document.getElementById('missed-start').value")
    d.chord("\ue009", "a")
    d.keys("%.1f" % (start + 2.0))
    d.keys("\ue004")
    check(d.js("return document.activeElement.id") == "missed-note", "%s: Tab reaches the mark's note" % size)
    d.keys("missed at " + tag + "\ue007")  # Enter saves
    d.wait("return document.getElementById('status').textContent.startsWith('Marked as missed')", "%s: the mark saved" % size, timeout=30)
    mark = d.js("const m = window.proctorReview.missed(); return m[m.length - 1]")
    check(mark["kind"] == kind and abs(mark["end_s"] - mark["start_s"] - 2.0) < 0.15 and mark["note"] == "missed at " + tag,
          "%s: the mark is saved with its kind, end and note %s" % (size, mark))
    check(d.js("return document.getElementById('missed-form').hidden"), "%s: the form closes" % size)
    # n: on to the next recording, no Back button
    d.keys("n")
    d.wait("return location.pathname !== %s && window.proctorReview && window.proctorReview.served" % json.dumps(rec), "%s: n" % size, timeout=30)
    d.wait(READY, "%s: the next recording's page" % size, timeout=30)
    check(True, "%s: n goes on to the next recording (%s)" % (size, d.js("return location.pathname")))
    return rec.rsplit("/", 1)[-1].replace(".review.html", "")


def keyboard_desk(d, srv, spec, port):
    """The scripted review of ISSUE 30, keyboard only, at 1440x900 then 390x844 on other
    recordings, with a plain restart of the server between: the open tab goes on saving."""
    folder = spec["archive"]
    d.viewport(1440, 900)
    d.get(srv.url)
    d.wait("return document.body.dataset.ready === 'true' && document.querySelectorAll('#rows tbody tr').length > 0", "the index")
    check(d.js("return document.querySelectorAll('#rows tbody tr').length") == 12, "the index lists the batch's 12 recordings")
    d.tab_until("a.id === 'next'", "Review next")
    d.keys("\ue007")
    d.wait(READY, "1440x900: the recording opened from the index")
    check(True, "1440x900: Tab to 'Review next' and Enter open %s" % d.js("return location.pathname"))
    wide = keyboard_review(d, "1440x900", "looking_away", "1440")
    # a plain restart with the next recording's tab open; then the narrow pass in that tab
    srv.stop()
    srv = Review(spec["proctor"], folder, port)
    d.viewport(390, 844, True)
    time.sleep(0.3)
    check(d.js("return document.documentElement.scrollWidth") <= 390, "390x844: the review page fits")
    # the reviewer's name, typed in the page
    d.tab_until("a.id === 'reviewer'", "the reviewer's name")
    d.chord("\ue009", "a")
    d.keys("Grace\ue00c")
    check(d.js("return document.getElementById('reviewer').value") == "Grace", "390x844: the reviewer's name typed in the page")
    narrow = keyboard_review(d, "390x844", "voices", "390", " (saved by the tab opened before the restart)")
    check(narrow != wide, "the two passes review different recordings (%s, %s)" % (wide, narrow))
    check(d.js("return document.getElementById('stale').hidden"), "no message about the token after the plain restart")
    # from the index at 390 px too
    d.get(srv.url)
    d.wait("return document.body.dataset.ready === 'true' && document.querySelectorAll('#rows tbody tr').length > 0", "the index at 390 px")
    d.tab_until("a.id === 'next'", "Review next at 390 px")
    d.keys("\ue007")
    d.wait(READY, "390x844: the recording opened from the index")
    check(True, "390x844: Tab to 'Review next' and Enter open %s" % d.js("return location.pathname"))
    d.viewport(1440, 900)
    return srv, wide, narrow


def served_desk(d, spec, shots, axe_src):
    """The desk as a reviewer uses it, on a batch served by this script: layout at three
    sizes, the keyboard, moving on, the note kept, the token kept and rotated, and axe."""
    port = free_port()
    folder = spec["archive"]
    srv = Review(spec["proctor"], folder, port)
    try:
        mode = os.stat(os.path.join(folder, ".proctor-review-token")).st_mode & 0o777
        check(mode == 0o600, "the token is kept in DIR/.proctor-review-token, owner-only (%o)" % mode)
        d.viewport(1440, 900)
        d.get(srv.url)
        d.wait("return document.querySelectorAll('#rows tbody tr').length > 0", "the served batch index")
        check(d.js("return document.querySelectorAll('main').length") == 1, "the index has a <main> landmark")
        check(not d.rect("#more")["height"], "no Show more button when every row is listed")
        check(d.js("return !document.getElementById('next').hidden"), "the index offers the next recording to review")
        # a failed recording leaves the "not fully reviewed" list once acknowledged (in this browser)
        d.js("const s = document.querySelector('#filters select[aria-label=\"Review status\"]'); s.value = 'todo'; s.dispatchEvent(new Event('input'))")
        failed = d.js("return Array.from(document.querySelectorAll('#rows tr.failed')).filter(r => !r.hidden).length")
        check(failed == 1, "the failed recording is listed as not fully reviewed")
        d.click("#rows tr.failed button.ack")
        failed = d.js("return Array.from(document.querySelectorAll('#rows tr.failed')).filter(r => !r.hidden).length")
        check(failed == 0, "once acknowledged it leaves that list")
        d.refresh()
        d.wait("return document.querySelectorAll('#rows tbody tr').length > 0", "the index again")
        check(d.js("return document.querySelector('#rows tr.failed button.ack').getAttribute('aria-pressed')") == "true", "the acknowledgement survives a reload")
        d.js("const s = document.querySelector('#filters select[aria-label=\"Review status\"]'); s.value = ''; s.dispatchEvent(new Event('input'))")
        if axe_src:
            run_axe(d, axe_src, "the index")
        for (w, h, mobile) in SIZES:
            d.viewport(w, h, mobile)
            time.sleep(0.3)
            wide = d.js("return document.documentElement.scrollWidth")
            check(wide <= w, "the index fits %dx%d (%d px wide)" % (w, h, wide))
            cells = d.js("return Array.from(document.querySelectorAll('#rows tbody tr:not([hidden]) td')).filter(c => c.offsetParent)"
                         ".map(c => c.getBoundingClientRect().right)")
            check(cells and max(cells) <= w + 1, "every shown cell of the index is within %d px" % w)
            if shots:
                d.screenshot(os.path.join(shots, shot_name("index", w, h)))
        if axe_src:
            run_axe(d, axe_src, "the index at 390 px (cards)")
        d.viewport(1440, 900)

        # the review page of the recording with the most events
        page = srv.base + "/recordings/sample.review.html" + srv.query
        d.get(page)
        d.wait("return window.proctorReview && window.proctorReview.served && window.proctorReview.ready()", "the served review page")
        n_ev = d.js("return window.proctorReview.events.length")
        check(n_ev >= 3, "the page has events to review (%d)" % n_ev)
        check(d.js("return document.querySelectorAll('main').length") == 1, "the review page has a <main> landmark")
        back = d.js("return document.getElementById('queue-link').getAttribute('href')")
        check(back.startswith("/?token="), "the page links back to the queue (%s)" % back)
        check(d.js("return document.getElementById('report-link').getAttribute('href')").startswith("sample.report.pdf"), "the page links to its PDF report")
        head = d.js("return document.getElementById('head').textContent")
        check(("%d events" % n_ev) in head, "the header counts the events")
        legend = d.js("return Array.from(document.querySelectorAll('#legend button.chip')).map(b => b.textContent)")
        check(legend and all(not t.endswith(" 0") for t in legend), "the legend lists only kinds with events %s" % legend)
        lanes = d.js("return Array.from(document.querySelectorAll('#lanes span')).map(s => s.textContent)")
        check(lanes[-1] == "missed (marked)", "the last lane is for spans marked as missed")
        check(sorted(lanes[:-1]) == sorted(t.rsplit(" ", 1)[0] for t in legend), "each lane of the timeline is labelled %s" % lanes)
        d.click("#queue-link")
        d.wait("return document.querySelectorAll('#rows tbody tr').length > 0", "the queue, through the link back")
        check(d.url().split("?")[0] == srv.base + "/", "the link back leads to the queue")
        d.get(page)
        d.wait("return window.proctorReview && window.proctorReview.served && window.proctorReview.ready()", "the review page again")

        # --- layout: video, timeline, the selected event and its verdict buttons together ---
        for (w, h, mobile) in SIZES:
            d.viewport(w, h, mobile)
            d.js("document.getElementById('video').pause(); window.proctorReview.select(1, false); document.getElementById('video').pause()")
            time.sleep(0.4)
            wide = d.js("return document.documentElement.scrollWidth")
            check(wide <= w, "the review page fits %dx%d (%d px wide)" % (w, h, wide))
            video = d.rect("#video")
            if not mobile:
                for css, what in [("#video", "the video"), ("#timeline", "the timeline"), ("#current h2", "the selected event"),
                                  ("#current button[data-verdict='confirmed']", "its Confirm button"),
                                  ("#current button[data-verdict='dismissed']", "its Dismiss button"), ("#note", "its note")]:
                    check(in_view(d.rect(css)), "%dx%d: %s on screen with the rest %s" % (w, h, what, d.rect(css)))
                check(video["height"] >= 200, "%dx%d: the video is %d px high" % (w, h, video["height"]))
                # scrolling the list and the left column, and typing a note, leave the video in view
                d.js("document.getElementById('events').scrollTop = 1e6; document.getElementById('left').scrollTop = 1e6")
                d.click("#note")
                check(in_view(d.rect("#video")), "%dx%d: the video stays in view while the list scrolls and the note is typed in" % (w, h))
                d.js("document.getElementById('left').scrollTop = 0")
            else:
                check(video["width"] >= w - 30, "%dx%d: one column, the video %d px wide" % (w, h, video["width"]))
                lst = d.rect("#events")
                check(lst["width"] >= w - 30, "%dx%d: the event list is as wide as the page (%d px)" % (w, h, lst["width"]))
                rights = d.js("return Array.from(document.querySelectorAll('#head *, #controls *, #legend *, #current *, li.ev:nth-child(-n+5) *'))"
                              ".filter(e => e.offsetParent).map(e => e.getBoundingClientRect().right)")
                check(max(rights) <= w + 1, "%dx%d: nothing is wider than the screen (%d)" % (w, h, max(rights)))
                d.js("document.querySelector(\"#current button[data-verdict='confirmed']\").scrollIntoView({block: 'center'})")
                check(in_view(d.rect("#current button[data-verdict='confirmed']")), "%dx%d: the verdict buttons can be reached" % (w, h))
                check(in_view(d.rect("#video")), "%dx%d: the video stays at the top while the page scrolls" % (w, h))
                d.js("window.scrollTo(0, 0)")
            if shots:
                d.js("document.getElementById('events').scrollTop = 0; document.getElementById('left').scrollTop = 0; window.scrollTo(0, 0)")
                time.sleep(0.3)
                d.screenshot(os.path.join(shots, shot_name("review", w, h)))
        d.viewport(1440, 900)
        if axe_src:
            run_axe(d, axe_src, "a review page, an event selected")

        # --- the keyboard: Space and Enter press the focused button, not the video ---------------
        d.js("const v = document.getElementById('video'); v.pause(); v.currentTime = 1")
        d.js("document.querySelector(\"li.ev[data-i='0'] button[data-verdict='confirmed']\").focus()")
        d.keys(" ")
        d.wait("return document.getElementById('status').textContent.startsWith('Saved: confirmed')", "Space on the focused Confirm")
        time.sleep(0.3)
        check(d.js("return document.getElementById('video').paused"), "Space on a focused button does not play the video")
        d.js("document.querySelector(\"li.ev[data-i='1'] button[data-verdict='dismissed']\").focus()")
        d.keys("\ue007")  # Enter
        d.wait("return document.querySelector(\"li.ev[data-i='1']\").dataset.verdict === 'dismissed'", "Enter on the focused Dismiss")
        check(d.js("return document.getElementById('video').paused"), "Enter on a focused button does not play the video either")
        when = d.js("return document.querySelector('#current .vstate').textContent")
        check(re.search(r"\b20\d\d\b", when) and not re.search(r"\d{4}-\d\d-\d\dT", when), "the verdict's time is shown in local time (%s)" % when)
        # event rows are reached with Tab (after the note), and show where the focus is
        d.js("window.proctorReview.select(0, false); document.getElementById('video').pause(); document.getElementById('note').focus()")
        d.keys("\ue004")  # Tab
        focused = d.js("const a = document.activeElement; return [a.tagName, a.className, a.dataset.i, getComputedStyle(a).outlineStyle]")
        check(focused[0] == "LI" and "ev" in focused[1] and focused[3] != "none", "Tab from the note reaches the event rows, focus visible %s" % focused)

        # --- undo: u takes the verdict back, the event is unreviewed (after a reload too) --------
        d.js("window.proctorReview.select(1, false); document.getElementById('video').pause()")
        check(d.js("return !!document.getElementById('undo')"), "the selected event with a verdict offers Undo")
        d.keys("u")
        d.wait("return !document.querySelector(\"li.ev[data-i='1']\").dataset.verdict", "u: the verdict taken back")
        d.refresh()
        d.wait("return window.proctorReview && window.proctorReview.served && window.proctorReview.ready()", "the page after the undo")
        check(not d.js("return document.querySelector(\"li.ev[data-i='1']\").dataset.verdict"), "after a reload the event is still unreviewed")
        d.js("window.proctorReview.select(1, false); document.getElementById('video').pause()")
        check(not d.js("return !!document.getElementById('undo')"), "and no Undo is offered on it")
        d.keys("x")
        d.wait("return document.querySelector(\"li.ev[data-i='1']\").dataset.verdict === 'dismissed'", "x: dismissed again")

        # --- the reviewer's name, set in the page; two reviewers disagree -------------------------
        check(d.js("return document.getElementById('reviewer').value") == "tester", "the name is the server's --reviewer at first")
        d.js("const r = document.getElementById('reviewer'); r.value = ''; r.focus()")
        d.keys("Ada\ue00c")  # typed, then Escape leaves the field
        d.js("window.proctorReview.select(0, false); document.getElementById('video').pause()")
        d.keys("x")
        d.wait("return document.querySelector(\"li.ev[data-i='0']\").dataset.disputed === 'true'", "Ada's verdict beside tester's")
        both = d.js("return document.querySelector('#current .vstate').textContent")
        check("confirmed by tester" in both and "dismissed by Ada" in both, "the panel shows both reviewers' verdicts (%s)" % both)
        d.refresh()
        d.wait("return window.proctorReview && window.proctorReview.served && window.proctorReview.ready()", "the page after Ada's verdict")
        check(d.js("return document.getElementById('reviewer').value") == "Ada", "the name is remembered by the browser")
        check(d.js("return document.querySelector(\"li.ev[data-i='0']\").dataset.disputed") == "true", "the event is still shown as disputed")

        # --- a missed event: m from the current time, a kind, a note, Enter -----------------------
        d.js("const v = document.getElementById('video'); v.pause(); v.currentTime = 1; document.activeElement.blur()")
        d.wait("return !document.getElementById('video').seeking", "the seek to 1 s")
        check(not d.rect("#missed-form")["height"], "the form for a missed event is out of the way until asked for")
        d.keys("m")
        check(d.js("return !document.getElementById('missed-form').hidden && document.activeElement.id === 'missed-kind'"), "m opens the form, its kind focused")
        check(d.rect("#missed-form")["height"] > 0, "and it is shown")
        if shots:
            d.screenshot(os.path.join(shots, "review-missed.png"))
        kinds = d.js("return Array.from(document.getElementById('missed-kind').options).map(o => o.value)")
        check(len(kinds) >= 6 and "looking_away" in kinds, "every kind the page knows can be marked %s" % kinds)
        span = d.js("return [+document.getElementById('missed-start').value, +document.getElementById('missed-end').value]")
        check(abs(span[0] - 1.0) < 0.15 and abs(span[1] - span[0] - 5.0) < 0.15, "the span starts at the current time, 5 s long %s" % span)
        d.keys("lo")  # typing in a focused select picks the option
        d.js("document.getElementById('missed-kind').value = 'looking_away'")
        d.js("document.getElementById('missed-note').focus()")
        d.keys("on the desk\ue007")  # Enter saves
        d.wait("return document.getElementById('status').textContent.startsWith('Marked as missed')", "the mark saved")
        check(d.js("return document.getElementById('missed-form').hidden") and not d.rect("#missed-form")["height"], "the form closes once saved")
        drawn = d.js("""const c = document.getElementById('timeline'), g = c.getContext('2d'), r = window.devicePixelRatio || 1;
            const lanes = document.querySelectorAll('#lanes span'), y = Math.round((lanes[lanes.length - 1].offsetTop + 7) * r);
            const w = c.width, dur = +document.getElementById('tracks').getAttribute('aria-valuemax');
            const x0 = Math.round(1.2 / dur * w), x1 = Math.round(5.8 / dur * w);
            const px = g.getImageData(x0, y - 5, Math.max(1, x1 - x0), 10).data; let n = 0;
            for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 0 && !(px[i] > 240 && px[i + 1] > 240 && px[i + 2] > 240)) n++;
            return [lanes[lanes.length - 1].textContent, n];""")
        check(drawn[0].startswith("missed") and drawn[1] > 10, "the mark is drawn in the timeline's missed lane %s" % drawn)
        d.refresh()
        d.wait("return window.proctorReview && window.proctorReview.served && window.proctorReview.ready() && window.proctorReview.missed().length", "the marks after a reload")
        listed = d.js("return document.querySelector('#missed-list .missed-mark').textContent")
        check("looking_away" in listed and "on the desk" in listed and "Ada" in listed, "the mark is listed after a reload (%s)" % listed)

        # --- play the flagged span only ----------------------------------------------------------
        evs = d.js("return window.proctorReview.events.map(e => [e.s, e.e])")
        short = min(range(len(evs)), key=lambda i: evs[i][1] - evs[i][0])
        d.keys("f")
        check(d.js("return window.proctorReview.spanOnly() && document.getElementById('span-only').getAttribute('aria-pressed') === 'true'"),
              "f turns on playing the flagged span only")
        d.js("const v = document.getElementById('video'); v.playbackRate = 4; window.proctorReview.select(arguments[0], true)", short)
        start = d.js("return document.getElementById('video').currentTime")
        check(abs(start - evs[short][0]) < 0.6, "the span plays from the event's start (%.2f, event at %.2f)" % (start, evs[short][0]))
        d.wait("const v = document.getElementById('video'); return v.paused && v.currentTime > %f" % (evs[short][0] + 0.1),
               "the span's end", timeout=30)
        t = d.js("return document.getElementById('video').currentTime")
        check(abs(t - evs[short][1]) < 0.5, "the video stops at the span's end (%.2f, span ends %.2f)" % (t, evs[short][1]))
        d.keys("f")
        check(not d.js("return window.proctorReview.spanOnly()"), "f turns it off again")
        d.js("document.getElementById('video').playbackRate = 1")

        # --- an unsaved note is kept in the page until it is saved -------------------------------
        last = n_ev - 1
        d.js("window.proctorReview.select(arguments[0], false); document.getElementById('video').pause()", last)
        d.click("#note")
        d.keys("keep me")
        d.refresh()
        d.wait("return window.proctorReview && window.proctorReview.served && window.proctorReview.ready()", "the page after a reload")
        d.js("window.proctorReview.select(arguments[0], false); document.getElementById('video').pause()", last)
        check(d.js("return document.getElementById('note').value") == "keep me", "an unsaved note is still there after a reload")
        check("not saved" in d.js("return document.getElementById('note-state').textContent"), "and the page says it is not saved yet")
        d.js("document.getElementById('note').blur(); document.querySelector(\"li.ev[data-i='%d']\").focus()" % last)
        d.keys("c")
        d.wait("return document.getElementById('status').textContent.startsWith('Saved')", "the verdict with the note")
        check(d.js("return document.getElementById('note-state').textContent") == "", "once saved, the note is no longer a draft")

        # --- after the last event: the next recording --------------------------------------------
        d.keys("j")
        d.wait("return document.getElementById('next-link')", "the offer of the next recording after the last event")
        check(d.js("return document.activeElement.id") == "next-link", "the offer has the focus (Enter follows it)")
        offered = d.js("return document.getElementById('next-link').getAttribute('href')")
        d.keys("n")
        d.wait("return location.pathname !== '/recordings/sample.review.html' && window.proctorReview && window.proctorReview.served",
               "n: on to the next recording")
        now = d.js("return location.pathname + location.search")
        check(now == offered, "n goes to the recording offered (%s)" % now)
        todo = d.js("return window.proctorReview.events.length - window.proctorReview.decisions().length")
        check(todo > 0, "the next recording has events left to review (%d)" % todo)
        if axe_src:
            d.js("window.proctorReview.select(0, false); document.getElementById('video').pause()")
            run_axe(d, axe_src, "another review page (%s)" % now)
        no_console_errors(d, "the served batch")

        # --- a plain restart keeps the token: the open tab goes on saving -------------------------
        old_url = srv.url
        d.get(page)
        d.wait("return window.proctorReview && window.proctorReview.served && window.proctorReview.ready()", "the page before the restart")
        srv.stop()
        srv = Review(spec["proctor"], folder, port)
        check(srv.url == old_url, "a restart prints the same URL (the token is kept)")
        d.js("window.proctorReview.select(2, false); document.getElementById('video').pause(); document.querySelector(\"li.ev[data-i='2']\").focus()")
        d.keys("x")
        d.wait("return document.getElementById('status').textContent.startsWith('Saved')", "a verdict from the open tab after the restart")
        check(d.js("return document.getElementById('stale').hidden"), "no message about the token after a plain restart")

        # --- a new token: the open tab and the old link say so plainly ----------------------------
        srv.stop()
        srv = Review(spec["proctor"], folder, port, "--new-token")
        check(srv.url != old_url, "--new-token prints a new URL")
        d.keys("c")
        d.wait("return !document.getElementById('stale').hidden", "the message in the open tab")
        check("restarted with a new token" in d.js("return document.getElementById('stale').textContent"), "the open tab says the server was restarted with a new token")
        check("Not saved" in d.js("return document.getElementById('status').textContent"), "and that the verdict was not saved")
        d.refresh()
        d.wait("return document.body && document.body.textContent.length > 0", "the old link")
        text = d.js("return document.body.innerText")
        check("restarted with a new token" in text and "Open the URL" in text, "the old link gets a plain page saying what happened and what to do")
        d.get(srv.url)
        d.wait("return document.querySelectorAll('#rows tbody tr').length > 0", "the index with the new URL")
        check(True, "the new URL opens the queue")
        cells = d.js("return document.querySelector('#rows tr[data-id=\"sample\"]').textContent")
        check("1 disagree" in cells and "1 missed" in cells, "the index shows the disagreement and the missed mark (%s)" % cells)
        href = d.js("return document.getElementById('csv-link').getAttribute('href')")
        check(href.startswith("/api/decisions.csv?token="), "the index links to the verdicts as CSV (%s)" % href)
        csv = d.js_async("const done = arguments[arguments.length - 1]; fetch(document.getElementById('csv-link').href)"
                         ".then(r => r.text().then(t => done([r.status, r.headers.get('content-type'), t]))).catch(e => done([0, '', String(e)]))")
        check(csv[0] == 200 and "text/csv" in csv[1] and ",missed,Ada," in csv[2] and ",dismissed,Ada," in csv[2], "the CSV link returns the verdicts as CSV (%d lines)" % len(csv[2].splitlines()))
        if axe_src:
            run_axe(d, axe_src, "the index with a disagreement and a mark")
        d.viewport(390, 844, True)
        time.sleep(0.3)
        wide = d.js("return document.documentElement.scrollWidth")
        cells = d.js("return Array.from(document.querySelectorAll('#rows tbody tr:not([hidden]) td *, #head *')).filter(c => c.offsetParent)"
                     ".map(c => c.getBoundingClientRect().right)")
        check(wide <= 390 and max(cells) <= 391, "the cards with the disagree and missed counts still fit 390 px (%d, %d)" % (wide, max(cells)))
        d.viewport(1440, 900)
        # what the restarts were expected to log: the refused requests, the server away a moment
        expected = ("403 (Forbidden)", "ERR_CONNECTION_REFUSED", "favicon.ico")
        other = [l for l in d.logs() if l.get("level") == "SEVERE" and not any(x in l.get("message", "") for x in expected)]
        check(not other, "no other console error across the restarts %s" % (json.dumps(other)[:800] if other else ""))

        srv, wide, narrow = keyboard_desk(d, srv, spec, port)
        with open(spec["keyboard_out"], "w") as f:
            json.dump({"wide": wide, "narrow": narrow}, f)
        other = [l for l in d.logs() if l.get("level") == "SEVERE" and not any(x in l.get("message", "") for x in expected)]
        check(not other, "no other console error in the keyboard review %s" % (json.dumps(other)[:800] if other else ""))
    finally:
        srv.stop()
        d.viewport(1400, 900)


def main():
    spec = json.load(open(sys.argv[1]))
    d = Driver(spec["chromium"], spec["chromedriver"])
    shots = spec.get("screenshots")
    try:
        # --- the review page, from the disk (read-only) ---------------------------------
        d.get(spec["page"])
        d.wait("return window.proctorReview !== undefined", "the page's script")
        listed = d.js("return Array.from(document.querySelectorAll('li.ev[data-kind]')).map(e => [e.dataset.kind, +e.dataset.start, +e.dataset.end])")
        want = spec["events"]
        check(len(listed) == len(want) and all(a[0] == b[0] and abs(a[1] - b[1]) < 1e-6 and abs(a[2] - b[2]) < 1e-6
                                               for a, b in zip(listed, want)), "events listed match events.parquet (%d)" % len(want))
        check(d.js("return document.querySelectorAll('video').length") == 1, "exactly one <video>")
        check(d.js("return window.__pwned === undefined"), "the candidate's name was not executed")
        check("<script>" in d.js("return document.getElementById('head').textContent"), "the candidate's name is shown as text")
        check(d.js("return document.querySelectorAll('[data-verdict=confirmed]').length") >= len(want), "verdict controls on each event")
        check(d.js("return document.querySelector('button[data-verdict]').disabled"), "read-only from the disk")
        check(d.js("return document.getElementById('queue-link') === null"), "no link to a queue an analyze folder does not have on the disk")
        check(d.js("return document.getElementById('report-link').getAttribute('href')") == "sample.report.pdf", "the page links to the report beside it")
        d.wait("return document.getElementById('video').readyState >= 1", "the recording's metadata")
        check(d.js("return document.getElementById('video-msg').hidden"), "the recording plays (no error message)")
        check(d.js("return document.querySelectorAll('#signals svg').length") >= 1, "signals are plotted")
        # clicking an event seeks to shortly before its start
        for i, (kind, start, end) in enumerate(want):
            d.click("li.ev[data-i='%d'] .kind" % i)
            d.wait("return !document.getElementById('video').seeking", "the seek")
            t = d.js("const v = document.getElementById('video'); v.pause(); return v.currentTime")
            check(start - 3.0 <= t <= start + 0.5, "clicking event %d (%s at %.1f s) leaves currentTime %.2f within 3 s before its start" % (i, kind, start, t))
        # the keyboard moves to the next event
        d.click("li.ev[data-i='0'] .kind")
        d.keys("j")
        check(d.js("return window.proctorReview.selected()") == 1, "j moves to the next event")
        check(d.js("return document.querySelector('li.ev.current').dataset.i") == "1", "the next event is marked current")
        d.keys("k")
        check(d.js("return window.proctorReview.selected()") == 0, "k moves back")
        d.keys("]]")
        check(abs(d.js("return document.getElementById('video').playbackRate") - 1.5) < 1e-9, "] plays faster")
        d.keys("[[[[[[[[")
        check(abs(d.js("return document.getElementById('video').playbackRate") - 0.5) < 1e-9, "[ plays slower, down to 0.5x")
        d.js("document.getElementById('video').pause(); document.getElementById('video').currentTime = 10")
        d.keys("\ue012")  # ArrowLeft
        t = d.js("return document.getElementById('video').currentTime")
        check(7.5 <= t <= 8.5, "arrow left seeks back 2 s (%.2f)" % t)
        no_console_errors(d, "the review page from the disk")

        # --- a moved recording: the page says so and still works ---------------------------------
        d.get(spec["moved"])
        d.wait("return !document.getElementById('video-msg').hidden", "the message for a recording not found")
        check("cannot be played" in d.js("return document.getElementById('video-msg').textContent"), "a moved recording is reported on the page")
        check(d.js("return document.querySelectorAll('li.ev[data-kind]').length") == len(want), "the events are listed without the recording")
        d.click("li.ev[data-i='0'] .kind")
        check(d.js("return window.proctorReview.selected()") == 0, "events can be selected without the recording")
        # the one error expected there: the recording's file was not found
        other = [l for l in d.logs() if l.get("level") == "SEVERE" and "ERR_FILE_NOT_FOUND" not in l.get("message", "")]
        check(not other, "no other console error with the recording missing %s" % (json.dumps(other)[:800] if other else ""))

        # --- served by `proctor review`: a verdict is saved and survives a reload --------------
        d.get(spec["server"])
        d.wait("return document.querySelectorAll('#rows tbody tr').length > 0", "the served index")
        d.click("#rows tbody tr a")
        d.wait("return window.proctorReview && window.proctorReview.served", "the served review page")
        d.wait("return document.getElementById('video').readyState >= 1", "the recording over HTTP")
        check(d.js("return document.getElementById('video-msg').hidden"), "the recording plays from the server")
        d.js("const v = document.getElementById('video'); v.currentTime = 5")
        d.wait("return !document.getElementById('video').seeking && document.getElementById('video').readyState >= 2", "a seek over HTTP")
        d.click("li.ev[data-i='0'] button[data-verdict='confirmed']")
        d.wait("return document.getElementById('status').textContent.startsWith('Saved')", "the verdict saved")
        d.click("li.ev[data-i='1'] .kind")
        d.js("document.getElementById('note').value = '<img src=x onerror=\"window.__pwned=1\">second person?'")
        d.click("#current button[data-verdict='dismissed']")
        d.wait("return document.getElementById('status').textContent.startsWith('Saved')", "the second verdict saved")
        d.s("POST", "/refresh", {})
        d.wait("return window.proctorReview && window.proctorReview.served && document.querySelector(\"li.ev[data-i='0'][data-verdict='confirmed']\")",
               "the verdict after a reload")
        check(d.js("return document.querySelector(\"li.ev[data-i='1']\").dataset.verdict") == "dismissed", "both verdicts survive a reload")
        check(d.js("return window.__pwned === undefined"), "the note was not executed")
        no_console_errors(d, "the served review page")

        # --- the index of a batch: priority order, working links -------------------------------
        d.get(spec["index"])
        d.wait("return document.querySelectorAll('#rows tbody tr').length > 0", "the index")
        ids = d.js("return Array.from(document.querySelectorAll('#rows tbody tr')).map(r => r.dataset.id)")
        check(ids == spec["index_order"], "the index lists the recordings in priority order %s" % ids)
        d.js("const q = document.querySelector('#filters input'); q.value = %s; q.dispatchEvent(new Event('input'))" % json.dumps(spec["index_order"][-1][:5]))
        visible = d.js("return Array.from(document.querySelectorAll('#rows tbody tr')).filter(r => !r.hidden).map(r => r.dataset.id)")
        check(spec["index_order"][-1] in visible and len(visible) < len(ids), "the search narrows the rows")
        d.js("const q = document.querySelector('#filters input'); q.value = ''; q.dispatchEvent(new Event('input'))")
        no_console_errors(d, "the index")
        links = d.js("return Array.from(document.querySelectorAll('#rows tbody tr a')).map(a => a.href)")
        check(len(links) >= 1, "the index links to review pages")
        for href in links:
            d.get(href)
            d.wait("return window.proctorReview !== undefined", "the linked page " + href)
            check(d.js("return document.getElementById('queue-link').getAttribute('href')") == "../index.html", "a batch's page links back to its index")
            no_console_errors(d, href)
        check(True, "every link of the index opens its review page")

        # --- 10,000 events stay responsive --------------------------------------------------------
        t0 = time.time()
        d.get(spec["big"])
        d.wait("return window.proctorReview !== undefined", "the big page")
        load_ms = (time.time() - t0) * 1000
        d.keys("j")
        check(d.js("return window.proctorReview.selected()") == 0, "the keyboard answers before the whole list is built")
        d.wait("return window.proctorReview.ready()", "the whole list", timeout=60)
        ready_ms = (time.time() - t0) * 1000
        n = d.js("return document.querySelectorAll('li.ev[data-kind]').length")
        check(n == 10000, "10,000 events listed (%d)" % n)
        # one step and the frame after it, as the browser measures it
        step_ms = d.js("""
            const t = performance.now(); window.proctorReview.select(5000, false);
            document.body.getBoundingClientRect();
            return performance.now() - t;""")
        key_ms = d.js("""
            const t = performance.now();
            document.dispatchEvent(new KeyboardEvent('keydown', {key: 'j', bubbles: true}));
            document.body.getBoundingClientRect();
            return performance.now() - t;""")
        check(d.js("return window.proctorReview.selected()") == 5001, "j on the big page moves on")
        print("measured: big page interactive after %.0f ms, listed whole after %.0f ms, select %.1f ms, key j %.1f ms" % (load_ms, ready_ms, step_ms, key_ms), flush=True)
        check(load_ms < 15000, "the 10,000-event page answers after %.0f ms (< 15 s)" % load_ms)
        check(step_ms < 1000 and key_ms < 1000, "selecting an event among 10,000 takes %.1f/%.1f ms (< 1 s on a loaded machine)" % (step_ms, key_ms))
        no_console_errors(d, "the 10,000-event page")

        # --- an index of 10,000 recordings is usable within a second ------------------------------
        t0 = time.time()
        d.get(spec["big_index"])
        d.wait("return document.body.dataset.ready === 'true' && document.querySelectorAll('#rows tbody tr').length > 0", "the big index")
        index_ms = (time.time() - t0) * 1000
        listed = d.js("return document.querySelectorAll('#rows tbody tr').length")
        total = d.js("return document.querySelector('#filters [role=status]').textContent")
        search_ms = d.js("""const t = performance.now(), q = document.querySelector('#filters input');
            q.value = 'rec-09999'; q.dispatchEvent(new Event('input')); document.body.getBoundingClientRect();
            return performance.now() - t;""")
        found = d.js("return Array.from(document.querySelectorAll('#rows tbody tr')).map(r => r.dataset.id)")
        band_ms = d.js("""const t = performance.now(), q = document.querySelector('#filters input'), b = document.querySelector('#filters select[aria-label=Band]');
            q.value = ''; b.value = 'high'; b.dispatchEvent(new Event('input')); document.body.getBoundingClientRect();
            return performance.now() - t;""")
        high = d.js("return document.querySelector('#filters [role=status]').textContent")
        print("measured: 10,000-recording index usable after %.0f ms (%d rows listed, %s), search %.1f ms, band filter %.1f ms" % (index_ms, listed, total, search_ms, band_ms), flush=True)
        check(listed > 0 and total.startswith("10000 shown"), "the 10,000-recording index lists its first rows (%d) and counts them all (%s)" % (listed, total))
        check(found == ["rec-09999"], "the search finds a row past the ones listed %s" % found)
        check(high.startswith("3333 shown"), "the band filter runs over every row (%s)" % high)
        # the < 1 s target is measured (printed above, and in docs/review.md) on a quiet machine;
        # under a test run's load only a bound far above it fails, so that CI is not timing
        check(index_ms < 10000 and search_ms < 5000 and band_ms < 5000,
              "the 10,000-recording index is usable in %.0f ms, searched in %.0f ms (< 10 s / 5 s on a loaded machine)" % (index_ms, search_ms))
        check(d.rect("#more")["height"] > 0, "a Show more button under the rows")
        d.js("document.getElementById('more').click()")
        check(d.js("return document.querySelectorAll('#rows tbody tr').length") == 400, "Show more lists the next 200")
        no_console_errors(d, "the 10,000-recording index")

        # --- the desk served, restarted, at three sizes, with axe ---------------------------------
        axe_src = open(spec["axe"]).read() if spec.get("axe") else None
        if not axe_src:
            print("axe-core not given: the accessibility check is left out", flush=True)
        served_desk(d, spec, shots, axe_src)
        print("browser checks: all passed", flush=True)
    finally:
        d.quit()


if __name__ == "__main__":
    main()
