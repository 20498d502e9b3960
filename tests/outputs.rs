//! The files `proctor analyze` and `proctor report` write, read back the way
//! users read them.

use std::path::Path;
use std::process::Command;

use crate::util::*;

fn pdftotext(pdf: &Path) -> Option<String> {
    if !have("pdftotext") {
        eprintln!("skipped: pdftotext not installed");
        return None;
    }
    let out = Command::new("pdftotext").arg("-layout").arg(pdf).arg("-").output().unwrap();
    assert!(out.status.success());
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn sample_outputs_load_and_agree() {
    let dir = tempfile::tempdir().unwrap();
    let r = analyze(&[&fixture("sample.webm")], dir.path(), &["--candidate", "Zoë Ångström 山田太郎"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let frames = proctor::timeline::read_parquet(&dir.path().join("sample.frames.parquet")).unwrap();
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("sample.summary.json")).unwrap()).unwrap();
    assert_eq!(frames.height() as u64, summary["frames_analysed"].as_u64().unwrap());
    let t = frames.column("t_s").unwrap().f64().unwrap();
    assert_eq!(t.get(0), Some(0.0));
    assert!((t.get(1).unwrap() - 0.25).abs() < 1e-9);
    assert_eq!(frames.column("schema_version").unwrap().u32().unwrap().get(0), Some(1));
    for c in ["recording", "frame", "pts_s", "width", "height", "mean_luma", "audio_db", "face_count", "yaw", "gaze_x", "ear_left"] {
        assert!(frames.column(c).is_ok(), "frames column {c}");
    }
    let (rec, events) = proctor::timeline::read_events(&dir.path().join("sample.events.parquet")).unwrap();
    assert_eq!(rec, "sample");
    assert_eq!(events.len() as u64, summary["events"].as_u64().unwrap());
    let sha = proctor::analyze::sha256_file(&fixture("sample.webm")).unwrap();
    assert_eq!(summary["sha256"].as_str().unwrap(), sha);
    // the report names the candidate, the duration and the score
    if let Some(text) = pdftotext(&dir.path().join("sample.report.pdf")) {
        assert!(text.contains("Zoë Ångström"), "{text}");
        assert!(text.contains("Integrity score"));
        let score = summary["score"].as_f64().unwrap();
        assert!(text.contains(&format!("{}", score.round() as i64)), "score {score} in report");
        for e in &events {
            assert!(text.contains(e.kind.as_str()), "{} in report", e.kind);
        }
    }
}

#[test]
fn report_rescores_from_the_events_file_with_another_policy() {
    let dir = tempfile::tempdir().unwrap();
    let r = analyze(&[&fixture("sample.webm")], dir.path(), &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let events = dir.path().join("sample.events.parquet");
    let (_, evs) = proctor::timeline::read_events(&events).unwrap();
    // a policy that deducts 7 for every kind
    let policy = dir.path().join("policy.toml");
    let table: String = proctor::events::EventKind::ALL.iter().map(|k| format!("{k} = 7\n")).collect();
    std::fs::write(&policy, format!("[deductions]\n{table}")).unwrap();
    let out = dir.path().join("strict.pdf");
    let r = run(&["report", events.to_str().unwrap(), "--policy", policy.to_str().unwrap(), "-o", out.to_str().unwrap(), "--json"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let v: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
    let want = (100.0 - 7.0 * evs.len() as f64).max(0.0);
    assert_eq!(v["score"].as_f64().unwrap(), want);
    assert!(out.exists());
    // a file that is not an events table is refused clearly
    let r = run(&["report", dir.path().join("sample.frames.parquet").to_str().unwrap()]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("not a proctor events file"), "{}", r.stderr());
}
