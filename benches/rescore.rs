//! `proctor rescore` against analysing again, in the same run: the rules on
//! an hour of a recording's saved observations, and a batch output directory
//! of saved analyses rescored under another configuration, against the time
//! one analysis of the same recording takes.
//!
//! The recording is `fixtures/sample.webm` (analysed once here: that time is
//! the yardstick). The hour is its observations repeated end to end; the
//! batch is its saved outputs under 1,000 recording ids (50 under `cargo
//! test`), rescored with `--no-reports` on every core.
//!
//! Run: `cargo bench --profile dev --bench rescore`.

use std::path::PathBuf;
use std::time::Instant;

use proctor::analyze::{analyze_with, Settings};
use proctor::config::Config;
use proctor::detect::models::{load, Which};
use proctor::progress::NoProgress;
use proctor::records::{Row, Status};
use proctor::save::WriteOptions;

mod common;

fn main() {
    proctor::detect::models::one_thread_per_network_at_start();
    let full = std::env::args().any(|a| a == "--bench");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let models = load(None, Which { faces: true, objects: true, hands: true, speech: true, identity: true }).unwrap();
    let settings = Settings { config: Config::default(), models, threads };
    let clip = root.join("fixtures/sample.webm");

    // the yardstick: one analysis of the recording
    let t = Instant::now();
    let a = analyze_with(&clip, &settings, None, &NoProgress).unwrap();
    let analyse_s = t.elapsed().as_secs_f64();
    println!("analyse {} ({:.1} s of media): {analyse_s:.2} s", clip.display(), a.info.duration_s);

    // the rules on an hour of observations (the clip's, end to end)
    let period = a.observations.len() as f64 / a.config.analysis.fps;
    let copies = (3600.0 / period).ceil() as usize;
    let mut hour = Vec::with_capacity(a.observations.len() * copies);
    for c in 0..copies {
        for o in &a.observations {
            let mut o = o.clone();
            o.index += c * a.observations.len();
            o.t += c as f64 * period;
            hour.push(o);
        }
    }
    let stricter: Config = toml::from_str("[rules.no_face]\nmin_s = 3.0\n[rules.phone]\nmin_score = 0.2\n").unwrap();
    let rules = common::median_time(3, || {
        let f = proctor::events::detect_events(&hour, stricter.analysis.fps, &stricter);
        std::hint::black_box(f.events.len());
    });
    println!(
        "rules on 1 h of observations ({} frames): {:.3} s (target under 1 s)",
        hour.len(),
        rules.as_secs_f64()
    );

    // a batch output directory of saved analyses, rescored
    let n = if full { 1000 } else { 50 };
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("archive");
    let recs = input.join("recordings");
    let quiet = WriteOptions { no_report: true, no_review_page: true, ..WriteOptions::default() };
    let mut manifest = String::new();
    for i in 0..n {
        let mut b = a.as_saved();
        b.recording = format!("rec-{i:04}");
        proctor::save::write_all_with(&b, &recs, &quiet).unwrap();
        let row = Row {
            id: b.recording.clone(),
            path: clip.display().to_string(),
            rel: format!("{}.webm", b.recording),
            status: Status::Ok,
            error: None,
            sha256: Some(b.sha256.clone()),
            config: b.config.fingerprint(),
            models: String::new(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            duration_s: Some(b.info.duration_s),
            score: Some(b.score.value),
            band: Some(b.score.band.as_str().into()),
            events: Some(b.events.len() as u64),
            counts: proctor::records::counts(&b.events, &b.checked),
            elapsed_s: 0.0,
            candidate: None,
            reference: None,
        };
        manifest.push_str(&serde_json::to_string(&row).unwrap());
        manifest.push('\n');
    }
    std::fs::write(input.join(proctor::records::MANIFEST), manifest).unwrap();
    let opts = proctor::rescore::Options {
        config: stricter.clone(),
        config_path: "stricter.toml".into(),
        outdir: tmp.path().join("whatif"),
        write: WriteOptions { no_report: true, ..WriteOptions::default() },
    };
    let t = Instant::now();
    let done = proctor::rescore::rescore(&[input], &opts).unwrap();
    let batch_s = t.elapsed().as_secs_f64();
    assert!(done.iter().all(|r| r.result.is_ok()), "every recording rescored");
    let per = batch_s / n as f64;
    println!(
        "rescore {n} recordings (--no-reports, {threads} threads): {batch_s:.2} s = {:.1} ms each; {:.0} s for 1,000 (target under 60 s)",
        per * 1e3,
        per * 1000.0
    );
    println!("rescore / analyse per recording: {:.0}x faster (target at least 100x)", analyse_s / per);
}
