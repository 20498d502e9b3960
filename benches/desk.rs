//! The review desk at archive scale: `proctor review` over an `analyze`
//! directory of 10 recordings and one of 10,000 (synthetic outputs: a
//! summary and an events table each, three events per recording), measured
//! in the same run:
//!
//! * a verdict's latency (POST to saved), median of 30, at 10 and at 10,000;
//! * the index: the first load (every summary read) and a load after a
//!   verdict (the rows kept, the counts made again), and its size;
//! * the server's peak resident memory while 100 clients load the index at
//!   once.
//!
//! Run: `cargo bench --profile dev --bench desk`. `cargo test --bench desk`
//! (and `cargo test --all-targets`) runs it with 1,000 recordings instead of
//! 10,000, to check that it works.

mod common;
// the tests' helpers: the blank analysis, raw HTTP requests
#[path = "../tests/util.rs"]
mod util;

use std::path::Path;
use std::time::Instant;

use proctor::kinds::EventKind;
use proctor::records::{Event, Outputs, Summary};

/// `n` recordings' summaries and events tables in `dir`, from one template.
fn archive(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let media = dir.join("rec.webm");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/vp8_noaudio.webm"), &media).unwrap();
    let events: Vec<Event> = [(EventKind::NoFace, 6.0, 12.0), (EventKind::Phone, 20.0, 24.0), (EventKind::Voices, 40.0, 43.5)]
        .iter()
        .map(|&(kind, start_s, end_s)| Event { kind, start_s, end_s, confidence: 0.8, detail: String::new(), evidence_t: start_s })
        .collect();
    let mut a = util::blank_analysis(&events);
    a.info.duration_s = 60.0;
    a.info.path = media;
    for i in 0..n {
        let id = format!("rec{i:05}");
        a.recording = id.clone();
        a.candidate = Some(format!("Candidate {i}"));
        a.score = proctor::score::score(&events[..i % 4], &a.config.policy);
        let out = Outputs::for_recording(dir, &id);
        std::fs::write(&out.summary, serde_json::to_vec(&Summary::of(&a, &out)).unwrap()).unwrap();
        proctor::tables::write_parquet(&out.events, &mut proctor::tables::events_frame(&id, &events)).unwrap();
    }
}

/// Peak resident memory of the server so far (VmHWM), in MB.
fn peak_mb(srv: &util::Server) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", srv.child.id())).unwrap();
    let kb: f64 = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    kb / 1024.0
}

struct Figures {
    verdict_ms: f64,
    index_first_ms: f64,
    index_after_verdict_ms: f64,
    index_cached_ms: f64,
    index_kb: f64,
    /// After the first index load; after 100 concurrent ones.
    peak_first_mb: f64,
    peak_mb: f64,
}

fn measure(dir: &Path) -> Figures {
    let srv = util::Server::start(dir, &[]);
    let (addr, token) = (srv.addr(), srv.token());
    let (addr, token) = (addr.as_str(), token.as_str());
    let index = format!("/?token={token}");
    let t = Instant::now();
    let (status, _, page) = util::http(addr, "GET", &index, &[], b"");
    assert_eq!(status, 200);
    let index_first_ms = t.elapsed().as_secs_f64() * 1e3;
    let hdr = [("X-Proctor-Token", token)];
    let mut i = 0;
    let peak_after_first = peak_mb(&srv);
    let verdict = common::median_time(30, || {
        let v = if i % 2 == 0 { "confirmed" } else { "dismissed" };
        let body = format!(r#"{{"recording":"rec{:05}","kind":"phone","start_s":20,"end_s":24,"verdict":"{v}"}}"#, i % 7);
        i += 1;
        assert_eq!(util::http(addr, "POST", "/api/decisions", &hdr, body.as_bytes()).0, 200);
    });
    let t = Instant::now();
    assert_eq!(util::http(addr, "GET", &index, &[], b"").0, 200);
    let index_after_verdict_ms = t.elapsed().as_secs_f64() * 1e3;
    let cached = common::median_time(5, || assert_eq!(util::http(addr, "GET", &index, &[], b"").0, 200));
    std::thread::scope(|s| {
        for _ in 0..100 {
            s.spawn(|| assert_eq!(util::http(addr, "GET", &index, &[], b"").0, 200));
        }
    });
    Figures {
        verdict_ms: verdict.as_secs_f64() * 1e3,
        index_first_ms,
        index_after_verdict_ms,
        index_cached_ms: cached.as_secs_f64() * 1e3,
        index_kb: page.len() as f64 / 1024.0,
        peak_first_mb: peak_after_first,
        peak_mb: peak_mb(&srv),
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let big = if full { 10_000 } else { 1_000 };
    let tmp = std::env::temp_dir().join(format!("proctor-desk-bench-{}", std::process::id()));
    let t = Instant::now();
    archive(&tmp.join("small"), 10);
    archive(&tmp.join("big"), big);
    eprintln!("desk bench: archives of 10 and {big} recordings made in {:.1} s", t.elapsed().as_secs_f64());
    let small = measure(&tmp.join("small"));
    let large = measure(&tmp.join("big"));
    println!("| recordings | verdict (median of 30) | index, first load | index after a verdict | index, unchanged | index size | server peak RSS after the first load | after 100 concurrent index loads |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (n, f) in [(10, &small), (big, &large)] {
        println!(
            "| {n} | {:.1} ms | {:.0} ms | {:.0} ms | {:.1} ms | {:.0} KB | {:.0} MB | {:.0} MB |",
            f.verdict_ms, f.index_first_ms, f.index_after_verdict_ms, f.index_cached_ms, f.index_kb, f.peak_first_mb, f.peak_mb
        );
    }
    println!("verdict latency at {big} / at 10: {:.2}x", large.verdict_ms / small.verdict_ms);
    let _ = std::fs::remove_dir_all(&tmp);
}
