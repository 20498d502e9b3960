//! What identity costs: a whole `analyze` of a recording of one face in view
//! all the time (the carphone fixture with audio looped to 10 s, the worst
//! case: a descriptor on every identity sample), with identity on
//! (`analysis.identity_fps` 0.5, the default) and off (0), faces, objects
//! and audio as by default, the two measured in the same run, interleaved.
//! Prints the added time as a ratio.
//!
//! Run: `cargo bench --profile dev --bench identity`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::median_time;
use criterion::Criterion;
use proctor::analyze::{analyze, Settings};
use proctor::config::Config;
use proctor::detect::models::{load, Which};
use proctor::progress::NoProgress;

fn settings(identity_fps: f64, threads: usize) -> Settings {
    let mut config = Config::default();
    config.analysis.identity_fps = identity_fps;
    let which = Which { faces: true, objects: true, hands: true, speech: true, identity: identity_fps > 0.0 };
    Settings { config, models: load(None, which).expect("embedded models load"), threads }
}

fn main() {
    // as the CLI does: one thread per network (set before any thread starts)
    proctor::detect::models::one_thread_per_network_at_start();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let test_mode = !std::env::args().any(|a| a == "--bench");
    let tmp = std::env::temp_dir().join(format!("proctor-identity-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let clip = tmp.join("alone10.mp4");
    let looped = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-stream_loop", "4", "-i"])
        .arg(root.join("fixtures/h264_aac.mp4"))
        .args(["-c", "copy"])
        .arg(&clip)
        .status()
        .is_ok_and(|s| s.success());
    let clip = if looped { clip } else { root.join("fixtures/sample.webm") };
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let on = settings(0.5, threads);
    let off = settings(0.0, threads);
    let run = |s: &Settings| {
        let a = analyze(&clip, s, &NoProgress).unwrap();
        assert_eq!(a.observations.iter().any(|o| !o.embeddings.is_empty()), s.config.analysis.identity_fps > 0.0);
        a
    };
    let media_s = proctor::decode::probe(&clip).unwrap().duration_s;

    if !test_mode {
        let mut c = Criterion::default().configure_from_args().sample_size(10).warm_up_time(Duration::from_secs(1));
        let mut g = c.benchmark_group("analyze");
        g.bench_function("identity_off", |b| b.iter(|| run(&off)));
        g.bench_function("identity_on", |b| b.iter(|| run(&on)));
        g.finish();
        c.final_summary();
    }

    // interleaved, so that a change in the machine's load hits both alike
    let runs = if test_mode { 1 } else { 7 };
    let (mut t_off, mut t_on) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        t_off.push(median_time(1, || {
            run(&off);
        }));
        t_on.push(median_time(1, || {
            run(&on);
        }));
    }
    t_off.sort();
    t_on.sort();
    let (off_s, on_s) = (t_off[runs / 2].as_secs_f64(), t_on[runs / 2].as_secs_f64());
    println!(
        "\nanalyze {} ({media_s:.1} s of media, {threads} threads; median of {runs}, interleaved): identity off {off_s:.2} s, on {on_s:.2} s: identity adds {:.1}% ({:.3}x)",
        clip.file_name().unwrap().to_string_lossy(),
        (on_s / off_s - 1.0) * 100.0,
        on_s / off_s
    );
    let _ = std::fs::remove_dir_all(&tmp);
}
