//! Trustworthy outputs: ids, all-or-nothing writes, the report saying what the
//! analysis did, kinds not checked, closed pipes, panics and Ctrl-C in a batch.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::*;

fn summary(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// Names in `dir` that look like temporaries.
fn temporaries(dir: &Path) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".proctor-tmp-") || n.contains(".tmp-"))
        .collect()
}

#[test]
fn inputs_that_share_a_stem_get_their_own_outputs() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("alice.smith.webm");
    let b = d.path().join("alice.jones.webm");
    std::fs::copy(fixture("vp8_opus.webm"), &a).unwrap();
    std::fs::copy(fixture("vp9_opus.webm"), &b).unwrap();
    let out = d.path().join("out");
    let r = analyze(&[&a, &b], &out, &["--no-objects"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let sa = summary(&out.join("alice.smith.summary.json"));
    let sb = summary(&out.join("alice.jones.summary.json"));
    assert_ne!(sa["sha256"], sb["sha256"]);
    assert!(sa["path"].as_str().unwrap().ends_with("alice.smith.webm"));
    // the same file name in two folders: the second gets a suffix, nothing is replaced
    std::fs::create_dir(d.path().join("again")).unwrap();
    let c = d.path().join("again/alice.smith.webm");
    std::fs::copy(fixture("h264_aac.mp4"), &c).unwrap();
    let out2 = d.path().join("out2");
    let r = analyze(&[&a, &c], &out2, &["--no-objects"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let reports: Vec<String> = listing(&out2).into_iter().filter(|f| f.ends_with(".report.pdf")).collect();
    assert_eq!(reports.len(), 2, "{reports:?}");
}

#[test]
fn report_shows_the_settings_the_analysis_used() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("p.toml");
    std::fs::write(&cfg, "[rules.no_face]\nmin_s = 3\n").unwrap();
    let out = d.path().join("out");
    let r = analyze(&[&fixture("vp8_opus.webm")], &out, &["--no-objects", "--config", cfg.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let s = summary(&out.join("vp8_opus.summary.json"));
    assert_eq!(s["config"]["rules"]["no_face"]["min_s"].as_f64(), Some(3.0));
    let no_face_at = |v: &str| regex::Regex::new(&format!(r"\[rules\.no_face\]\s+min_s = {v}")).unwrap();
    let pdf = d.path().join("again.pdf");
    let r = run(&["report", out.join("vp8_opus.events.parquet").to_str().unwrap(), "-o", pdf.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    if let Some(text) = pdf_text(&pdf) {
        assert!(no_face_at("3.0").is_match(&text), "{text}");
        assert!(!no_face_at("5.0").is_match(&text), "{text}");
        assert!(!text.contains("re-scored"), "{text}");
    }
    // a new policy re-scores, and the page says so
    let pol = d.path().join("strict.toml");
    std::fs::write(&pol, "[deductions]\nno_face = 50\n").unwrap();
    let r = run(&["report", out.join("vp8_opus.events.parquet").to_str().unwrap(), "-o", pdf.to_str().unwrap(), "--policy", pol.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains("re-scored under the policy"), "{text}");
        assert!(no_face_at("3.0").is_match(&text), "{text}");
    }
}

#[test]
fn kinds_not_checked_are_null_not_zero() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let r = analyze(&[&fixture("vp8_noaudio.webm")], &out, &["--no-objects"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let s = summary(&out.join("vp8_noaudio.summary.json"));
    let c = &s["counts"];
    for k in ["phone", "book", "device", "person", "loud_audio", "voices", "identity"] {
        assert!(c[k].is_null(), "{k}: {}", c[k]);
    }
    for k in ["no_face", "multiple_faces", "looking_away", "gaze_away", "eyes_closed"] {
        assert!(c[k]["count"].is_u64(), "{k}: {}", c[k]);
    }
    let text = serde_json::to_string(&s).unwrap();
    assert!(!text.contains("-0.0"), "negative zero in {text}");
    if let Some(text) = pdf_text(&out.join("vp8_noaudio.report.pdf")) {
        assert!(text.contains("Not checked"), "{text}");
        // model hashes are printed whole, in two halves that fit the table
        let models = s["models"].as_array().unwrap();
        assert!(!models.is_empty());
        for m in models {
            let sha = m["sha256"].as_str().unwrap();
            assert_eq!(sha.len(), 64);
            assert!(text.contains(&sha[..32]) && text.contains(&sha[32..]), "{sha} not whole in:\n{text}");
        }
    }
}

#[test]
fn a_failed_report_leaves_no_tables_and_no_temporaries() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    // a directory where the report should go: the last step fails
    std::fs::create_dir_all(out.join("vp8_opus.report.pdf/x")).unwrap();
    let r = analyze(&[&fixture("vp8_opus.webm")], &out, &["--no-objects"]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("vp8_opus.report.pdf"), "{}", r.stderr());
    assert_eq!(listing(&out), vec!["vp8_opus.report.pdf".to_string()]);
    assert!(temporaries(&out).is_empty(), "{:?}", temporaries(&out));
}

#[test]
fn temporaries_of_a_killed_run_are_cleaned_by_the_next() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    // left by a run (pid 0: never a live user process) that was killed mid-write
    std::fs::create_dir_all(out.join(".proctor-tmp-vp8_opus-0")).unwrap();
    std::fs::write(out.join(".proctor-tmp-vp8_opus-0/vp8_opus.frames.parquet"), b"half").unwrap();
    std::fs::write(out.join(".vp8_opus.report.pdf.tmp-0"), b"half").unwrap();
    let r = analyze(&[&fixture("vp8_opus.webm")], &out, &["--no-objects"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(temporaries(&out).is_empty(), "{:?}", temporaries(&out));
    assert!(out.join("vp8_opus.report.pdf").exists());
}

#[test]
fn a_closed_stdout_pipe_ends_quietly() {
    if !have("bash") || !have("head") {
        skip("bash or head is not installed");
        return;
    }
    let f1 = fixture("vp8_opus.webm");
    let f2 = fixture("vp9_opus.webm");
    let d = tempfile::tempdir().unwrap();
    let script = format!(
        "'{}' analyze -q --no-objects --json -o '{}' '{}' '{}' | head -c 1 >/dev/null; echo \"${{PIPESTATUS[0]}}\"",
        env!("CARGO_BIN_EXE_proctor"),
        d.path().display(),
        f1.display(),
        f2.display()
    );
    let out = std::process::Command::new("bash").arg("-c").arg(&script).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0", "{stderr}");
}

/// A batch progress that panics inside the analysis of one recording.
struct PanicOn(&'static str);

struct Boom(bool);

impl proctor::progress::Progress for Boom {
    fn start(&self, _total_s: f64) {
        if self.0 {
            panic!("injected failure");
        }
    }
    fn advance(&self, _media_s: f64) {}
    fn finish(&self) {}
}

impl proctor::batch::BatchProgress for PanicOn {
    fn file_progress(&self, id: &str) -> Box<dyn proctor::progress::Progress + '_> {
        Box::new(Boom(id == self.0))
    }
    fn file_done(&self, _row: &proctor::batch::Row, _skipped: bool) {}
}

#[test]
fn a_panic_in_one_recording_is_an_error_row_and_the_batch_goes_on() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("in");
    std::fs::create_dir(&root).unwrap();
    std::fs::copy(fixture("vp8_opus.webm"), root.join("a.webm")).unwrap();
    std::fs::copy(fixture("vp9_opus.webm"), root.join("b.webm")).unwrap();
    std::fs::copy(fixture("h264_aac.mp4"), root.join("c.mp4")).unwrap();
    let items = proctor::batch::discover(&[root.display().to_string()]).unwrap();
    let settings = proctor::analyze::Settings { config: Default::default(), models: Default::default(), threads: 1 };
    let opts = proctor::batch::BatchOptions {
        outdir: d.path().join("out"),
        jobs: 1,
        resume: false,
        candidates: proctor::batch::CandidateSource::None,
        references: proctor::batch::ReferenceSource::None,
        write: Default::default(),
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    let rows = proctor::batch::run_batch(&items, &settings, &opts, &PanicOn("b"), &stop).unwrap();
    let status: Vec<(&str, &str)> = rows.iter().map(|r| (r.id.as_str(), r.status.as_str())).collect();
    assert_eq!(status, [("a", "ok"), ("b", "error"), ("c", "ok")]);
    assert!(rows[1].error.as_deref().unwrap().contains("internal error, please report it (injected failure)"), "{:?}", rows[1].error);
    assert_eq!(proctor::batch::read_summary(&opts.outdir).unwrap().height(), 3);
}

fn archive_of(n: usize) -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("in");
    std::fs::create_dir(&root).unwrap();
    let src = ["vp8_opus.webm", "vp9_opus.webm", "h264_aac.mp4", "av1_opus.webm", "vp9_vorbis.webm", "h264_noaudio.mp4"];
    for i in 0..n {
        let f = src[i % src.len()];
        let ext = f.rsplit_once('.').unwrap().1;
        std::fs::copy(fixture(f), root.join(format!("r{i:02}.{ext}"))).unwrap();
    }
    (d, root)
}

/// `proctor batch ROOT -o OUT` in the background, `jobs` recordings at once.
fn spawn_batch(root: &Path, out: &Path, jobs: &str) -> std::process::Child {
    proctor()
        .args(["batch", "-q", "--jobs", jobs, "--threads", jobs])
        .arg(root)
        .arg("-o")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// [`spawn_batch`] with 2 jobs, its temporary files in `tmp` (made here), so
/// that a test can see when a recording's analysis is under way.
fn spawn_batch_in_tmp(root: &Path, out: &Path, tmp: &Path) -> std::process::Child {
    std::fs::create_dir(tmp).unwrap();
    proctor()
        .args(["batch", "-q", "--jobs", "2", "--threads", "2"])
        .arg(root)
        .arg("-o")
        .arg(out)
        .env("TMPDIR", tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn manifest_lines(out: &Path) -> usize {
    std::fs::read_to_string(out.join("manifest.jsonl")).map(|t| t.lines().count()).unwrap_or(0)
}

#[test]
fn ctrl_c_stops_a_batch_cleanly_and_resume_finishes_it() {
    let (d, root) = archive_of(6);
    let out = d.path().join("out");
    let mut child = spawn_batch(&root, &out, "1");
    // wait for the first recording to finish, then interrupt
    let t0 = Instant::now();
    while manifest_lines(&out) < 1 && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(manifest_lines(&out) >= 1, "no recording finished in time");
    let kill = std::process::Command::new("kill").arg("-INT").arg(child.id().to_string()).status().unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    let done = manifest_lines(&out);
    assert!((1..6).contains(&done), "{done} of 6 done after Ctrl-C");
    assert_eq!(proctor::batch::read_summary(&out).unwrap().height(), done);
    assert!(temporaries(&out).is_empty(), "{:?}", temporaries(&out));
    // resume does the rest, and only the rest
    let r = run(&["batch", "-q", root.to_str().unwrap(), "-o", out.to_str().unwrap(), "--resume"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(manifest_lines(&out), 6);
    assert_eq!(proctor::batch::read_summary(&out).unwrap().height(), 6);
}

#[test]
fn a_second_ctrl_c_quits_at_once_and_leaves_no_temporaries() {
    let (d, root) = archive_of(4);
    let out = d.path().join("out");
    let tmp = d.path().join("tmp");
    let mut child = spawn_batch_in_tmp(&root, &out, &tmp);
    // wait until the first recording's analysis is under way: its lock is
    // held and its evidence pictures' (unnamed) file is open
    let lock = out.join("recordings/.r00.lock");
    let t0 = Instant::now();
    while !(lock.exists() && has_file_open_in(child.id(), &tmp)) {
        assert!(t0.elapsed() < Duration::from_secs(120), "r00's analysis never started");
        assert!(child.try_wait().unwrap().is_none(), "the batch ended before r00's analysis began");
        std::thread::sleep(Duration::from_millis(5));
    }
    let int = || std::process::Command::new("kill").arg("-INT").arg(child.id().to_string()).status().unwrap();
    assert!(int().success());
    std::thread::sleep(Duration::from_millis(100));
    let _ = int();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    // at once, not a graceful stop: a first Ctrl-C alone lets the recordings
    // under way finish and then writes the archive's summary; the second ends
    // the run before either
    assert!(!out.join("recordings/r00.report.pdf").exists(), "r00, under way at the first Ctrl-C, was finished");
    assert!(!out.join("summary.parquet").exists(), "the archive's summary was written: the run ended gracefully");
    assert!(temporaries(&out).is_empty(), "{:?}", temporaries(&out));
    // whatever finished is complete: every report has its tables
    for f in listing(&out.join("recordings")).iter().filter(|f| f.ends_with(".report.pdf")) {
        let id = f.trim_end_matches(".report.pdf");
        for t in ["frames.parquet", "detections.parquet", "events.parquet", "summary.json"] {
            assert!(out.join("recordings").join(format!("{id}.{t}")).exists(), "{id}.{t}");
        }
    }
}

#[test]
fn resume_reruns_what_another_version_or_model_made_and_merge_refuses_mixed_shards() {
    let (d, root) = archive_of(2);
    let out = d.path().join("out");
    assert_eq!(run(&["batch", "-q", root.to_str().unwrap(), "-o", out.to_str().unwrap(), "--no-objects"]).code(), 0);
    // r00 made by another proctor version, r01 by other models
    let m = out.join("manifest.jsonl");
    let text = std::fs::read_to_string(&m).unwrap();
    let edited: Vec<String> = text
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if v["id"] == "r00" {
                v["tool_version"] = "0.0.1".into();
            } else {
                v["models"] = "0000000000000000".into();
            }
            v.to_string()
        })
        .collect();
    std::fs::write(&m, edited.join("\n") + "\n").unwrap();
    let r = run(&["batch", "-q", root.to_str().unwrap(), "-o", out.to_str().unwrap(), "--no-objects", "--resume"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(manifest_lines(&out), 4, "both were analysed again");
    // a shard with another configuration is not merged silently
    let other = d.path().join("other");
    let cfg = d.path().join("c.toml");
    std::fs::write(&cfg, "[rules.no_face]\nmin_s = 4\n").unwrap();
    let r = run(&["batch", "-q", root.to_str().unwrap(), "-o", other.to_str().unwrap(), "--no-objects", "--config", cfg.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let merged = d.path().join("merged");
    let r = run(&["batch", "--merge", out.to_str().unwrap(), other.to_str().unwrap(), "-o", merged.to_str().unwrap()]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("another configuration"), "{}", r.stderr());
    assert!(!merged.join("summary.parquet").exists());
    let r = run(&["batch", "-q", "--merge", out.to_str().unwrap(), other.to_str().unwrap(), "-o", merged.to_str().unwrap(), "--force"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
}

#[test]
fn a_failed_file_is_named_once() {
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("broken.webm");
    std::fs::copy(fixture("random.webm"), &bad).unwrap();
    let r = run(&["batch", "-q", bad.to_str().unwrap(), "-o", d.path().join("out").to_str().unwrap()]);
    assert_eq!(r.code(), 2);
    for line in r.stderr().lines().filter(|l| l.contains("broken.webm")) {
        assert_eq!(line.matches("broken.webm").count(), 1, "{line}");
    }
}

#[test]
fn hostile_names_are_shown_literally() {
    let d = tempfile::tempdir().unwrap();
    let names = [
        "#set page(width: 1cm) *bold* _x_ $x^2$ <label> @ref",
        "\u{202e}txet LTR\u{202c} עברית مرحبا",
        "tab\there\u{7}bell\u{1b}[31mred",
    ];
    let long = "Ω".repeat(600);
    for (i, name) in names.iter().copied().chain(std::iter::once(long.as_str())).enumerate() {
        let f = d.path().join(format!("[{i}] #file $name {{x}}.webm"));
        std::fs::copy(fixture("vp8_noaudio.webm"), &f).unwrap();
        let out = d.path().join(format!("out{i}"));
        let r = analyze(&[&f], &out, &["--no-objects", "--candidate", name]);
        assert_eq!(r.code(), 0, "{name:?}: {}", r.stderr());
        let pdf = listing(&out).into_iter().find(|f| f.ends_with(".report.pdf")).expect("a report");
        if let Some(text) = pdf_text(&out.join(pdf)) {
            let flat: String = text.split_whitespace().collect();
            if i == 0 {
                assert!(flat.contains("#setpage(width:1cm)*bold*_x_$x^2$<label>@ref"), "{text}");
            }
            if i == 3 {
                assert!(flat.contains(&"Ω".repeat(30)), "{text}");
            }
            assert!(flat.contains(&format!("[{i}]#file$name{{x}}.webm")), "{text}");
        }
    }
}

// ---- issue 23: no silent wrong answer ----

/// A progress that does something to the recording once its analysis has
/// started (after it was probed, before it is decoded).
struct OnStart<F: Fn() + Sync>(F);

impl<F: Fn() + Sync> proctor::progress::Progress for OnStart<F> {
    fn start(&self, _total_s: f64) {
        (self.0)()
    }
    fn advance(&self, _media_s: f64) {}
    fn finish(&self) {}
}

fn no_models() -> proctor::analyze::Settings {
    proctor::analyze::Settings { config: Default::default(), models: Default::default(), threads: 1 }
}

#[test]
fn a_recording_that_changes_while_analysed_is_an_error_not_a_result() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("exam.webm");
    let original = std::fs::read(fixture("sample.webm")).unwrap();
    let settings = no_models();
    // truncated to half, truncated to 0 bytes, replaced by another file,
    // rewritten in place with the same size
    type Change = Box<dyn Fn(&Path) + Sync>;
    let changes: Vec<(&str, Change)> = vec![
        ("half", Box::new(|p: &Path| {
            let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
            f.set_len(f.metadata().unwrap().len() / 2).unwrap();
        })),
        ("zero", Box::new(|p: &Path| std::fs::File::create(p).map(|_| ()).unwrap())),
        ("replaced", Box::new(|p: &Path| {
            let other = p.with_file_name("other.webm");
            std::fs::copy(fixture("vp8_opus.webm"), &other).unwrap();
            std::fs::rename(&other, p).unwrap();
        })),
        ("rewritten", Box::new(|p: &Path| {
            std::thread::sleep(Duration::from_millis(20));
            let mut bytes = std::fs::read(p).unwrap();
            let n = bytes.len();
            bytes[n / 2..].fill(0);
            std::fs::write(p, bytes).unwrap();
        })),
    ];
    for (name, change) in &changes {
        std::fs::write(&f, &original).unwrap();
        let r = proctor::analyze::analyze(&f, &settings, &OnStart(|| change(&f)));
        let e = match r {
            Ok(a) => panic!("{name}: a result from a changing file: score {}, duration {}", a.score.value, a.info.duration_s),
            Err(e) => e,
        };
        let msg = e.to_string();
        assert!(msg.starts_with(&f.display().to_string()), "{name}: {msg}");
        assert!(msg.contains("changed while it was being analysed"), "{name}: {msg}");
    }
    // unchanged: a result, and its hash is of the bytes analysed
    std::fs::write(&f, &original).unwrap();
    let a = proctor::analyze::analyze(&f, &settings, &proctor::progress::NoProgress).unwrap();
    use sha2::Digest;
    let sha: String = sha2::Sha256::digest(&original).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(a.sha256, sha);
}

#[test]
fn write_errors_on_stdout_fail_and_a_closed_pipe_does_not() {
    if !Path::new("/dev/full").exists() {
        eprintln!("SKIPPED: no /dev/full");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let run_full = |args: &[&str]| {
        let out = proctor().args(args).stdout(full()).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let out = d.path().join("out");
    let cases: Vec<Vec<String>> = vec![
        vec!["config".into()],
        vec!["analyze".into(), "-q".into(), "--no-objects".into(), "--json".into(), "-o".into(), out.display().to_string(), fixture("vp8_noaudio.webm").display().to_string()],
        vec!["detect".into(), "--json".into(), "--no-objects".into(), fixture("face.jpg").display().to_string()],
    ];
    for args in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stderr) = run_full(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("standard output: cannot write (No space left on device"), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().filter(|l| l.contains("standard output")).count(), 1, "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let events = out.join("vp8_noaudio.events.parquet");
    let (code, stderr) = run_full(&["report", "--json", events.to_str().unwrap(), "-o", d.path().join("r.pdf").to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    // a closed pipe is the reader's choice: success
    if have("bash") && have("head") {
        let script = format!("'{}' config | head -c 1 >/dev/null; echo \"${{PIPESTATUS[0]}}\"", env!("CARGO_BIN_EXE_proctor"));
        let o = std::process::Command::new("bash").arg("-c").arg(&script).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "0", "{}", String::from_utf8_lossy(&o.stderr));
    }
}

#[test]
fn an_output_directory_that_cannot_be_written_fails_before_decoding() {
    let d = tempfile::tempdir().unwrap();
    // under a regular file: not writable, for root too
    std::fs::write(d.path().join("file"), b"x").unwrap();
    let out = d.path().join("file/out");
    let a = fixture("vp8_opus.webm");
    let b = fixture("vp9_opus.webm");
    let t0 = Instant::now();
    let r = analyze(&[&a, &b], &out, &["--no-objects", "--json"]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    // one line about the directory; no recording was decoded (none is named)
    let stderr = r.stderr();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", r.stderr());
    assert!(lines[0].contains("file/out") && lines[0].contains("the output directory cannot be written"), "{}", lines[0]);
    assert!(!r.stderr().contains("vp8_opus") && r.stdout().is_empty(), "{} {}", r.stderr(), r.stdout());
    eprintln!("failed in {:?}", t0.elapsed());
    // batch too
    let r = run(&["batch", "-q", a.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("the output directory cannot be written"), "{}", r.stderr());
}

#[test]
fn over_long_names_are_shortened_keeping_a_hash_not_failed() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join(format!("{}.webm", "x".repeat(240)));
    std::fs::copy(fixture("vp8_noaudio.webm"), &f).unwrap();
    let out = d.path().join("out");
    let r = analyze(&[&f], &out, &["--no-objects"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let reports: Vec<String> = listing(&out).into_iter().filter(|n| n.ends_with(".report.pdf")).collect();
    assert_eq!(reports.len(), 1, "{:?}", listing(&out));
    let id = reports[0].trim_end_matches(".report.pdf");
    assert!(id.len() <= proctor::ids::MAX_ID_BYTES && id.starts_with("xxxx"), "{id}");
    assert_eq!(id, proctor::ids::id_of(&f.file_name().unwrap().to_string_lossy()));
    // a deep archive: the batch id of folders joined with `__`
    let root = d.path().join("archive");
    let deep = (0..12).fold(root.clone(), |p, i| p.join(format!("department-of-examinations-{i:02}")));
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::copy(fixture("vp8_noaudio.webm"), deep.join("exam.webm")).unwrap();
    let bout = d.path().join("bout");
    let r = run(&["batch", "-q", "--no-objects", root.to_str().unwrap(), "-o", bout.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let ids = proctor::batch::read_summary(&bout).unwrap().column("recording").unwrap().str().unwrap().get(0).unwrap().to_string();
    assert!(ids.len() <= proctor::ids::MAX_ID_BYTES && ids.starts_with("department-of-examinations-00__"), "{ids}");
    assert!(bout.join(format!("recordings/{ids}.report.pdf")).exists());
}

#[test]
fn fifos_and_devices_are_named_as_what_they_are() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("pipe.webm");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let out = d.path().join("out");
    let r = analyze(&[&fifo, Path::new("/dev/null")], &out, &["--no-objects"]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    let e = r.stderr();
    assert!(e.contains("pipe.webm: is a FIFO (named pipe), not a recording file"), "{e}");
    assert!(e.contains("/dev/null: is a character device, not a recording file"), "{e}");
    assert!(!e.contains("is empty"), "{e}");
}

#[test]
fn a_file_with_two_video_streams_says_which_was_analysed() {
    if !have("ffmpeg") {
        eprintln!("SKIPPED: ffmpeg is not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let two = d.path().join("two.mkv");
    let o = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(fixture("vp8_noaudio.webm"))
        .arg("-i")
        .arg(fixture("vp9_opus.webm"))
        .args(["-map", "0:v", "-map", "1:v", "-c", "copy"])
        .arg(&two)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = d.path().join("out");
    let r = analyze(&[&two], &out, &["--no-objects"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let s = summary(&out.join("two.summary.json"));
    let w: Vec<&str> = s["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    let note = w.iter().find(|w| w.contains("video streams")).unwrap_or_else(|| panic!("{w:?}"));
    assert!(note.contains("the file has 2 video streams: stream #") && note.contains("was analysed, not #"), "{note}");
    assert_eq!(s["media"]["video_streams"], 2);
    // which one: the codec named as used is the one in the media facts
    let codec = s["media"]["video_codec"].as_str().unwrap();
    assert!(note.split(" was analysed").next().unwrap().contains(codec), "{note} / {codec}");
}

#[test]
fn sigterm_cleans_the_temporaries_as_ctrl_c_does() {
    let d = tempfile::tempdir().unwrap();
    let tmp = d.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = d.path().join("out");
    let mut child = proctor()
        .args(["analyze", "-q", "--threads", "1", "-o"])
        .arg(&out)
        .arg(fixture("sample.webm"))
        .env("TMPDIR", &tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !has_file_open_in(child.id(), &tmp) && t0.elapsed() < Duration::from_secs(120) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if !has_file_open_in(child.id(), &tmp) {
        let _ = child.kill();
        panic!("no evidence store appeared in {}", tmp.display());
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap().success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "ended by {status:?}");
    assert!(listing(&tmp).is_empty(), "{:?}", listing(&tmp));
    assert!(temporaries(&out).is_empty(), "{:?}", temporaries(&out));
    assert!(!listing(&out).iter().any(|n| n.ends_with(".lock")), "{:?}", listing(&out));
}

#[test]
fn a_second_run_writing_the_same_id_is_refused_not_raced() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    if !have("flock") {
        skip("flock (util-linux) is not installed");
        return;
    }
    // a run in progress writing `vp8_opus` here: a live process holds the
    // flock of its lock file (and wrote its pid there, as proctor does)
    let lock = out.join(".vp8_opus.lock");
    let mut holder = std::process::Command::new("sh")
        .arg("-c")
        .arg("echo $$ > \"$0\" && exec flock -o \"$0\" sleep 60")
        .arg(&lock)
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !(std::fs::read_to_string(&lock).is_ok_and(|s| !s.is_empty()) && has_file_open_in(holder.id(), &out)) {
        assert!(t0.elapsed() < Duration::from_secs(10), "flock never held the lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    let r = analyze(&[&fixture("vp8_opus.webm")], &out, &["--no-objects"]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains(&format!("another proctor run (pid {}) is writing the outputs of 'vp8_opus' here", holder.id())), "{}", r.stderr());
    assert!(!out.join("vp8_opus.report.pdf").exists());
    // killed, that run holds nothing: its lock file (still there) is simply taken
    let r = analyze(&[&fixture("vp8_opus.webm")], &out, &["--no-objects"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(listing(&out).iter().filter(|n| n.starts_with('.')).count(), 0, "{:?}", listing(&out));
    // two runs at once on one id: one analyses, the other refuses or comes after; never both half
    let (a, b) = (
        proctor().args(["analyze", "-q", "--no-objects", "-o"]).arg(&out).arg(fixture("vp8_opus.webm")).stderr(Stdio::piped()).spawn().unwrap(),
        proctor().args(["analyze", "-q", "--no-objects", "-o"]).arg(&out).arg(fixture("vp8_opus.webm")).stderr(Stdio::piped()).spawn().unwrap(),
    );
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for o in [&a, &b] {
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success() || e.contains("another proctor run"), "{e}");
    }
    assert!(a.status.success() || b.status.success());
    assert!(out.join("vp8_opus.report.pdf").exists());
    assert!(temporaries(&out).is_empty());
}

#[test]
fn sigterm_stops_a_batch_as_ctrl_c_does() {
    let (d, root) = archive_of(4);
    let out = d.path().join("out");
    let tmp = d.path().join("tmp");
    let mut child = spawn_batch_in_tmp(&root, &out, &tmp);
    let t0 = Instant::now();
    while !has_file_open_in(child.id(), &tmp) && t0.elapsed() < Duration::from_secs(120) && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let term = || std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(term().success());
    std::thread::sleep(Duration::from_millis(100));
    let _ = term();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "ended by {status:?}");
    assert!(temporaries(&out).is_empty(), "{:?}", temporaries(&out));
    assert!(listing(&tmp).is_empty(), "{:?}", listing(&tmp));
    assert!(!walkdir::WalkDir::new(&out).into_iter().flatten().any(|e| e.file_name().to_string_lossy().ends_with(".lock")));
}

/// A fresh analysis of the sample (no objects) in `out`, for editing.
fn sample_outputs(out: &Path) {
    let r = analyze(&[&fixture("sample.webm")], out, &["--no-objects", "--no-review-page"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
}

/// Rewrite `<id>.events.parquet` in `dir` after `edit` changed its events.
fn edit_events(dir: &Path, id: &str, edit: impl FnOnce(&mut Vec<proctor::records::Event>) -> String) {
    let p = dir.join(format!("{id}.events.parquet"));
    let (rec, mut events) = proctor::tables::read_events(&p).unwrap();
    let rec = {
        let named = edit(&mut events);
        if named.is_empty() { rec } else { named }
    };
    proctor::tables::write_parquet(&p, &mut proctor::tables::events_frame(&rec, &events)).unwrap();
}

#[test]
fn report_on_edited_outputs_names_what_is_wrong_or_stays_consistent() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path().join("base");
    sample_outputs(&base);
    let fresh = |name: &str| {
        let dir = d.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        for f in listing(&base) {
            std::fs::copy(base.join(&f), dir.join(&f)).unwrap();
        }
        dir
    };
    // times that cannot be: one line naming the events file and the problem, exit 2, no PDF written
    type Edit = fn(&mut Vec<proctor::records::Event>) -> String;
    let cases: [(&str, Edit, &str); 6] = [
        ("nan", |e| { e[0].start_s = f64::NAN; String::new() }, "not a finite number"),
        ("inf", |e| { e[0].end_s = f64::INFINITY; String::new() }, "not a finite number"),
        ("negative", |e| { e[0].start_s = -3.0; String::new() }, "starts before 0"),
        ("reversed", |e| { (e[0].start_s, e[0].end_s) = (e[0].end_s, e[0].start_s - 0.5); String::new() }, "ends before it starts"),
        ("past the end", |e| { e[0].end_s = 5000.0; String::new() }, "past the end"),
        ("another recording", |_| "someone_else".to_string(), "not 'sample'"),
    ];
    for (name, edit, says) in cases {
        let dir = fresh(name);
        edit_events(&dir, "sample", edit);
        std::fs::remove_file(dir.join("sample.report.pdf")).unwrap();
        let r = run(&["report", dir.to_str().unwrap()]);
        assert_eq!(r.code(), 2, "{name}: {}", r.stderr());
        assert!(r.stderr().contains("sample.events.parquet") && r.stderr().contains(says), "{name}: {}", r.stderr());
        assert_eq!(r.stderr().lines().count(), 1, "{name}: {}", r.stderr());
        assert!(!dir.join("sample.report.pdf").exists(), "{name}");
    }
    // an event's kind edited: listed under its new kind, and counted and scored as it
    let dir = fresh("kind");
    edit_events(&dir, "sample", |e| {
        let i = e.iter().position(|x| x.kind == proctor::kinds::EventKind::NoFace).expect("a no_face event");
        e[i].kind = proctor::kinds::EventKind::Phone;
        String::new()
    });
    let r = run(&["report", dir.to_str().unwrap(), "--json"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(r.stderr().contains("edited by hand"), "{}", r.stderr());
    let v: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
    let (_, events) = proctor::tables::read_events(&dir.join("sample.events.parquet")).unwrap();
    let want = proctor::score::score(&events, &proctor::config::Config::default().policy).value;
    assert_eq!(v["score"].as_f64().unwrap(), want);
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("sample.summary.json")).unwrap()).unwrap();
    assert_ne!(summary["score"].as_f64().unwrap(), want, "the edit changes the score");
    if let Some(text) = pdf_text(&dir.join("sample.report.pdf")) {
        assert!(text.contains(&format!("{want:.0}")), "{text}");
    }
    // the evidence pictures deleted: a report without them, with a warning
    let dir = fresh("no pictures");
    std::fs::remove_file(dir.join("sample.evidence.parquet")).unwrap();
    std::fs::remove_file(dir.join("sample.report.pdf")).unwrap();
    let r = run(&["report", dir.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(r.stderr().contains("warning") && r.stderr().contains("sample.evidence.parquet") && r.stderr().contains("shows none"), "{}", r.stderr());
    assert!(dir.join("sample.report.pdf").exists());
    // an unedited set renders without a word
    let dir = fresh("unedited");
    let r = run(&["report", dir.to_str().unwrap()]);
    assert_eq!((r.code(), r.stderr()), (0, String::new()));
}

#[test]
fn sigterm_ends_every_command_with_130() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    sample_outputs(&out);
    let mut child = proctor().arg("review").arg(&out).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    assert!(line.starts_with("http://"), "{line}");
    assert!(std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap().success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "review ended by {status:?}");
}

#[test]
fn names_that_reorder_text_are_shown_as_they_are_and_emoji_are_drawn() {
    let d = tempfile::tempdir().unwrap();
    // a file name with a right-to-left override: "exam_<RLO>fdp.webm" would read "exam_mbew.pdf"
    let name = "exam_\u{202E}fdp.webm";
    let clip = d.path().join(name);
    std::fs::copy(fixture("vp8_opus.webm"), &clip).unwrap();
    let out = d.path().join("out");
    let r = analyze(&[&clip], &out, &["--no-objects", "--candidate", "Zoë \u{202E}kcaJ 🙂"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let id = proctor::ids::id_of(name);
    let html = std::fs::read_to_string(out.join(format!("{id}.review.html"))).unwrap();
    assert!(!html.contains('\u{202E}'), "the page holds the override itself");
    assert!(html.contains("exam_&lt;U+202E&gt;fdp.webm") || html.contains("exam_\\u003cU+202E\\u003efdp.webm"), "the page shows the control");
    let Some(text) = pdf_text(&out.join(format!("{id}.report.pdf"))) else {
        skip("names_that_reorder_text_are_shown_as_they_are_and_emoji_are_drawn: pdftotext not installed");
        return;
    };
    assert!(!text.contains('\u{202E}'), "{text}");
    assert!(text.contains("<U+202E>kcaJ"), "{text}");
    // the emoji is drawn with a font that has it (pdffonts lists it), not as an empty box
    let fonts = std::process::Command::new("pdffonts").arg(out.join(format!("{id}.report.pdf"))).output().unwrap();
    let fonts = String::from_utf8_lossy(&fonts.stdout);
    assert!(fonts.contains("Symbola"), "no emoji font in the report:\n{fonts}");
    assert!(text.contains('🙂'), "{text}");
}
