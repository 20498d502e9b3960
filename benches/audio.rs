//! Silero VAD cost per second of audio, with decoding the same audio as the baseline.
//!
//! Audio: `fixtures/speech_two_voices.webm` (14 s of Opus, decoded and resampled to 16 kHz
//! mono by `decode_audio`), tiled to 60 s so batch effects show. Prints, per second of audio:
//! decoding (the 14 s clip, per second), the VAD over the whole buffer at once, and the VAD
//! fed in 20 ms chunks (a live-capture pattern: one window per forward).
//!
//! Run: `cargo bench --bench audio` (release). `cargo test --bench audio` runs the same code
//! once in the test profile (opt-level 2 for proctor, 3 for dependencies).

mod common;

use std::path::PathBuf;

use candle_core::Device;
use common::median_time;
use proctor::audio::{load_vad, speech_segments, SpeechParams};
use proctor::decode::{decode_audio, probe};

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
}
