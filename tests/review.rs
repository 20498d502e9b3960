//! The reviewer's desk: review pages, the index, `proctor review` and
//! `proctor eval --decisions`, over HTTP and in a real browser (headless
//! Chromium through chromedriver, driven by tests/browser/review_check.py).

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::util::*;

const CANDIDATE: &str = "<script>window.__pwned=1</script>Ada & \"Bob\"";

/// One analysis of sample.webm with its review page, shared by the tests
/// (each copies what it changes).
fn analysed() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap().keep();
        let out = d.join("out");
        let r = analyze(&[&fixture("sample.webm")], &out, &["--candidate", CANDIDATE, "--no-objects"]);
        assert_eq!(r.code(), 0, "{}", r.stderr());
        out
    })
}

/// The page's inline data.
fn page_data(html: &str) -> serde_json::Value {
    let start = html.find("<script type=\"application/json\" id=\"data\">").expect("data element") + 42;
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn analyze_writes_a_self_contained_review_page() {
    let out = analysed();
    let html = std::fs::read_to_string(out.join("sample.review.html")).unwrap();
    assert_eq!(html.matches("<video").count(), 1);
    for external in ["src=\"http", "href=\"http", "<link", "@import", "url(http", "//cdn", "<iframe"] {
        assert!(!html.contains(external), "{external} in the page");
    }
    // the name is data, escaped, never markup
    assert!(!html.contains("<script>window.__pwned"));
    assert!(html.contains("Review sample · &lt;script&gt;window.__pwned=1&lt;/script&gt;Ada &amp; &quot;Bob&quot;"));
    let data = page_data(&html);
    assert_eq!(data["candidate"], CANDIDATE);
    let src = data["video_src"].as_str().unwrap();
    assert_eq!(out.join(src.replace("%20", " ")).canonicalize().unwrap(), fixture("sample.webm").canonicalize().unwrap());
    // the events are those of events.parquet, in time order, with their pictures
    let (_, events) = proctor::tables::read_events(&out.join("sample.events.parquet")).unwrap();
    let listed = data["events"].as_array().unwrap();
    assert_eq!(listed.len(), events.len());
    assert!(!events.is_empty());
    for (l, e) in listed.iter().zip(&events) {
        assert_eq!(l["k"], e.kind.as_str());
        assert_eq!(l["s"].as_f64().unwrap(), e.start_s);
        assert_eq!(l["e"].as_f64().unwrap(), e.end_s);
        let p = l["p"].as_i64().unwrap();
        assert!(p >= 0, "event {} has its picture", e.kind);
        assert!(data["pics"][p as usize].as_str().unwrap().starts_with("data:image/jpeg;base64,/9j/"));
    }
    assert!(data["signals"].as_array().unwrap().iter().any(|s| s["name"] == "faces"));
    // the page and the report beside it link to each other, relatively
    assert_eq!(data["report"], "sample.report.pdf");
    assert!(out.join("sample.report.pdf").exists());
    assert_eq!(report_links(&out.join("sample.report.pdf")), ["sample.review.html"]);
}

/// The URLs a PDF links to (`pdfinfo -url`, poppler-utils).
fn report_links(pdf: &Path) -> Vec<String> {
    let o = Command::new("pdfinfo").arg("-url").arg(pdf).output().expect("pdfinfo (poppler-utils, scripts/setup.sh)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // lines: page, type, URL
    String::from_utf8_lossy(&o.stdout).lines().skip(1).filter_map(|l| l.split_whitespace().nth(2).map(str::to_string)).collect()
}

#[test]
fn no_review_page_turns_it_off() {
    let d = tempfile::tempdir().unwrap();
    let r = analyze(&[&fixture("vp8_opus.webm")], d.path(), &["--no-review-page", "--no-objects"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let files = listing(d.path());
    assert!(files.contains(&"vp8_opus.report.pdf".to_string()));
    assert!(!files.iter().any(|f| f.ends_with(".review.html")), "{files:?}");
    assert!(report_links(&d.path().join("vp8_opus.report.pdf")).is_empty(), "no link to a page that was not written");
}

fn verdict_json(rec: &str, kind: &str, s: f64, e: f64, v: &str) -> String {
    serde_json::json!({"recording": rec, "kind": kind, "start_s": s, "end_s": e, "verdict": v, "note": "n"}).to_string()
}

/// The (kind, start, end) of each event a saved analysis holds.
fn events_of(dir: &Path, id: &str) -> Vec<(String, f64, f64)> {
    let (_, events) = proctor::tables::read_events(&dir.join(format!("{id}.events.parquet"))).unwrap();
    events.iter().map(|e| (e.kind.as_str().to_string(), e.start_s, e.end_s)).collect()
}

#[test]
fn review_server_needs_the_token_serves_ranges_and_nothing_else() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    copy_dir(analysed(), &out);
    std::fs::write(d.path().join("secret.txt"), b"secret").unwrap();
    std::os::unix::fs::symlink(d.path().join("secret.txt"), out.join("leak.summary.json")).unwrap();
    let srv = Server::start(&out, &[]);
    let (addr, token) = (srv.addr(), srv.token());
    let q = |p: &str| format!("{p}?token={token}");
    // no token, a wrong one: refused
    assert_eq!(http(&addr, "GET", "/", &[], b"").0, 403);
    assert_eq!(http(&addr, "GET", "/?token=nope", &[], b"").0, 403);
    // a browser with a token that is not the current one is told why, plainly
    let (status, head, body) = http(&addr, "GET", "/sample.review.html?token=0123", &[("Accept", "text/html,*/*")], b"");
    assert_eq!(status, 403);
    assert!(head.to_ascii_lowercase().contains("content-type: text/html"), "{head}");
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("restarted with a new token") && body.contains("Open the URL"), "{body}");
    let (status, _, body) = http(&addr, "GET", "/", &[("Accept", "text/html")], b"");
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("needs the review token"));
    let (_, _, body) = http(&addr, "GET", "/api/status", &[("X-Proctor-Token", "0123")], b"");
    assert!(String::from_utf8_lossy(&body).starts_with("This link's token is out of date."));
    let (status, head, body) = http(&addr, "GET", &q("/"), &[], b"");
    assert_eq!(status, 200);
    // no cookie: cookies ignore ports, so one would reach every other service on this host
    assert!(!head.to_ascii_lowercase().contains("set-cookie"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("sample.review.html"));
    let cookie = format!("proctor_token={token}");
    assert_eq!(http(&addr, "GET", "/sample.review.html", &[("Cookie", &cookie)], b"").0, 403);
    let (status, _, body) = http(&addr, "GET", &q("/sample.review.html"), &[], b"");
    assert_eq!(status, 200);
    let page = String::from_utf8_lossy(&body);
    assert!(page.contains("/media/sample?token="), "the served page names the recording's URL");
    // the recording, by range
    let size = std::fs::metadata(fixture("sample.webm")).unwrap().len();
    let whole = std::fs::read(fixture("sample.webm")).unwrap();
    let (status, head, body) = http(&addr, "GET", &q("/media/sample"), &[("Range", "bytes=100-1099")], b"");
    assert_eq!(status, 206, "{head}");
    assert!(head.to_ascii_lowercase().contains(&format!("content-range: bytes 100-1099/{size}")), "{head}");
    assert_eq!(body, whole[100..1100].to_vec());
    // several ranges, or a garbled one: the whole file (RFC 9110 lets a server ignore Range), not 416
    for range in ["bytes=0-9,20-29", "bytes=abc", "bytes=10-5", "chars=0-9", "bytes=-"] {
        let (status, head, body) = http(&addr, "GET", &q("/media/sample"), &[("Range", range)], b"");
        assert_eq!(status, 200, "{range}: {head}");
        assert_eq!(body.len(), whole.len(), "{range}");
    }
    // a range past the end is still unsatisfiable
    assert_eq!(http(&addr, "GET", &q("/media/sample"), &[("Range", &format!("bytes={}-", size + 10))], b"").0, 416);
    // nothing else
    for bad in ["/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "//etc/passwd", "/%2fetc%2fpasswd", "/leak.summary.json", "/media/other", "/sample.frames.parquet/x"] {
        assert_eq!(http(&addr, "GET", &q(bad), &[], b"").0, 404, "{bad}");
    }
    assert_eq!(http(&addr, "GET", &q("/sample.events.parquet"), &[], b"").0, 200);
    // the queue, for a page to move on: the index's rows with their links
    let (status, _, body) = http(&addr, "GET", &q("/api/queue"), &[], b"");
    assert_eq!(status, 200);
    let queue: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!((queue[0]["id"].as_str(), queue[0]["link"].as_str()), (Some("sample"), Some("sample.review.html")));
    // the token file is not served
    assert_eq!(http(&addr, "GET", &q("/.proctor-review-token"), &[], b"").0, 404);
    // verdicts need the token itself, in the header
    let events = events_of(&out, "sample");
    assert!(events.len() >= 2, "{events:?}");
    let (k0, s0, e0) = events[0].clone();
    let v = verdict_json("sample", &k0, s0, e0, "confirmed");
    assert_eq!(http(&addr, "POST", "/api/decisions", &[("Cookie", &cookie)], v.as_bytes()).0, 403);
    assert_eq!(http(&addr, "POST", &q("/api/decisions"), &[], v.as_bytes()).0, 403);
    let tok = [("X-Proctor-Token", token.as_str())];
    assert_eq!(http(&addr, "POST", "/api/decisions", &tok, verdict_json("nobody", &k0, s0, e0, "confirmed").as_bytes()).0, 404);
    assert_eq!(http(&addr, "POST", "/api/decisions", &tok, verdict_json("sample", &k0, s0, e0, "maybe").as_bytes()).0, 400);
    // a verdict on an event the recording does not hold: refused, whatever its kind and time
    for (kind, s, e) in [(k0.as_str(), s0 + 0.5, e0), ("phone", s0, e0), ("book", 1e300, 1e300), (k0.as_str(), 1.0, 2.0)] {
        let (status, _, body) = http(&addr, "POST", "/api/decisions", &tok, verdict_json("sample", kind, s, e, "confirmed").as_bytes());
        assert_eq!(status, 404, "{kind} {s} {e}: {}", String::from_utf8_lossy(&body));
    }
    assert!(!out.join("decisions.parquet").exists());
    // two reviewers saving at once lose nothing (each flips the verdicts of every event)
    std::thread::scope(|s| {
        for who in 0..2 {
            let (addr, tok, events) = (&addr, &tok, &events);
            s.spawn(move || {
                for i in 0..10 {
                    let (k, st, en) = &events[(who + i) % events.len()];
                    let v = verdict_json("sample", k, *st, *en, "dismissed");
                    assert_eq!(http(addr, "POST", "/api/decisions", tok, v.as_bytes()).0, 200);
                }
            });
        }
    });
    assert_eq!(std::fs::read_to_string(out.join("decisions.jsonl")).unwrap().lines().count(), 20);
    let (status, _, body) = http(&addr, "POST", "/api/decisions", &tok, v.as_bytes());
    assert_eq!(status, 200);
    let saved: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(saved["reviewer"], "tester");
    // the verdict names the analysis it was given on
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("sample.summary.json")).unwrap()).unwrap();
    assert_eq!(saved["input_sha256"], summary["sha256"]);
    assert_eq!(saved["config"].as_str().unwrap().len(), 16);
    let r = run(&["eval", "--decisions", out.to_str().unwrap(), "--json"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let e: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
    let n = events.len() as u64;
    assert_eq!(e["all"]["reviewed"], n);
    assert_eq!(e["all"]["confirmed"], 1);
    assert_eq!(e["all"]["dismissed"], n - 1);
    assert_eq!(e["orphans"], 0);
    assert_eq!(e["kinds"][&k0]["precision"], 1.0);
    let (_, _, body) = http(&addr, "GET", &q("/api/decisions"), &[], b"");
    assert_eq!(serde_json::from_slice::<Vec<serde_json::Value>>(&body).unwrap().len(), events.len());
    drop(srv);
    let text = run(&["eval", "--decisions", out.to_str().unwrap()]).stdout();
    assert!(text.contains(&format!("| {k0} | 1 | 1 | 0 | 100.0% |")), "{text}");
    assert_eq!(run(&["eval", "--decisions", d.path().to_str().unwrap()]).code(), 2);
}

/// The index's "reviewed" count of a recording, from the served index's data.
fn reviewed_in_index(addr: &str, token: &str, id: &str) -> u64 {
    let (status, _, body) = http(addr, "GET", &format!("/?token={token}"), &[], b"");
    assert_eq!(status, 200);
    let data = page_data(&String::from_utf8_lossy(&body));
    data["rows"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap()["reviewed"].as_u64().unwrap()
}

/// A copy of the analysed sample served by `proctor review`, with its events.
fn served_copy() -> (tempfile::TempDir, PathBuf, Vec<(String, f64, f64)>, Server) {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    copy_dir(analysed(), &out);
    let events = events_of(&out, "sample");
    let srv = Server::start(&out, &[]);
    (d, out, events, srv)
}

#[test]
fn verdicts_on_events_that_are_gone_are_orphans_not_counted() {
    let (d, out, events, srv) = served_copy();
    let (addr, token) = (srv.addr(), srv.token());
    let tok = [("X-Proctor-Token", token.as_str())];
    for (k, s, e) in &events {
        assert_eq!(http(&addr, "POST", "/api/decisions", &tok, verdict_json("sample", k, *s, *e, "confirmed").as_bytes()).0, 200);
    }
    assert_eq!(reviewed_in_index(&addr, &token, "sample"), events.len() as u64);
    // analysed again under a configuration that raises no no_face event
    assert!(events.iter().any(|(k, _, _)| k == "no_face"), "{events:?}");
    let cfg = d.path().join("strict.toml");
    std::fs::write(&cfg, "[rules.no_face]\nmin_s = 60\n").unwrap();
    let r = analyze(&[&fixture("sample.webm")], &out, &["--config", cfg.to_str().unwrap(), "--no-objects"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let now = events_of(&out, "sample");
    let gone = events.iter().filter(|e| !now.contains(e)).count();
    assert!(gone >= 1 && !now.is_empty(), "{events:?} -> {now:?}");
    // the index, the page's verdicts and eval count only the verdicts on events that still exist
    assert_eq!(reviewed_in_index(&addr, &token, "sample"), (events.len() - gone) as u64);
    let (_, _, body) = http(&addr, "GET", &format!("/api/decisions?recording=sample&token={token}"), &[], b"");
    assert_eq!(serde_json::from_slice::<Vec<serde_json::Value>>(&body).unwrap().len(), events.len() - gone);
    let r = run(&["eval", "--decisions", out.to_str().unwrap(), "--json"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let e: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
    assert_eq!(e["all"]["reviewed"], (events.len() - gone) as u64);
    assert_eq!(e["orphans"], gone as u64);
    assert!(r.stderr().contains("no no_face event at") && r.stderr().contains("not counted"), "{}", r.stderr());
    // the recording's outputs deleted: all its verdicts are orphans
    for f in listing(&out) {
        if f.starts_with("sample.") {
            std::fs::remove_file(out.join(f)).unwrap();
        }
    }
    let r = run(&["eval", "--decisions", out.to_str().unwrap(), "--json"]);
    let e: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
    assert_eq!(e["all"]["reviewed"], 0);
    assert_eq!(e["orphans"], events.len() as u64);
    assert!(r.stderr().contains("has no outputs here any more"), "{}", r.stderr());
}

#[test]
fn verdicts_are_per_reviewer_can_be_taken_back_and_misses_can_be_marked() {
    let (_d, out, events, srv) = served_copy();
    let (addr, token) = (srv.addr(), srv.token());
    let tok = [("X-Proctor-Token", token.as_str())];
    let post = |rec: &str, kind: &str, s: f64, e: f64, v: &str, who: &str| {
        let mut body: serde_json::Value = serde_json::from_str(&verdict_json(rec, kind, s, e, v)).unwrap();
        body["reviewer"] = serde_json::json!(who);
        let (status, _, body) = http(&addr, "POST", "/api/decisions", &tok, body.to_string().as_bytes());
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    let (k0, s0, e0) = events[0].clone();
    let (k1, s1, e1) = events[1].clone();
    // two reviewers, named by the page, disagree on the first event: both kept
    assert_eq!(post("sample", &k0, s0, e0, "confirmed", "Ada").0, 200);
    assert_eq!(post("sample", &k0, s0, e0, "dismissed", "Bob").0, 200);
    // no name from the page: the server's --reviewer
    let (status, body) = post("sample", &k1, s1, e1, "confirmed", "  ");
    assert_eq!(status, 200);
    assert!(body.contains("\"reviewer\":\"tester\""), "{body}");
    // then taken back: unreviewed again
    assert_eq!(post("sample", &k1, s1, e1, "cleared", "tester").0, 200);
    let (_, _, body) = http(&addr, "GET", &format!("/api/decisions?recording=sample&token={token}"), &[], b"");
    let flags: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
    assert_eq!(flags.len(), 2, "{flags:?}");
    assert!(flags.iter().all(|f| f["kind"] == k0.as_str()));
    // a miss marked on the timeline: any kind, a span within the recording
    assert_eq!(post("sample", "phone", 1.0, 2.5, "missed", "Ada").0, 200);
    assert_eq!(post("sample", "phone", 1.0, 500.0, "missed", "Ada").0, 400);
    assert_eq!(post("sample", "phone", 2.0, 2.0, "missed", "Ada").0, 400);
    let (_, _, body) = http(&addr, "GET", &format!("/api/missed?recording=sample&token={token}"), &[], b"");
    let marks: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
    assert_eq!(marks.len(), 1);
    assert_eq!((marks[0]["kind"].as_str(), marks[0]["start_s"].as_f64()), (Some("phone"), Some(1.0)));
    // the index: one event reviewed, one disagreement, one miss
    let (_, _, body) = http(&addr, "GET", &format!("/?token={token}"), &[], b"");
    let row = page_data(&String::from_utf8_lossy(&body))["rows"][0].clone();
    assert_eq!((row["reviewed"].as_u64(), row["disagreements"].as_u64(), row["missed"].as_u64()), (Some(1), Some(1), Some(1)), "{row}");
    // the CSV, from the server and from eval
    let (status, head, body) = http(&addr, "GET", &format!("/api/decisions.csv?token={token}"), &[], b"");
    assert_eq!(status, 200);
    assert!(head.to_ascii_lowercase().contains("content-type: text/csv"), "{head}");
    let csv = String::from_utf8(body).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    let r = run(&["eval", "--decisions", out.to_str().unwrap(), "--csv"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(r.stdout().trim_end(), csv.trim_end());
    assert!(csv.contains(",missed,Ada,") && csv.contains(",cleared,tester,"), "{csv}");
    // eval: the verdict given last counts, the disagreement is said, recall from the marks
    let r = run(&["eval", "--decisions", out.to_str().unwrap(), "--json"]);
    let e: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
    assert_eq!((e["all"]["reviewed"].as_u64(), e["all"]["dismissed"].as_u64(), e["disagreements"].as_u64()), (Some(1), Some(1), Some(1)), "{e}");
    assert_eq!(e["kinds"]["phone"]["missed"], 1);
    assert_eq!(e["kinds"]["phone"]["recall"], 0.0);
    let text = run(&["eval", "--decisions", out.to_str().unwrap()]).stdout();
    assert!(text.contains("a miss nobody marked is not counted") && text.contains("| phone | 0 | 1 | 0.0% |"), "{text}");
}

#[test]
fn a_file_at_the_recordings_place_that_is_not_it_is_not_played() {
    let d = tempfile::tempdir().unwrap();
    // the outputs name the recording by a relative path, as `analyze` run from d would
    let out = d.path().join("out");
    std::fs::copy(fixture("sample.webm"), d.path().join("rec.webm")).unwrap();
    let r = proctor().current_dir(d.path()).args(["analyze", "-q", "--no-objects", "-o", "out", "rec.webm"]).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    // the server runs elsewhere, where another rec.webm lies in its working directory
    let elsewhere = d.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("rec.webm"), b"not the recording").unwrap();
    let srv = Server::spawn(proctor().current_dir(&elsewhere).args(["review", out.to_str().unwrap()]).stderr(Stdio::null()));
    let (addr, token) = (srv.addr(), srv.token());
    let (status, _, body) = http(&addr, "GET", &format!("/media/rec?token={token}"), &[], b"");
    assert_eq!(status, 200);
    assert_eq!(body, std::fs::read(fixture("sample.webm")).unwrap(), "the analysed recording, found beside the outputs");
    // the recording replaced by another file: not played, and the page says why
    std::fs::write(d.path().join("rec.webm"), b"another video").unwrap();
    assert_eq!(http(&addr, "GET", &format!("/media/rec?token={token}"), &[], b"").0, 404);
    let (_, _, body) = http(&addr, "GET", &format!("/rec.review.html?token={token}"), &[], b"");
    let page = String::from_utf8_lossy(&body);
    assert!(page.contains("sha256 differs"), "the page says the file is not the one analysed");
    assert!(!page.contains("/media/rec?token="), "no media URL for a file that is not the recording");
    // gone: the page names where the server looked
    std::fs::remove_file(d.path().join("rec.webm")).unwrap();
    let (_, _, body) = http(&addr, "GET", &format!("/rec.review.html?token={token}"), &[], b"");
    let page = String::from_utf8_lossy(&body);
    assert!(page.contains("looked for it at") && page.contains(&elsewhere.join("rec.webm").display().to_string()), "{page}");
}

#[test]
fn a_verdicts_table_it_cannot_read_stops_the_server_before_it_writes() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    copy_dir(analysed(), &out);
    let garbage = b"PAR1 a table cut short";
    std::fs::write(out.join("decisions.parquet"), garbage).unwrap();
    let r = proctor().args(["review", out.to_str().unwrap()]).output().unwrap();
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("decisions.parquet") && err.contains("will not write over it"), "{err}");
    assert_eq!(std::fs::read(out.join("decisions.parquet")).unwrap(), garbage);
}

#[test]
fn idle_connections_are_closed_and_running_out_of_descriptors_does_not_spin() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    copy_dir(analysed(), &out);
    // a low descriptor limit for the server only (prlimit, from util-linux)
    if !have("prlimit") {
        skip("idle_connections_are_closed_and_running_out_of_descriptors_does_not_spin: prlimit not installed");
        return;
    }
    let srv = Server::spawn(
        Command::new("prlimit")
            .arg("--nofile=64:64")
            .arg(env!("CARGO_BIN_EXE_proctor"))
            .args(["review", out.to_str().unwrap(), "--idle-timeout", "2"])
            .stderr(Stdio::null()),
    );
    let addr = srv.addr();
    // an idle connection is closed once the timeout has passed
    let mut idle = TcpStream::connect(&addr).unwrap();
    idle.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let t0 = std::time::Instant::now();
    let mut buf = [0u8; 16];
    let n = idle.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without an answer");
    assert!(t0.elapsed() < std::time::Duration::from_secs(15), "{:?}", t0.elapsed());
    // more connections than descriptors: the server waits, it does not spin
    let pid = srv.child.id();
    let cpu = || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let f: Vec<u64> = stat.rsplit(')').next().unwrap().split_whitespace().skip(11).take(2).map(|x| x.parse().unwrap()).collect();
        f[0] + f[1]
    };
    let held: Vec<TcpStream> = (0..100).filter_map(|_| TcpStream::connect(&addr).ok()).collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (c0, t0) = (cpu(), std::time::Instant::now());
    std::thread::sleep(std::time::Duration::from_secs(1));
    let ticks = (cpu() - c0) as f64;
    let hz = 100.0;
    let share = ticks / hz / t0.elapsed().as_secs_f64();
    assert!(share < 0.3, "the server used {:.0}% of a core while out of descriptors", share * 100.0);
    drop(held);
    // and answers again once they are closed (the idle ones time out)
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(http(&addr, "GET", &format!("/?token={}", srv.token()), &[], b"").0, 200);
}

fn which(names: &[&str]) -> Option<PathBuf> {
    for n in names {
        let p = Path::new(n);
        if p.is_absolute() && p.exists() {
            return Some(p.to_path_buf());
        }
        if let Ok(o) = Command::new("sh").arg("-c").arg(format!("command -v {n}")).output() {
            let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if o.status.success() && !s.is_empty() {
                return Some(PathBuf::from(s));
            }
        }
    }
    None
}

fn file_url(p: &Path) -> String {
    let p = p.canonicalize().unwrap();
    "file://".to_string() + &p.to_string_lossy().split('/').map(proctor::review::encode_segment).collect::<Vec<_>>().join("/")
}

/// The page of sample.webm with 10,000 events (the analysis without models,
/// its events made up), written beside the shared analysis's recording URL.
fn big_page(dir: &Path) -> PathBuf {
    use proctor::events::{Event, EventKind};
    let settings = proctor::analyze::Settings { config: Default::default(), models: Default::default(), threads: 2 };
    let mut a = proctor::analyze::analyze(&fixture("sample.webm"), &settings, &proctor::progress::NoProgress).unwrap();
    a.recording = "big".into();
    a.info.duration_s = 3600.0;
    a.events = (0..10_000)
        .map(|i| {
            let s = i as f64 * 0.36;
            Event { kind: EventKind::ALL[i % 6], start_s: s, end_s: s + 2.0, confidence: 0.5, detail: format!("event {i} <b>x</b>"), evidence_t: s }
        })
        .collect();
    let ctx = proctor::review::page::PageContext {
        candidate: Some("Big".into()),
        video_src: proctor::review::relative_url(dir, &fixture("sample.webm")),
        ..Default::default()
    };
    let p = dir.join("big.review.html");
    std::fs::write(&p, proctor::review::page::render(&a, &[], &ctx)).unwrap();
    p
}

/// An index of 10,000 recordings (no pages behind it: only how fast the queue is usable).
fn big_index(dir: &Path) -> PathBuf {
    use proctor::kinds::EventKind;
    let rows: Vec<proctor::review::index::IndexRow> = (0..10_000)
        .map(|i| proctor::review::index::IndexRow {
            id: format!("rec-{i:05}"),
            candidate: Some(format!("Candidate {i}")),
            path: format!("in/rec-{i:05}.webm"),
            status: "ok".into(),
            error: None,
            score: Some((i % 100) as f64),
            band: Some(["low", "medium", "high"][i % 3].into()),
            duration_s: Some(600.0),
            events: Some((i % 7) as u64),
            counts: EventKind::ALL
                .iter()
                .enumerate()
                .map(|(k, &kind)| (kind, Some(proctor::records::KindCount { count: (i + k) % 3, total_s: 2.0 })))
                .collect(),
            link: Some(format!("recordings/rec-{i:05}.review.html")),
            reviewed: i % 5,
            disagreements: usize::from(i % 50 == 0),
            missed: usize::from(i % 40 == 0),
        })
        .collect();
    let p = dir.join("big-index.html");
    std::fs::write(&p, proctor::review::index::render("10,000 recordings", &rows)).unwrap();
    p
}

#[test]
fn review_desk_in_a_browser() {
    let (Some(chromium), Some(driver)) = (which(&["chromium", "chromium-browser"]), which(&["chromedriver", "/usr/lib/chromium/chromedriver"])) else {
        assert!(std::env::var_os("CI").is_none(), "CI runs the browser tests: scripts/setup.sh installs chromium and chromium-driver");
        eprintln!("SKIPPED: review_desk_in_a_browser: chromium or chromedriver not installed (scripts/setup.sh installs them)");
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    copy_dir(analysed(), &out);
    // a copy of the page where the recording is not reachable
    let moved = d.path().join("a/b/c/d/e");
    std::fs::create_dir_all(&moved).unwrap();
    std::fs::copy(out.join("sample.review.html"), moved.join("sample.review.html")).unwrap();
    // a batch of 12: eleven recordings and one that fails; besides the fixtures, copies of
    // them under other names in nested folders (two of sample.webm, for the keyboard review's
    // two passes, and short ones that are quick to analyse)
    let inputs = d.path().join("in");
    let copies = [
        ("sample.webm", "sample.webm"),
        ("vp8_opus.webm", "vp8_opus.webm"),
        ("speech_noface.webm", "speech_noface.webm"),
        ("notvideo.mp4", "notvideo.mp4"),
        ("sample.webm", "desk/one/alpha.webm"),
        ("sample.webm", "desk/two/deep/beta.webm"),
        ("speech_noface.webm", "talk/gamma.webm"),
        ("speech_noface.webm", "talk/later/delta.webm"),
        ("speech_noface.webm", "talk/later/epsilon.webm"),
        ("vp8_opus.webm", "quiet/zeta.webm"),
        ("vp8_opus.webm", "quiet/eta.webm"),
        ("vp8_opus.webm", "quiet/more/theta.webm"),
    ];
    for (f, to) in copies {
        let to = inputs.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(fixture(f), to).unwrap();
    }
    let archive = d.path().join("archive");
    let r = run(&["batch", "-q", inputs.to_str().unwrap(), "-o", archive.to_str().unwrap(), "--no-objects"]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(archive.join("index.html").exists());
    let rows = proctor::review::index::rows_from_dir(&archive, &proctor::review::catalog::Catalog::new(&archive));
    assert_eq!(rows.len(), 12);
    assert_eq!(rows[0].status.as_str(), "error", "the failed recording first");
    let scores: Vec<f64> = rows[1..].iter().map(|r| r.score.unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] <= w[1]), "{scores:?}");
    let order: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let big = big_page(&out);
    let big_index = big_index(d.path());
    let (_, events) = proctor::tables::read_events(&out.join("sample.events.parquet")).unwrap();
    let srv = Server::start(&out, &[]);
    let shots = std::env::var_os("PROCTOR_SCREENSHOTS").map(PathBuf::from);
    // axe-core, fetched by tests/browser/fetch_axe.sh (scripts/setup.sh --test-data)
    let axe = std::env::var_os("PROCTOR_AXE").map(PathBuf::from).unwrap_or_else(|| root().join("target/axe-core/axe.min.js"));
    let axe = axe.is_file().then_some(axe);
    let spec = serde_json::json!({
        "chromium": chromium, "chromedriver": driver,
        "page": file_url(&out.join("sample.review.html")),
        "moved": file_url(&moved.join("sample.review.html")),
        "events": events.iter().map(|e| serde_json::json!([e.kind.as_str(), e.start_s, e.end_s])).collect::<Vec<_>>(),
        "server": srv.url,
        "index": file_url(&archive.join("index.html")),
        "index_order": order,
        "big": file_url(&big),
        "big_index": file_url(&big_index),
        "screenshots": shots,
        "proctor": env!("CARGO_BIN_EXE_proctor"),
        "archive": archive,
        "axe": axe,
        "keyboard_out": d.path().join("keyboard.json"),
    });
    let spec_path = d.path().join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let o = Command::new("python3").arg(root().join("tests/browser/review_check.py")).arg(&spec_path).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    eprintln!("{text}");
    assert!(o.status.success(), "browser checks failed:\n{text}");
    // the verdicts the browser gave are in decisions.parquet
    let ds = proctor::review::decisions::read_table(&out.join("decisions.parquet")).unwrap();
    assert_eq!(ds.len(), 2, "{ds:?}");
    assert_eq!((ds[0].kind, ds[0].start_s, ds[0].end_s), (events[0].kind, events[0].start_s, events[0].end_s));
    assert_eq!(ds[0].verdict, proctor::review::decisions::Verdict::Confirmed);
    assert_eq!(ds[1].verdict, proctor::review::decisions::Verdict::Dismissed);
    assert!(ds[1].note.starts_with("<img src=x"), "the note is kept as written");
    assert_eq!(ds[1].reviewer, "tester");
    // the verdicts given with the keyboard on the batch, the note kept across a reload among them
    let ds = proctor::review::decisions::read_latest(&archive).unwrap();
    let (_, sample) = proctor::tables::read_events(&archive.join("recordings/sample.events.parquet")).unwrap();
    let on = |i: usize| ds.iter().find(|d| d.recording == "sample" && (d.kind, d.start_s, d.end_s) == (sample[i].kind, sample[i].start_s, sample[i].end_s));
    assert_eq!(on(0).map(|d| d.verdict), Some(proctor::review::decisions::Verdict::Confirmed), "Space on Confirm: {ds:?}");
    assert_eq!(on(1).map(|d| d.verdict), Some(proctor::review::decisions::Verdict::Dismissed), "Enter on Dismiss: {ds:?}");
    assert_eq!(on(2).map(|d| d.verdict), Some(proctor::review::decisions::Verdict::Dismissed), "x after a plain restart: {ds:?}");
    let last = on(sample.len() - 1).expect("the last event's verdict");
    assert_eq!(last.note, "keep me", "the note typed before the reload is the one saved");
    // every verdict, each reviewer's: the one given as "Ada" (a name set in the page), the one
    // taken back with u, and the missed mark
    use proctor::review::decisions::Verdict;
    let all = proctor::review::decisions::read_table(&archive.join("decisions.parquet")).unwrap();
    let (journal, _) = proctor::review::decisions::read_journal(&archive).unwrap();
    assert!(all.iter().any(|d| d.reviewer == "Ada" && d.verdict == Verdict::Dismissed), "a verdict as Ada: {all:?}");
    assert!(journal.iter().any(|d| d.reviewer == "tester" && d.verdict == Verdict::Cleared), "u took a verdict back: {journal:?}");
    let miss = all.iter().find(|d| d.verdict == Verdict::Missed && d.recording == "sample").expect("the missed mark in decisions.parquet");
    assert_eq!((miss.recording.as_str(), miss.reviewer.as_str(), miss.note.as_str()), ("sample", "Ada", "on the desk"), "{miss:?}");
    let r = run(&["eval", "--decisions", archive.to_str().unwrap(), "--json"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let e: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
    let k = &e["kinds"][miss.kind.as_str()];
    assert!(k["missed"].as_u64() >= Some(1) && k["recall"].is_number(), "eval counts the mark and a recall: {e}");
    assert!(e["disagreements"].as_u64() >= Some(1), "Ada and tester differ on an event: {e}");
    // the keyboard review: at 1440x900 as Ada, at 390x844 (after a restart) as Grace, each on
    // its own recording: confirmed, cleared with u, dismissed with a note, a missed mark
    let passes: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.path().join("keyboard.json")).unwrap()).unwrap();
    let csv = run(&["eval", "--decisions", archive.to_str().unwrap(), "--csv"]);
    assert_eq!(csv.code(), 0, "{}", csv.stderr());
    let csv = csv.stdout();
    for (pass, who, tag, kind) in [("wide", "Ada", "1440", "looking_away"), ("narrow", "Grace", "390", "voices")] {
        let rec = passes[pass].as_str().unwrap();
        let (_, evs) = proctor::tables::read_events(&archive.join(format!("recordings/{rec}.events.parquet"))).unwrap();
        let on = |i: usize| {
            all.iter()
                .find(|d| d.recording == rec && d.reviewer == who && (d.kind, d.start_s, d.end_s) == (evs[i].kind, evs[i].start_s, evs[i].end_s))
                .unwrap_or_else(|| panic!("{pass}: event {i} of {rec} by {who} in decisions.parquet: {all:?}"))
        };
        assert_eq!(on(0).verdict, Verdict::Confirmed, "{pass}: c");
        assert_eq!(on(1).verdict, Verdict::Cleared, "{pass}: x then u");
        assert_eq!((on(2).verdict, on(2).note.as_str()), (Verdict::Dismissed, format!("{tag} note").as_str()), "{pass}: a note, then x");
        let m = all.iter().find(|d| d.recording == rec && d.verdict == Verdict::Missed).unwrap_or_else(|| panic!("{pass}: the missed mark: {all:?}"));
        assert_eq!((m.kind.as_str(), m.reviewer.as_str(), m.note.as_str()), (kind, who, format!("missed at {tag}").as_str()), "{pass}: {m:?}");
        assert!((m.end_s - m.start_s - 2.0).abs() < 0.15, "{pass}: the end typed: {m:?}");
        for want in [format!("{rec},"), format!(",missed,{who},"), format!("missed at {tag}"), format!(",confirmed,{who},")] {
            assert!(csv.contains(&want), "{pass}: eval --csv has {want:?}:\n{csv}");
        }
        let k = &e["kinds"][kind];
        assert!(k["missed"].as_u64() >= Some(1) && k["recall"].is_number(), "{pass}: eval --json counts the {kind} mark and a recall: {e}");
    }
    // sample's verdicts and marks and the two passes': reviewed on three recordings, three marks
    assert!(e["recordings"].as_u64() >= Some(3) && e["all"]["reviewed"].as_u64() >= Some(6) && e["all"]["missed"].as_u64() >= Some(3), "eval --json counts both passes: {e}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(archive.join(".proctor-review-token")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    if axe.is_none() {
        skip("axe-core is not in target/axe-core (tests/browser/fetch_axe.sh fetches it): the accessibility check did not run");
    }
}

/// The server listens on loopback unless told otherwise, and then warns;
/// on loopback it does not.
#[test]
fn review_warns_when_it_listens_beyond_loopback() {
    let stderr_of = |extra: &[&str]| -> String {
        let mut server = Server::start(analysed(), extra);
        let mut err = BufReader::new(server.child.stderr.take().unwrap());
        // the serving line comes after any warning
        let mut lines = String::new();
        while !lines.contains("proctor: serving") {
            let mut line = String::new();
            if err.read_line(&mut line).unwrap() == 0 {
                break;
            }
            lines.push_str(&line);
        }
        lines
    };
    let wide = stderr_of(&["--listen", "0.0.0.0"]);
    assert!(wide.contains("proctor: warning: listening on 0.0.0.0 (not loopback only)"), "{wide}");
    let local = stderr_of(&[]);
    assert!(local.contains("proctor: serving") && !local.contains("warning"), "{local}");
}
