//! What audio analysis costs.
//!
//! 1. Silero VAD per second of audio, with decoding the same audio as the baseline. Audio:
//!    `fixtures/speech_two_voices.webm` (14 s of Opus, decoded and resampled to 16 kHz mono
//!    by `decode_audio`), tiled to 60 s so batch effects show. Prints, per second of audio:
//!    decoding (the 14 s clip, per second), the VAD over the whole buffer at once, and the
//!    VAD fed in 20 ms chunks (a live-capture pattern: one window per forward).
//! 2. A whole `analyze` of `fixtures/sample.webm` (20 s, 640x480, every detector at its
//!    defaults) with audio analysis on and off (`analysis.audio = false`), in the same run
//!    (criterion, then interleaved runs for the ratio): prints "audio adds X% of wall time".
//!    The streamed audio analysis alone (decode + placement + VAD) is timed beside it.
//!
//! Run: `cargo bench --profile dev --bench audio`. `cargo test --bench audio` runs the same
//! code once in the test profile (opt-level 2 for proctor, 3 for dependencies).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candle_core::Device;
use common::median_time;
use criterion::Criterion;
use proctor::analyze::{analyze, Settings};
use proctor::audio::{analyze_audio, load_vad, speech_segments, SpeechParams};
use proctor::config::Config;
use proctor::decode::{decode_audio, probe};
use proctor::detect::models::{load, Which};
use proctor::progress::NoProgress;

/// Settings at the defaults, every model loaded, audio analysis on or off.
fn settings(audio: bool) -> Settings {
    let mut config = Config::default();
    config.analysis.audio = audio;
    let models = load(None, Which { faces: true, objects: true, speech: true, identity: true }).unwrap();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    Settings { config, models, threads }
}

fn run(path: &Path, s: &Settings) {
    let a = analyze(path, s, &NoProgress).unwrap();
    assert_eq!(a.checked.contains(&proctor::events::EventKind::Voices), s.config.analysis.audio);
}

/// The cost of audio analysis inside a whole `analyze`, measured in this run.
fn whole_analysis(root: &Path, test_mode: bool) {
    let path = root.join("fixtures/sample.webm");
    let (on, off) = (settings(true), settings(false));
    let mut c = Criterion::default().configure_from_args().sample_size(10).warm_up_time(Duration::from_millis(500));
    let mut g = c.benchmark_group("analyze/sample.webm");
    g.bench_function("audio_on", |b| b.iter(|| run(&path, &on)));
    g.bench_function("audio_off", |b| b.iter(|| run(&path, &off)));
    g.finish();
    c.final_summary();

    // interleaved, so that a change in machine load hits both alike
    let runs = if test_mode { 1 } else { 7 };
    let (mut t_on, mut t_off) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        run(&path, &off);
        t_off.push(t.elapsed());
        let t = Instant::now();
        run(&path, &on);
        t_on.push(t.elapsed());
    }
    let info = probe(&path).unwrap();
    let vad = load_vad(None, &Device::Cpu).unwrap();
    let alone = median_time(runs, || {
        analyze_audio(&info, Some(&vad), None).unwrap().unwrap();
    });
    let med = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    let (on_s, off_s) = (med(&mut t_on), med(&mut t_off));
    println!(
        "\nwhole analyze of sample.webm ({:.0} s, {}x{}, all detectors, {} threads), median of {runs} interleaved runs:",
        info.duration_s, info.width, info.height, on.threads
    );
    println!("  audio off: {off_s:.2} s, audio on: {on_s:.2} s: audio adds {:.1}% of wall time", 100.0 * (on_s / off_s - 1.0));
    println!(
        "  the streamed audio analysis alone (decode + placement + VAD, 1 thread): {:.3} s = {:.1}% of the analysis with audio off",
        alone.as_secs_f64(),
        100.0 * alone.as_secs_f64() / off_s
    );
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let test_mode = !std::env::args().any(|a| a == "--bench");
    let runs = if test_mode { 1 } else { 7 };
    let info = probe(&root.join("fixtures/speech_two_voices.webm")).unwrap();
    let audio = decode_audio(&info).unwrap().expect("the clip has audio");
    let clip_s = audio.duration_s();
    let samples: Vec<f32> = audio
        .samples
        .iter()
        .copied()
        .cycle()
        .take(60 * 16_000)
        .collect();
    let long_s = samples.len() as f64 / 16_000.0;
    let vad = load_vad(None, &Device::Cpu).unwrap();

    let dec = median_time(runs, || {
        decode_audio(&info).unwrap();
    });
    let whole = median_time(runs, || {
        let p = vad.probabilities(&samples).unwrap();
        speech_segments(&p, samples.len(), &SpeechParams::default());
    });
    let chunked = median_time(runs, || {
        let mut s = vad.stream();
        for c in samples.chunks(320) {
            s.push(c).unwrap();
        }
        s.finish().unwrap();
    });
    let per_s = |d: std::time::Duration, secs: f64| d.as_secs_f64() * 1e3 / secs;
    let profile = if cfg!(debug_assertions) {
        "test/dev profile"
    } else {
        "release"
    };
    println!("\nSilero VAD, {profile}, median of {runs}, per second of 16 kHz audio:");
    println!(
        "  decode_audio (Opus 48 kHz -> 16 kHz mono, baseline): {:.3} ms",
        per_s(dec, clip_s)
    );
    println!(
        "  VAD whole buffer (batched front end) + segments: {:.3} ms ({:.2}x decode, {:.0}x real time)",
        per_s(whole, long_s),
        per_s(whole, long_s) / per_s(dec, clip_s),
        long_s / whole.as_secs_f64()
    );
    println!(
        "  VAD streamed in 20 ms chunks: {:.3} ms ({:.2}x decode, {:.0}x real time)",
        per_s(chunked, long_s),
        per_s(chunked, long_s) / per_s(dec, clip_s),
        long_s / chunked.as_secs_f64()
    );

    whole_analysis(&root, test_mode);
}
