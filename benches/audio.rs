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
//! 3. The speaker embedding (Resemblyzer), per second of speech: the same 60 s cut into
//!    4.8 s segments (the longest the segmenter makes), every second counted as speech.
//! 4. A whole `analyze` of a clip where someone talks most of the time (the sample's 640x480
//!    video under `fixtures/speech.wav` played three times, 20 s; made with ffmpeg), every
//!    detector, three ways, interleaved: everything; the speaker embedding off (the VAD
//!    still on); audio off. Prints "the speaker embedding adds X%" and "audio in all adds
//!    Y%" of wall time and of the process's CPU time (getrusage: less sensitive than wall
//!    time to other work on the machine), and the streamed audio analysis alone with and
//!    without it.
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
use proctor::audio::{analyze_audio, load_speaker, load_vad, speech_segments, SpeechParams};
use proctor::config::Config;
use proctor::decode::{decode_audio, probe};
use proctor::detect::models::{load, Which};
use proctor::progress::NoProgress;

/// Settings at the defaults, every model loaded, audio analysis on or off.
fn settings(audio: bool) -> Settings {
    let mut config = Config::default();
    config.analysis.audio = audio;
    let models = load(None, Which { faces: true, objects: true, hands: true, speech: true, identity: true }).unwrap();
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
    // as the CLI does: one thread per network (set before any thread starts)
    proctor::detect::models::one_thread_per_network_at_start();
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

    let spk = load_speaker(None, &Device::Cpu).unwrap();
    let seg = (4.8 * 16_000.0) as usize;
    let embed = median_time(runs, || {
        for c in samples.chunks(seg) {
            spk.embed_segment(c).unwrap();
        }
    });
    println!(
        "  speaker embedding (Resemblyzer) of 4.8 s segments, per second of speech: {:.3} ms ({:.2}x decode, {:.0}x real time)",
        per_s(embed, long_s),
        per_s(embed, long_s) / per_s(dec, clip_s),
        long_s / embed.as_secs_f64()
    );

    speaker_cost(&root, test_mode);
    whole_analysis(&root, test_mode);
}

/// The sample's video (640x480, one face) under speech.wav played three times, 20 s.
fn talking_clip(root: &Path) -> Option<PathBuf> {
    let out = std::env::temp_dir().join(format!("proctor-audio-bench-{}.webm", std::process::id()));
    let ok = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(root.join("fixtures/sample.webm"))
        .args(["-stream_loop", "2", "-i"])
        .arg(root.join("fixtures/speech.wav"))
        .args(["-map", "0:v", "-map", "1:a", "-t", "20", "-c:v", "copy", "-c:a", "libopus", "-b:a", "32k", "-ac", "1"])
        .arg(&out)
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(out)
}

/// User + system CPU seconds this process has used.
fn cpu_s() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Wall and CPU seconds of `f`.
fn timed(f: impl FnOnce()) -> (Duration, f64) {
    let (t, c) = (Instant::now(), cpu_s());
    f();
    (t.elapsed(), cpu_s() - c)
}

/// What the speaker embedding adds to a whole analysis of someone talking most of the time.
fn speaker_cost(root: &Path, test_mode: bool) {
    let Some(clip) = talking_clip(root) else {
        println!("
ffmpeg could not make the talking clip: the speaker embedding's share of a whole analysis was not measured");
        return;
    };
    let on = settings(true);
    let mut no_spk = settings(true);
    no_spk.models.speaker = None;
    let off = settings(false);
    let runs = if test_mode { 1 } else { 7 };
    let (mut t_on, mut t_no, mut t_off) = (Vec::new(), Vec::new(), Vec::new());
    let (mut c_on, mut c_no, mut c_off) = (Vec::new(), Vec::new(), Vec::new());
    let mut voiced = 0.0;
    for _ in 0..runs {
        let (t, c) = timed(|| run(&clip, &off));
        t_off.push(t);
        c_off.push(c);
        let (t, c) = timed(|| run(&clip, &no_spk));
        t_no.push(t);
        c_no.push(c);
        let mut a = None;
        let (t, c) = timed(|| a = Some(analyze(&clip, &on, &NoProgress).unwrap()));
        t_on.push(t);
        c_on.push(c);
        let a = a.unwrap();
        voiced = a.observations.iter().filter(|o| o.speech.is_some_and(|p| p >= 0.5)).count() as f64 / a.observations.len() as f64;
        assert!(a.observations.iter().any(|o| o.voice_similarity.is_some()), "the candidate's voice was enrolled");
    }
    let medf = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (con, cno, coff) = (medf(&mut c_on), medf(&mut c_no), medf(&mut c_off));
    let info = probe(&clip).unwrap();
    let vad = load_vad(None, &Device::Cpu).unwrap();
    let spk = load_speaker(None, &Device::Cpu).unwrap();
    let mut segments = 0;
    let with = median_time(runs, || {
        segments = analyze_audio(&info, Some(&vad), Some(&spk)).unwrap().unwrap().voice_segments().len();
    });
    let without = median_time(runs, || {
        analyze_audio(&info, Some(&vad), None).unwrap().unwrap();
    });
    let med = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    let (on_s, no_s, off_s) = (med(&mut t_on), med(&mut t_no), med(&mut t_off));
    println!(
        "
whole analyze of a talking clip ({:.0} s, {}x{}, speech in {:.0}% of frames, all detectors, {} threads), median of {runs} interleaved runs:",
        info.duration_s,
        info.width,
        info.height,
        100.0 * voiced,
        on.threads
    );
    println!(
        "  audio off: {off_s:.2} s; audio without the speaker embedding: {no_s:.2} s; everything: {on_s:.2} s"
    );
    println!(
        "  the speaker embedding adds {:.1}% of wall time; audio in all adds {:.1}%",
        100.0 * (on_s / no_s - 1.0),
        100.0 * (on_s / off_s - 1.0)
    );
    println!(
        "  CPU time: audio off {coff:.2} s, without the embedding {cno:.2} s, everything {con:.2} s: the speaker embedding adds {:.1}%, audio in all {:.1}%",
        100.0 * (con / cno - 1.0),
        100.0 * (con / coff - 1.0)
    );
    println!(
        "  the streamed audio analysis alone (1 thread): {:.3} s with the embedding ({segments} segments), {:.3} s without: {:.1}% and {:.1}% of the analysis with audio off",
        with.as_secs_f64(),
        without.as_secs_f64(),
        100.0 * with.as_secs_f64() / off_s,
        100.0 * without.as_secs_f64() / off_s
    );
    let _ = std::fs::remove_file(&clip);
}
