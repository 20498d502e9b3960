//! The files `proctor analyze` and `proctor report` write, read back the way
//! users read them.

use std::path::Path;
use std::process::Command;

use crate::util::*;

fn pdftotext(pdf: &Path) -> Option<String> {
    if !have("pdftotext") {
        skip("pdftotext is not installed");
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
    let frames = proctor::tables::read_parquet(&dir.path().join("sample.frames.parquet")).unwrap();
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("sample.summary.json")).unwrap()).unwrap();
    assert_eq!(frames.height() as u64, summary["frames_analysed"].as_u64().unwrap());
    let t = frames.column("t_s").unwrap().f64().unwrap();
    assert_eq!(t.get(0), Some(0.0));
    assert!((t.get(1).unwrap() - 0.25).abs() < 1e-9);
    assert_eq!(frames.column("schema_version").unwrap().u32().unwrap().get(0), Some(proctor::tables::SCHEMA_VERSION));
    for c in ["recording", "frame", "pts_s", "width", "height", "mean_luma", "audio_db", "face_count", "yaw", "gaze_x", "ear_left", "mouth_open", "speech", "mouth_motion", "other_voice"] {
        assert!(frames.column(c).is_ok(), "frames column {c}");
    }
    let (rec, events) = proctor::tables::read_events(&dir.path().join("sample.events.parquet")).unwrap();
    assert_eq!(rec, "sample");
    assert_eq!(events.len() as u64, summary["events"].as_u64().unwrap());
    let sha = proctor::analyze::sha256_file(&fixture("sample.webm")).unwrap();
    assert_eq!(summary["sha256"].as_str().unwrap(), sha);
    // the report names the candidate, the duration and the score
    if let Some(text) = pdftotext(&dir.path().join("sample.report.pdf")) {
        assert!(text.contains("Zoë Ångström"), "{text}");
        assert!(text.contains("Integrity score"));
        assert!(text.contains("0:20"), "duration in the report");
        assert!(text.contains("Signals") && text.contains("audio (dBFS)"), "signal plots");
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
    let (_, evs) = proctor::tables::read_events(&events).unwrap();
    // a policy that deducts 7 for every event of every kind, however short
    let policy = dir.path().join("policy.toml");
    let table: String = proctor::events::EventKind::ALL.iter().map(|k| format!("{k} = 7\n")).collect();
    std::fs::write(&policy, format!("[deductions]\n{table}[full_at_s]\nno_face = 0\n")).unwrap();
    let out = dir.path().join("strict.pdf");
    let r = run(&["report", events.to_str().unwrap(), "--policy", policy.to_str().unwrap(), "-o", out.to_str().unwrap(), "--json"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let v: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
    let want = (100.0 - 7.0 * evs.len() as f64).max(0.0);
    assert_eq!(v["score"].as_f64().unwrap(), want);
    assert!(out.exists());
    // the page says it was re-scored
    if let Some(text) = pdftotext(&out) {
        assert!(text.contains("re-scored under the policy"), "{text}");
    }
    // a file that is not a proctor table is refused clearly
    std::fs::copy(fixture("sample.webm"), &events).unwrap();
    let r = run(&["report", events.to_str().unwrap()]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("sample.events.parquet") && r.stderr().contains("not a readable Parquet file"), "{}", r.stderr());
}

/// Images in a PDF (`pdfimages -list`), or None without poppler-utils.
fn pdf_images(pdf: &Path) -> Option<usize> {
    if !have("pdfimages") {
        skip("pdfimages is not installed");
        return None;
    }
    let out = Command::new("pdfimages").arg("-list").arg(pdf).output().unwrap();
    assert!(out.status.success());
    // two header lines, then one line per image
    Some(String::from_utf8_lossy(&out.stdout).lines().skip(2).filter(|l| !l.trim().is_empty()).count())
}

/// The report of an analysis shows an evidence picture for each listed event
/// (from the pictures kept during the analysis, whose temporary file is gone
/// afterwards), and so does the report rendered again from the saved files
/// (the pictures read from the evidence table).
#[test]
fn evidence_pictures_from_the_analysis_and_from_a_re_render_alike() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = proctor()
        .env("TMPDIR", tmp.path())
        .args(["analyze", "-q", "-o"])
        .arg(dir.path())
        .arg(fixture("sample.webm"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(listing(tmp.path()), Vec::<String>::new(), "the analysis's temporary files are gone");
    let (_, events) = proctor::tables::read_events(&dir.path().join("sample.events.parquet")).unwrap();
    assert!(!events.is_empty());
    let face = events.iter().any(|e| matches!(e.kind.as_str(), "identity" | "candidate_changed"));
    let want = events.len().min(proctor::report::MAX_THUMBNAILS) + usize::from(face);
    let Some(n) = pdf_images(&dir.path().join("sample.report.pdf")) else { return };
    assert_eq!(n, want, "{events:?}");
    let again = dir.path().join("again.pdf");
    let r = run(&["report", dir.path().join("sample.events.parquet").to_str().unwrap(), "-o", again.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(pdf_images(&again), Some(want));
}

/// The report compiles for an empty timeline, for thousands of events
/// (bounded: the table keeps the most severe) and for names in any script.
#[test]
fn report_renders_empty_huge_and_non_latin() {
    use proctor::events::{Event, EventKind};
    use proctor::report::{render_pdf, ReportInput};
    let mut empty = blank_analysis(&[]);
    empty.candidate = Some("Андрей Иванов".into());
    let input = ReportInput::from_analysis(&empty);
    assert_eq!(input.score, 100.0);
    let pdf = render_pdf(&input, vec![]).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    let many: Vec<Event> = (0..5000)
        .map(|i| Event {
            kind: EventKind::ALL[i % 9],
            start_s: i as f64 * 0.7,
            end_s: i as f64 * 0.7 + 0.5,
            confidence: 0.5,
            detail: format!("event {i}"),
            evidence_t: i as f64 * 0.7,
        })
        .collect();
    let mut big = blank_analysis(&many);
    big.candidate = Some("山田太郎".into());
    let input = ReportInput::from_analysis(&big);
    assert_eq!(input.events.len(), proctor::report::MAX_TABLE_EVENTS);
    assert_eq!(input.events_total, 5000);
    assert_eq!(input.score, 0.0);
    let pdf = render_pdf(&input, vec![]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.pdf");
    std::fs::write(&p, &pdf).unwrap();
    if let Some(text) = pdftotext(&p) {
        assert!(text.contains("5000 events in all"), "summarised");
        assert!(text.contains("HIGH RISK"));
    }
}
