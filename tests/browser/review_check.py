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
a page with 10,000 events), screenshots (a directory, or null). Prints one line per
check and exits non-zero on the first failure.
"""
import base64
import json
import os
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

    def logs(self):
        return self.s("POST", "/se/log", {"type": "browser"})

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
        if shots:
            d.js("window.proctorReview.select(1, false); document.getElementById('video').pause()")
            time.sleep(0.5)
            d.screenshot(os.path.join(shots, "review-page.png"))

        # --- a moved recording: the page says so and still works ---------------------------------
        d.get(spec["moved"])
        d.wait("return !document.getElementById('video-msg').hidden", "the message for a recording not found")
        check("cannot be played" in d.js("return document.getElementById('video-msg').textContent"), "a moved recording is reported on the page")
        check(d.js("return document.querySelectorAll('li.ev[data-kind]').length") == len(want), "the events are listed without the recording")
        d.click("li.ev[data-i='0'] .kind")
        check(d.js("return window.proctorReview.selected()") == 0, "events can be selected without the recording")

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
        if shots:
            d.screenshot(os.path.join(shots, "index.png"))
        links = d.js("return Array.from(document.querySelectorAll('#rows tbody tr a')).map(a => a.href)")
        check(len(links) >= 1, "the index links to review pages")
        for href in links:
            d.get(href)
            d.wait("return window.proctorReview !== undefined", "the linked page " + href)
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
        print("browser checks: all passed", flush=True)
    finally:
        d.quit()


if __name__ == "__main__":
    main()
