//! Trustworthy outputs: ids, all-or-nothing writes, the report saying what the
//! analysis did, kinds not checked, closed pipes, panics and Ctrl-C in a batch.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::*;

fn summary(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn pdf_text(pdf: &Path) -> Option<String> {
    if !have("pdftotext") {
        skip("pdftotext (poppler-utils) is not installed");
        return None;
    }
    let out = std::process::Command::new("pdftotext").arg("-layout").arg(pdf).arg("-").output().unwrap();
    assert!(out.status.success(), "pdftotext {}", pdf.display());
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
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
    std::fs::write(&cfg, "[events]\nno_face_min_s = 3\n").unwrap();
    let out = d.path().join("out");
    let r = analyze(&[&fixture("vp8_opus.webm")], &out, &["--no-objects", "--config", cfg.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let s = summary(&out.join("vp8_opus.summary.json"));
    assert_eq!(s["config"]["events"]["no_face_min_s"].as_f64(), Some(3.0));
    let pdf = d.path().join("again.pdf");
    let r = run(&["report", out.join("vp8_opus.events.parquet").to_str().unwrap(), "-o", pdf.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains("no_face_min_s = 3"), "{text}");
        assert!(!text.contains("no_face_min_s = 10"), "{text}");
        assert!(!text.contains("re-scored"), "{text}");
    }
    // a new policy re-scores, and the page says so
    let pol = d.path().join("strict.toml");
    std::fs::write(&pol, "[deductions]\nno_face = 50\n").unwrap();
    let r = run(&["report", out.join("vp8_opus.events.parquet").to_str().unwrap(), "-o", pdf.to_str().unwrap(), "--policy", pol.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains("re-scored under the policy"), "{text}");
        assert!(text.contains("no_face_min_s = 3"), "{text}");
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
    let mut child = spawn_batch(&root, &out, "2");
    // wait until recordings are under way (their model setup done, outputs being made)
    let t0 = Instant::now();
    while !out.join("recordings").exists() && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let int = || std::process::Command::new("kill").arg("-INT").arg(child.id().to_string()).status().unwrap();
    assert!(int().success());
    std::thread::sleep(Duration::from_millis(100));
    let _ = int();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
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
    std::fs::write(&cfg, "[events]\nno_face_min_s = 4\n").unwrap();
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
