//! Whole-analysis speed against yardsticks measured in the same run.
//!
//! On a 1280x720 VP8 webm made from fixtures/sample.webm (`bash
//! benches/make_clip.sh moving SECONDS`; 60 s with `--bench`, 8 s in the
//! single test pass of `cargo test --all-targets`):
//! - `ffmpeg -v error -i FILE -f null -` (decode only, ffmpeg's own threads):
//!   the baseline;
//! - `proctor analyze FILE` with every detector at its defaults;
//! - `proctor analyze FILE --no-objects` (the face path, audio included);
//! - the seeds' Python approach (benches/peer/mediapipe_peer.py: OpenCV +
//!   MediaPipe face detection + face mesh with iris at 4 fps), when its venv
//!   exists: `benches/peer/.venv/bin/python`, or the interpreter named by
//!   `PROCTOR_PEER_PYTHON`. Without it the peer is skipped with a message.
//!
//! Then, on each kind of content benches/make_clip.sh makes (a talking head,
//! a person at a desk before a still wall, today's clip, camera shake with a person moving
//! all the time, an empty room; 60 s each with `--bench`, 2 s in the test
//! pass), ffmpeg decoding alone, `proctor analyze` at its defaults and the
//! full-pipeline peer (benches/peer/full_peer.py: the same public models on
//! OpenCV, MediaPipe and onnxruntime; needs the venv and `bash
//! benches/peer/fetch_models.sh`, skipped with a message without them),
//! rounds interleaved, minimum wall and CPU time of each, and CPU-seconds per
//! media hour. `PROCTOR_BENCH_KINDS=still,empty` runs only the kinds named;
//! `PROCTOR_BENCH_ONLY_KINDS=1` skips the part above; `PROCTOR_BENCH_BIN=PATH`
//! times that build of proctor instead of this one (for a before/after).
//!
//! With `PROCTOR_BENCH_LONG=1` it also makes a 1-minute and a 1-hour 640x480
//! VP8 webm written the way a browser writes them (live mode: no cues, no
//! duration; a keyframe every 100 s) and prints the hour's wall time against
//! 60x the minute's and its peak RSS (VmHWM, sampled every 0.1 s).
//!
//! With `PROCTOR_BENCH_RATES=1` it also times `proctor analyze` with the
//! detectors' rates halved, one at a time and together (docs/performance.md, "What
//! 2.0x would cost"): six rounds, each setting once a round, interleaved
//! with ffmpeg; the minimum wall time and CPU time (user + sys) of each.
//!
//! Generated media is cached in target/bench-media/. Run:
//! `cargo bench --profile dev --bench pipeline` (add `PROCTOR_BENCH_LONG=1`
//! for the hour; it takes about 15 minutes on 2 cores).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::median_time;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a command to completion; panics with its stderr when it fails.
fn run(program: &Path, args: &[&str]) {
    let out = Command::new(program).args(args).stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    assert!(out.status.success(), "{} {args:?} failed: {}", program.display(), String::from_utf8_lossy(&out.stderr));
}

/// Wall time and peak resident memory (kB) of one run.
fn run_measured(program: &Path, args: &[&str]) -> (Duration, u64) {
    let t = Instant::now();
    let mut child = Command::new(program).args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            let hwm = text.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok());
            peak_kb = peak_kb.max(hwm.unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{} {args:?} failed", program.display());
    (t.elapsed(), peak_kb)
}

/// A clip made by ffmpeg from fixtures/sample.webm (20 s, 640x480, with
/// audio), looped to `seconds`, cached under target/bench-media/.
fn clip(name: &str, seconds: u32, encode: &[&str]) -> PathBuf {
    let dir = root().join("target/bench-media");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}_{seconds}s.webm"));
    if !path.exists() {
        let tmp = dir.join(format!(".{name}_{seconds}s.{}.webm", std::process::id()));
        let src = root().join("fixtures/sample.webm");
        let (src, secs, tmp_s) = (src.to_str().unwrap(), seconds.to_string(), tmp.to_str().unwrap());
        let mut args = vec!["-y", "-v", "error", "-stream_loop", "-1", "-i", src, "-t", &secs];
        args.extend_from_slice(encode);
        args.extend_from_slice(&["-c:a", "libopus", "-b:a", "48k", tmp_s]);
        run(Path::new("ffmpeg"), &args);
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

fn peer_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PROCTOR_PEER_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = root().join("benches/peer/.venv/bin/python");
    venv.exists().then_some(venv)
}

