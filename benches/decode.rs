//! Decoding speed against FFmpeg's own decoder on the same file, in the same
//! run. Prints ratios, not absolute times:
//!
//! * `ffmpeg -threads 1 -i FILE -an -f null -` (decode-only baseline)
//! * proctor decode + sampling at 4 fps + RGB conversion, one chunk, one thread
//! * proctor's whole analysis without models (video chunks + audio + hash)
//!   with 1 and 2 threads: the speed-up from chunking
//!
//! Run: `cargo bench --bench decode` (add `-- --quick` for a short run).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::median_time;
use criterion::Criterion;
use proctor::analyze::{analyze, Settings};
use proctor::config::Config;
use proctor::decode::{decode_samples, probe, sample_times};
use proctor::detect::Models;
use proctor::progress::NoProgress;

fn ffmpeg_decode(path: &Path) {
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-threads", "1", "-i"])
        .arg(path)
        .args(["-an", "-f", "null", "-"])
        .status()
        .expect("ffmpeg runs");
    assert!(st.success());
}

fn proctor_decode(path: &Path) {
    let info = probe(path).unwrap();
    let times = sample_times(info.duration_s, 4.0);
    let mut n = 0;
    decode_samples(&info, &times, 0, 1280, |_| n += 1).unwrap();
    assert_eq!(n, times.len());
}

fn proctor_analyze(path: &Path, threads: usize) {
    let s = Settings { config: Config::default(), models: Models::default(), threads };
    analyze(path, &s, &NoProgress).unwrap();
}

/// `src` played `1 + loops` times, stream-copied.
fn looped(src: &Path, dst: &Path, loops: u32) -> PathBuf {
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-stream_loop", &loops.to_string(), "-i"])
        .arg(src)
        .args(["-c", "copy"])
        .arg(dst)
        .status()
        .expect("ffmpeg runs");
    assert!(st.success());
    dst.to_path_buf()
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // Longer inputs than the fixtures, so that process start-up does not
    // dominate the baseline: the fixtures looped without re-encoding.
    let tmp = std::env::temp_dir().join(format!("proctor-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let files = [
        looped(&root.join("fixtures/sample.webm"), &tmp.join("vp8_120s.webm"), 5),
        looped(&root.join("fixtures/h264_aac.mp4"), &tmp.join("h264_60s.mp4"), 29),
    ];
    let test_mode = std::env::args().any(|a| a == "--test") || !std::env::args().any(|a| a == "--bench");
    let mut c = Criterion::default().configure_from_args().sample_size(10).warm_up_time(Duration::from_millis(500));
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let mut g = c.benchmark_group(format!("decode/{name}"));
        g.bench_function("ffmpeg_decode_only_1t", |b| b.iter(|| ffmpeg_decode(f)));
        g.bench_function("proctor_decode_sample_1t", |b| b.iter(|| proctor_decode(f)));
        g.bench_function("proctor_analyze_nomodels_1t", |b| b.iter(|| proctor_analyze(f, 1)));
        g.bench_function("proctor_analyze_nomodels_2t", |b| b.iter(|| proctor_analyze(f, 2)));
        g.finish();
    }
    c.final_summary();

    // Ratios from medians measured here, in this run.
    let runs = if test_mode { 1 } else { 5 };
    println!("\nratios (median of {runs} runs each, same machine, same run):");
    for f in &files {
        let base = median_time(runs, || ffmpeg_decode(f));
        let ours = median_time(runs, || proctor_decode(f));
        let a1 = median_time(runs, || proctor_analyze(f, 1));
        let a2 = median_time(runs, || proctor_analyze(f, 2));
        let info = probe(f).unwrap();
        println!(
            "  {}: {} {:.1} s, {} frames | decode+sample / ffmpeg decode-only = {:.2}x | analyze 1 thread / 2 threads = {:.2}x speed-up",
            f.file_name().unwrap().to_string_lossy(),
            info.video_codec,
            info.duration_s,
            info.frame_count,
            ours.as_secs_f64() / base.as_secs_f64(),
            a1.as_secs_f64() / a2.as_secs_f64(),
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
