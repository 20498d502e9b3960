//! Decoding speed against FFmpeg's own decoder on the same file, in the same
//! run. Prints ratios, not absolute times:
//!
//! * `ffmpeg -threads 1 -i FILE -an -f null -` (decode-only baseline)
//! * proctor decode + sampling at 4 fps + RGB conversion, one chunk, one thread
//! * proctor's whole analysis without models (video chunks + audio + hash)
//!   with 1 and 2 threads: the speed-up from chunking
//!
//! Then, on 20 s of `fixtures/sample.webm` at 1280x720 in each codec (2 s in
//! the test pass; cached in target/bench-media/): decode + sampling at 4 fps +
//! RGB with libavcodec allowed to skip unreferenced frames that are not shown
//! (`DecodeOptions::skip_nonref`) and not, interleaved; frames decoded and the
//! decoding thread's minimum CPU time of each. `PROCTOR_BENCH_SKIP_ONLY=1`
//! runs only this part.
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
use proctor::decode::{decode_samples, decode_samples_with, probe, sample_times, DecodeOptions};
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

/// CPU time (user + sys) of the calling thread so far.
fn thread_cpu() -> Duration {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_THREAD is a valid `who` on Linux.
    let ru = unsafe {
        libc::getrusage(libc::RUSAGE_THREAD, ru.as_mut_ptr());
        ru.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Frames decoded and CPU time of one decode + sampling at 4 fps, one thread.
fn decode_with(path: &Path, skip_nonref: bool) -> (u64, Duration) {
    let info = probe(path).unwrap();
    let times = sample_times(info.duration_s, 4.0);
    let cpu = thread_cpu();
    let stats = decode_samples_with(&info, &times, 0, 1280, DecodeOptions { skip_nonref, ..Default::default() }, |_| true).unwrap();
    (stats.decoded, thread_cpu() - cpu)
}

/// The skip_frame cases: a name, what it is, the encoder's arguments.
const SKIP_CASES: [(&str, &str, &[&str]); 6] = [
    ("h264_bframes.mp4", "H.264, x264 veryfast: 3 B-frames, pyramid", &["-c:v", "libx264", "-preset", "veryfast", "-crf", "23"]),
    ("h264_nobframes.mp4", "H.264 without B-frames (-bf 0)", &["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-bf", "0"]),
    ("vp8.webm", "VP8, libvpx realtime (as MediaRecorder)", &["-c:v", "libvpx", "-b:v", "2M", "-deadline", "realtime", "-cpu-used", "8"]),
    (
        "vp8_2layers.webm",
        "VP8, 2 temporal layers (as WebRTC)",
        &[
            "-c:v",
            "libvpx",
            "-b:v",
            "2M",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-ts-parameters",
            "ts_number_layers=2:ts_target_bitrate=1000,2000:ts_rate_decimator=2,1:ts_periodicity=2:ts_layer_id=0,1:ts_layering_mode=2",
        ],
    ),
    ("vp9.webm", "VP9, libvpx-vp9 realtime", &["-c:v", "libvpx-vp9", "-b:v", "2M", "-deadline", "realtime", "-cpu-used", "8"]),
    ("av1.webm", "AV1, SVT-AV1 preset 12 (mini-GOP of 16)", &["-c:v", "libsvtav1", "-preset", "12", "-b:v", "2M"]),
];

/// `fixtures/sample.webm` at 1280x720, `seconds` long, encoded as `args` say,
/// cached in target/bench-media/.
fn encoded(root: &Path, name: &str, seconds: u32, args: &[&str]) -> PathBuf {
    let dir = root.join("target/bench-media");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("skip_{seconds}s_{name}"));
    if !path.exists() {
        let tmp = dir.join(format!(".{}.{name}", std::process::id()));
        let st = Command::new("ffmpeg")
            .env("SVT_LOG", "1") // SVT-AV1: errors only
            .args(["-v", "error", "-y", "-stream_loop", "-1", "-i"])
            .arg(root.join("fixtures/sample.webm"))
            .args(["-t", &seconds.to_string(), "-an", "-vf", "scale=1280:720"])
            .args(args)
            .arg(&tmp)
            .status()
            .expect("ffmpeg runs");
        assert!(st.success(), "encoding {name}");
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

fn skip_frames(root: &Path, full: bool) {
    let (seconds, rounds) = if full { (20, 7) } else { (2, 1) };
    println!("\nskip_frame = AVDISCARD_NONREF between samples ({seconds} s 1280x720, 4 fps, one thread; minimum CPU time of {rounds} interleaved rounds):");
    println!("| file | frames | decoded without / with | decode CPU without / with | change | ffmpeg -threads 1 decode-only (wall) |");
    println!("|---|---|---|---|---|---|");
    for (name, what, args) in SKIP_CASES {
        let path = encoded(root, name, seconds, args);
        let frames = probe(&path).unwrap().frame_count;
        let (mut off, mut on) = ((0, Duration::MAX), (0, Duration::MAX));
        let mut ff = Duration::MAX;
        for _ in 0..rounds {
            let a = decode_with(&path, false);
            let b = decode_with(&path, true);
            off = (a.0, off.1.min(a.1));
            on = (b.0, on.1.min(b.1));
            ff = ff.min(median_time(1, || ffmpeg_decode(&path)));
        }
        println!(
            "| {what} | {frames} | {} / {} | {:.3} s / {:.3} s | {:+.1}% | {:.3} s |",
            off.0,
            on.0,
            off.1.as_secs_f64(),
            on.1.as_secs_f64(),
            100.0 * (on.1.as_secs_f64() / off.1.as_secs_f64() - 1.0),
            ff.as_secs_f64()
        );
    }
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let full = std::env::args().any(|a| a == "--bench");
    if std::env::var_os("PROCTOR_BENCH_SKIP_ONLY").is_some() {
        skip_frames(&root, full);
        return;
    }
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
    skip_frames(&root, full && !test_mode);
}