/// One of benches/make_clip.sh's clips (KIND_720p_SECONDSs.webm in
/// target/bench-media/, made once): `still`, `moving`, `motion` or `empty`.
pub fn make_clip(kind: &str, seconds: u32) -> PathBuf {
    let out = Command::new("bash")
        .arg(root().join("benches/make_clip.sh"))
        .args([kind, &seconds.to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "make_clip.sh {kind} {seconds} failed: {}", String::from_utf8_lossy(&out.stderr));
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// The full-pipeline peer (benches/peer/full_peer.py): its interpreter and
/// script, or why it cannot run.
fn full_peer() -> Result<(PathBuf, PathBuf), String> {
    let models = root().join("target/peer-models");
    let py = peer_python().ok_or("no benches/peer/.venv (python3 -m venv benches/peer/.venv && benches/peer/.venv/bin/pip install -r benches/peer/requirements.txt)")?;
    if !["yunet_n_dynamic.onnx", "yolox_nano.onnx"].iter().all(|f| models.join(f).exists()) {
        return Err("no ONNX files in target/peer-models (bash benches/peer/fetch_models.sh)".into());
    }
    Ok((py, root().join("benches/peer/full_peer.py")))
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let runs = if full { 3 } else { 1 };
    let seconds = if full { 60 } else { 8 };
    // PROCTOR_BENCH_BIN: another build of proctor to time (say, a commit to compare)
    let proctor = std::env::var_os("PROCTOR_BENCH_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_proctor")), PathBuf::from);
    let out = std::env::temp_dir().join(format!("proctor-pipeline-bench-{}", std::process::id()));
    let out_s = out.to_str().unwrap();
    if std::env::var_os("PROCTOR_BENCH_ONLY_KINDS").is_some() {
        kinds(&proctor, if full { 60 } else { 2 }, if full { 3 } else { 1 }, &out);
        let _ = std::fs::remove_dir_all(&out);
        return;
    }
    let hd = make_clip("moving", seconds);
    let hd_s = hd.to_str().unwrap();
    let secs = |d: Duration| d.as_secs_f64();

    let ffmpeg = median_time(runs, || run(Path::new("ffmpeg"), &["-v", "error", "-i", hd_s, "-f", "null", "-"]));
    let all = median_time(runs, || run(&proctor, &["analyze", hd_s, "-o", out_s]));
    let faces = median_time(runs, || run(&proctor, &["analyze", hd_s, "--no-objects", "-o", out_s]));
    println!("\n{seconds} s 1280x720 VP8 (median of {runs}, this machine, this run):");
    println!("  ffmpeg -i FILE -f null - (baseline): {:.2} s", secs(ffmpeg));
    println!("  proctor analyze, all detectors: {:.2} s = {:.2}x the baseline", secs(all), secs(all) / secs(ffmpeg));
    println!("  proctor analyze --no-objects: {:.2} s = {:.2}x the baseline", secs(faces), secs(faces) / secs(ffmpeg));
    match peer_python() {
        Some(py) => {
            let script = root().join("benches/peer/mediapipe_peer.py");
            let peer = median_time(runs, || run(&py, &[script.to_str().unwrap(), hd_s]));
            println!(
                "  MediaPipe peer (OpenCV + face detection + mesh with iris, 4 fps): {:.2} s; proctor --no-objects takes {:.2}x its time",
                secs(peer),
                secs(faces) / secs(peer)
            );
        }
        None => println!(
            "  MediaPipe peer skipped: no benches/peer/.venv (python3 -m venv benches/peer/.venv && benches/peer/.venv/bin/pip install -r benches/peer/requirements.txt)"
        ),
    }

    if std::env::var_os("PROCTOR_BENCH_LONG").is_some() {
        // MediaRecorder-like: live webm (no cues, no duration), keyframe every
        // 100 s. 100 s are encoded, then copied 36 times over (and cut to a
        // minute) without re-encoding, so the keyframes stay 100 s apart.
        let browser = ["-vf", "fps=30", "-c:v", "libvpx", "-b:v", "1M", "-deadline", "realtime", "-cpu-used", "8", "-g", "3000", "-live", "1"];
        let base = clip("browser_480p", 100, &browser);
        let copy = |seconds: u32, input: &[&str]| {
            let path = base.with_file_name(format!("browser_480p_{seconds}s.webm"));
            if !path.exists() {
                let (secs, tmp) = (seconds.to_string(), path.with_extension("tmp.webm"));
                let mut args = vec!["-y", "-v", "error"];
                args.extend_from_slice(input);
                args.extend_from_slice(&["-i", base.to_str().unwrap(), "-t", &secs, "-c", "copy", "-live", "1"]);
                args.push(tmp.to_str().unwrap());
                run(Path::new("ffmpeg"), &args);
                std::fs::rename(&tmp, &path).unwrap();
            }
            path
        };
        let minute = copy(60, &[]);
        let hour = copy(3600, &["-stream_loop", "35"]);
        let (m, m_kb) = run_measured(&proctor, &["analyze", minute.to_str().unwrap(), "-o", out_s]);
        let (h, h_kb) = run_measured(&proctor, &["analyze", hour.to_str().unwrap(), "-o", out_s]);
        println!("\nbrowser-style 640x480 VP8 (live webm, no cues, keyframe every 100 s):");
        println!("  1 minute: {:.1} s, peak RSS {} MB", secs(m), m_kb / 1024);
        println!(
            "  1 hour: {:.1} s = {:.2}x 60 times the minute, peak RSS {} MB",
            secs(h),
            secs(h) / (60.0 * secs(m)),
            h_kb / 1024
        );
    }
    kinds(&proctor, if full { 60 } else { 2 }, if full { 3 } else { 1 }, &out);
    if std::env::var_os("PROCTOR_BENCH_RATES").is_some() {
        rates(&proctor, hd_s, &out);
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// The settings of "What 2.0x would cost": a name and a configuration file's text.
const RATE_SETTINGS: [(&str, &str); 7] = [
    ("defaults", ""),
    ("face_detect_fps = 0.5", "[analysis]\nface_detect_fps = 0.5\n"),
    ("identity_fps = 0.25", "[analysis]\nidentity_fps = 0.25\n"),
    ("face_crop = false", "[objects]\nface_crop = false\n"),
    ("object_fps = 0.5", "[analysis]\nobject_fps = 0.5\n"),
    ("the first three", "[analysis]\nface_detect_fps = 0.5\nidentity_fps = 0.25\n[objects]\nface_crop = false\n"),
    ("all four", "[analysis]\nface_detect_fps = 0.5\nidentity_fps = 0.25\nobject_fps = 0.5\n[objects]\nface_crop = false\n"),
];

/// CPU time (user + sys) of the waited-for children so far.
fn children_cpu() -> Duration {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_CHILDREN is a valid `who`.
    let ru = unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, ru.as_mut_ptr());
        ru.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Wall and CPU time of one run.
fn timed(program: &Path, args: &[&str]) -> (Duration, Duration) {
    let (t, cpu) = (Instant::now(), children_cpu());
    run(program, args);
    (t.elapsed(), children_cpu() - cpu)
}

fn rates(proctor: &Path, clip: &str, out: &Path) {
    std::fs::create_dir_all(out).unwrap();
    let configs: Vec<PathBuf> = RATE_SETTINGS
        .iter()
        .enumerate()
        .map(|(i, (_, text))| {
            let p = out.join(format!("rates-{i}.toml"));
            std::fs::write(&p, text).unwrap();
            p
        })
        .collect();
    let out_s = out.join("rates-out");
    let mut ffmpeg = (Duration::MAX, Duration::MAX);
    let mut best = vec![(Duration::MAX, Duration::MAX); RATE_SETTINGS.len()];
    let min = |a: (Duration, Duration), b: (Duration, Duration)| (a.0.min(b.0), a.1.min(b.1));
    for _ in 0..6 {
        ffmpeg = min(ffmpeg, timed(Path::new("ffmpeg"), &["-v", "error", "-i", clip, "-f", "null", "-"]));
        for (b, cfg) in best.iter_mut().zip(&configs) {
            *b = min(*b, timed(proctor, &["analyze", clip, "-q", "-o", out_s.to_str().unwrap(), "--config", cfg.to_str().unwrap()]));
        }
    }
    println!("\nproctor analyze with the detectors' rates halved (minimum of 6 interleaved runs each):");
    println!("  ffmpeg -i FILE -f null -: {:.2} s wall, {:.2} s CPU", ffmpeg.0.as_secs_f64(), ffmpeg.1.as_secs_f64());
    for ((name, _), (wall, cpu)) in RATE_SETTINGS.iter().zip(best) {
        println!(
            "  {name}: {:.2} s wall = {:.2}x ffmpeg, {:.2} s CPU",
            wall.as_secs_f64(),
            wall.as_secs_f64() / ffmpeg.0.as_secs_f64(),
            cpu.as_secs_f64()
        );
    }
}

/// The clips of benches/make_clip.sh, each with what it shows.
const KINDS: [(&str, &str); 5] = [
    ("talking", "a talking head: carphone's man, nodding and turning, still room"),
    ("still", "a person at a desk, still wall, little motion but the face"),
    ("moving", "today's clip: sample.webm, moving background, cuts"),
    ("motion", "camera shake, a person crossing the frame"),
    ("empty", "an empty room"),
];

/// What each kind of content costs: on each clip of [`KINDS`] (or those named in
/// `PROCTOR_BENCH_KINDS`, comma-separated), `rounds` rounds interleaved of ffmpeg
/// decoding alone, `proctor analyze` at its defaults and the full peer; the
/// minimum wall time and CPU time (user + sys of the process and its threads,
/// from the rusage of the waited-for child) of each, the ratios, and the CPU
/// seconds per hour of media.
fn kinds(proctor: &Path, seconds: u32, rounds: usize, out: &Path) {
    let wanted = std::env::var("PROCTOR_BENCH_KINDS").ok();
    let kinds: Vec<_> = KINDS.iter().filter(|(k, _)| wanted.as_deref().is_none_or(|w| w.split(',').any(|x| x.trim() == *k))).collect();
    let peer = full_peer();
    if let Err(why) = &peer {
        println!("\n  full peer skipped: {why}");
    }
    let clips: Vec<PathBuf> = kinds.iter().map(|(k, _)| make_clip(k, seconds)).collect();
    let out_s = out.join("kinds-out");
    let none = (Duration::MAX, Duration::MAX);
    let min = |a: (Duration, Duration), b: (Duration, Duration)| (a.0.min(b.0), a.1.min(b.1));
    let mut best = vec![[none; 3]; clips.len()];
    for _ in 0..rounds {
        for (b, clip) in best.iter_mut().zip(&clips) {
            let c = clip.to_str().unwrap();
            b[0] = min(b[0], timed(Path::new("ffmpeg"), &["-v", "error", "-i", c, "-f", "null", "-"]));
            b[1] = min(b[1], timed(proctor, &["analyze", c, "-q", "-o", out_s.to_str().unwrap()]));
            if let Ok((py, script)) = &peer {
                b[2] = min(b[2], timed(py, &[script.to_str().unwrap(), c]));
            }
        }
    }
    let s = |d: Duration| d.as_secs_f64();
    let per_hour = |cpu: Duration| s(cpu) * 3600.0 / seconds as f64;
    println!("\n{seconds} s 1280x720 VP8 of each kind (minimum of {rounds} interleaved rounds; wall s / CPU s; CPU-s per media hour):");
    println!("| clip | ffmpeg decode | proctor | full peer | proctor / ffmpeg (wall) | peer / ffmpeg (wall) | proctor / peer (wall; CPU) | CPU-s per media hour: ffmpeg, proctor, peer |");
    println!("|---|---|---|---|---|---|---|---|");
    for ((kind, what), [ff, pr, pe]) in kinds.iter().zip(&best) {
        let have_peer = pe.0 != Duration::MAX;
        let peer_cell = |text: String| if have_peer { text } else { "-".to_string() };
        println!(
            "| {kind} ({what}) | {:.2} / {:.2} | {:.2} / {:.2} | {} | {:.2}x | {} | {} | {:.0}, {:.0}, {} |",
            s(ff.0),
            s(ff.1),
            s(pr.0),
            s(pr.1),
            peer_cell(format!("{:.2} / {:.2}", s(pe.0), s(pe.1))),
            s(pr.0) / s(ff.0),
            peer_cell(format!("{:.2}x", s(pe.0) / s(ff.0))),
            peer_cell(format!("{:.2}x; {:.2}x", s(pr.0) / s(pe.0), s(pr.1) / s(pe.1))),
            per_hour(ff.1),
            per_hour(pr.1),
            peer_cell(format!("{:.0}", per_hour(pe.1))),
        );
    }
}
