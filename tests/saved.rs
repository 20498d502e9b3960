//! An analysis is saved whole and loaded whole: what `write_all` saved,
//! `load` gives back as the same value, and the views render it without the
//! recording.

use proctor::analyze::{analyze_with, Settings};
use proctor::config::Config;
use proctor::detect::models::{load, Which};
use proctor::progress::NoProgress;

use crate::util::*;

/// Every fixture recording proctor can analyse (the others are the
/// bad-input fixtures: empty, not a video, audio only, random bytes).
const NOT_RECORDINGS: &[&str] = &["empty.mp4", "notvideo.mp4", "random.webm", "audio_only.webm"];

#[test]
fn every_fixture_loads_back_as_the_analysis_that_was_written() {
    let models = load(None, Which { faces: true, objects: true, hands: true, speech: true, identity: true }).unwrap();
    let settings = Settings { config: Config::default(), models, threads: 2 };
    let out = tempfile::tempdir().unwrap();
    let mut names: Vec<String> = listing(&root().join("fixtures"))
        .into_iter()
        .filter(|n| [".webm", ".mp4", ".mkv"].iter().any(|x| n.ends_with(x)) && !NOT_RECORDINGS.contains(&n.as_str()))
        .collect();
    names.sort();
    assert!(names.len() >= 25, "{names:?}");
    let mut with_events = 0;
    let mut with_pictures = 0;
    for name in &names {
        let mut a = analyze_with(&fixture(name), &settings, None, &NoProgress).unwrap_or_else(|e| panic!("{name}: {e}"));
        a.candidate = Some("Zoë <b>Ångström</b> 山田".into());
        let outputs = proctor::save::write_all(&a, out.path()).unwrap();
        let back = proctor::load::load(&outputs.summary).unwrap_or_else(|e| panic!("{name}: {e}"));
        same_analysis(name, &back, &a.as_saved());
        // the rules on the saved outputs give the events, baseline and score analyze wrote
        let mut again = back.clone();
        proctor::rules::apply(&mut again);
        assert_eq!(again.events, a.events, "{name}: the rules on the saved outputs give other events than analyze's");
        assert_eq!((again.baseline, &again.score), (a.baseline, &a.score), "{name}: baseline or score");
        // the report rendered from what was loaded is the one analyze wrote (with its link to the review page)
        let page = proctor::review::encode_segment(&proctor::review::page::file_name(&back.recording));
        let pdf = proctor::report::render_linked(&back, Some(page)).unwrap();
        assert!(pdf == std::fs::read(&outputs.report).unwrap(), "{name}: the report rendered from the saved analysis differs");
        with_events += usize::from(!a.events.is_empty());
        with_pictures += usize::from(!a.evidence.is_empty());
    }
    // the comparison covered analyses with something in them
    assert!(with_events >= 5 && with_pictures >= 5, "{with_events} with events, {with_pictures} with pictures");
}

/// `proctor report` on an output directory whose recording was deleted
/// renders the same report, with its pictures, from the saved files alone.
#[test]
fn report_renders_from_the_saved_files_after_the_recording_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("interview.webm");
    std::fs::copy(fixture("sample.webm"), &rec).unwrap();
    let out = dir.path().join("out");
    let r = analyze(&[&rec], &out, &["--candidate", "Ada Lovelace"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    std::fs::remove_file(&rec).unwrap();
    let written = std::fs::read(out.join("interview.report.pdf")).unwrap();
    // rendered again in its place (elsewhere its link to the review page would be another relative path)
    let again = out.join("interview.report.pdf");
    std::fs::remove_file(&again).unwrap();
    let r = run(&["report", out.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(std::fs::read(&again).unwrap() == written, "the re-rendered report differs from the one analyze wrote");
    // the evidence table holds the pictures, readable as any other table
    let ev = proctor::tables::read_parquet(&out.join("interview.evidence.parquet")).unwrap();
    assert!(ev.height() > 0, "no evidence pictures saved");
    for c in ["recording", "subject", "t_s", "kinds", "width", "height", "jpeg"] {
        assert!(ev.column(c).is_ok(), "evidence column {c}");
    }
}

/// A summary that is missing, not JSON, or of a newer schema is one clear
/// error naming the file, exit 2.
#[test]
fn report_refuses_a_bad_summary_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let r = analyze(&[&fixture("sample.webm")], dir.path(), &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let summary = dir.path().join("sample.summary.json");
    let good = std::fs::read_to_string(&summary).unwrap();
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("missing", None, "no such file"),
        ("not json", Some("{ not json".into()), "not JSON"),
        ("newer", Some(good.replacen(&format!("\"schema_version\": {}", proctor::records::SCHEMA_VERSION), "\"schema_version\": 99", 1)), "schema version 99"),
        ("not a summary", Some(format!("{{\"schema_version\": {}}}", proctor::records::SCHEMA_VERSION)), "not a proctor summary"),
    ];
    for (what, content, says) in cases {
        match &content {
            Some(c) => std::fs::write(&summary, c).unwrap(),
            None => std::fs::remove_file(&summary).unwrap(),
        }
        let r = run(&["report", dir.path().join("sample.events.parquet").to_str().unwrap()]);
        assert_eq!(r.code(), 2, "{what}: {}", r.stderr());
        let err = r.stderr();
        assert_eq!(err.trim().lines().count(), 1, "{what}: one line: {err}");
        assert!(err.contains("sample.summary.json") && err.contains(says), "{what}: {err}");
    }
    // a truncated events table is named as such, not as a configuration error
    std::fs::write(&summary, &good).unwrap();
    let events = dir.path().join("sample.events.parquet");
    let bytes = std::fs::read(&events).unwrap();
    std::fs::write(&events, &bytes[..bytes.len() / 2]).unwrap();
    let r = run(&["report", dir.path().to_str().unwrap()]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("sample.events.parquet") && r.stderr().contains("not a readable proctor output"), "{}", r.stderr());
    assert!(!r.stderr().contains("configuration"), "{}", r.stderr());
}

/// `got == want`, or a panic naming the first field (and frame) that differs.
fn same_analysis(name: &str, got: &proctor::records::Analysis, want: &proctor::records::Analysis) {
    if got == want {
        return;
    }
    for (i, (g, w)) in got.observations.iter().zip(&want.observations).enumerate() {
        assert_eq!(g, w, "{name}: observation {i} differs");
    }
    assert_eq!(got.observations.len(), want.observations.len(), "{name}: observations");
    assert_eq!(got.events, want.events, "{name}: events");
    assert_eq!(got.info, want.info, "{name}: media");
    assert_eq!(got.score, want.score, "{name}: score");
    assert_eq!(got.config, want.config, "{name}: config");
    assert_eq!(got.identity, want.identity, "{name}: identity");
    assert_eq!(got.audio, want.audio, "{name}: audio");
    assert_eq!(got.evidence.len(), want.evidence.len(), "{name}: evidence pictures");
    for (g, w) in got.evidence.iter().zip(&want.evidence) {
        assert!(g == w, "{name}: evidence picture at {} s differs", w.t_s);
    }
    let short = |a: &proctor::records::Analysis| {
        format!(
            "{} {:?} {} {} {:?} {:?} {} {:?} {:?} {:?}",
            a.recording, a.candidate, a.analysed_at, a.sha256, a.baseline, a.stats, a.elapsed_s, a.warnings, a.models, a.checked
        )
    };
    panic!("{name}: the loaded analysis differs:\n got  {}\n want {}", short(got), short(want));
}

/// An output directory written before the analysis was saved whole (schema
/// 4: no evidence table, no keypoints or per-face lip opening in the
/// detections table, no `audio_peak_dbfs` in the frames table; nor schema 6's
/// `objects_detected`, `faces_detected`, cluster_distance and identities) still
/// loads, and `proctor report` renders it.
#[test]
fn an_output_directory_of_schema_4_still_loads_and_renders() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let r = analyze(&[&fixture("sample.webm")], dir.path(), &["--no-review-page"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let now = proctor::load::load(&dir.path().join("sample.summary.json")).unwrap();
    // the files as schema 4 wrote them
    for table in ["frames", "detections", "events"] {
        let p = dir.path().join(format!("sample.{table}.parquet"));
        let mut df = proctor::tables::read_parquet(&p).unwrap();
        if table == "detections" {
            df = df.drop_many(["keypoints", "mouth_open"]);
        }
        if table == "frames" {
            df = df.drop_many(["audio_peak_dbfs", "objects_detected", "faces_detected", "faces_described", "cluster_distance"]);
        }
        let n = df.height();
        df.with_column(Column::new("schema_version".into(), vec![4u32; n])).unwrap();
        let f = std::fs::File::create(&p).unwrap();
        ParquetWriter::new(f).finish(&mut df).unwrap();
    }
    std::fs::remove_file(dir.path().join("sample.evidence.parquet")).unwrap();
    let sp = dir.path().join("sample.summary.json");
    let mut summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&sp).unwrap()).unwrap();
    summary["schema_version"] = 4.into();
    summary["outputs"].as_object_mut().unwrap().remove("evidence").unwrap();
    summary["identity"].as_object_mut().unwrap().remove("identities").unwrap();
    std::fs::write(&sp, serde_json::to_vec_pretty(&summary).unwrap()).unwrap();

    let old = proctor::load::load(&sp).unwrap();
    assert_eq!(old.events, now.events);
    assert_eq!(old.score, now.score);
    assert!(old.evidence.is_empty());
    assert!(old.identity.identities.is_empty());
    assert!(old.observations.iter().all(|o| o.cluster_distance.is_none()));
    assert_eq!(old.observations.len(), now.observations.len());
    for (o, n) in old.observations.iter().zip(&now.observations) {
        // before schema 6 the object detector ran on every sampled frame, and where the
        // face detector ran was not written
        assert_eq!((o.objects_detected, o.faces_detected), (o.objects.is_some(), false), "at {} s", n.t);
        assert_eq!(o.objects, n.objects, "at {} s", n.t);
        let (of, nf) = (o.faces.as_deref().unwrap_or_default(), n.faces.as_deref().unwrap_or_default());
        assert_eq!(of.len(), nf.len(), "at {} s", n.t);
        // what schema 4 kept of a face comes back as it was; the lip opening of the first face too
        for (a, b) in of.iter().zip(nf) {
            assert_eq!((a.bbox, a.score, a.yaw, a.gaze_x), (b.bbox, b.score, b.yaw, b.gaze_x));
            assert!(a.keypoints.is_empty());
        }
        assert_eq!(of.first().and_then(|f| f.mouth_open), nf.first().and_then(|f| f.mouth_open));
        // no loudest-32-ms level before it was kept: null, the half-second level as it was
        assert_eq!((o.audio_db, o.audio_peak_db), (n.audio_db, None), "at {} s", n.t);
    }
    assert!(now.observations.iter().any(|n| n.audio_peak_db.is_some_and(|p| n.audio_db.is_some_and(|l| p >= l))));
    let pdf = dir.path().join("again.pdf");
    let r = run(&["report", dir.path().to_str().unwrap(), "-o", pdf.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF"));
    // its events cannot be derived again (its tables lack what the rules read): one line
    // naming the summary, what it lacks and the command that fills it in; nothing written
    let cfg = dir.path().join("other.toml");
    std::fs::write(&cfg, "[rules.no_face]\nmin_s = 2.0\n").unwrap();
    let whatif = dir.path().join("whatif");
    for args in [vec!["rescore", dir.path().to_str().unwrap(), "--config", cfg.to_str().unwrap(), "-o", whatif.to_str().unwrap()], vec!["report", dir.path().to_str().unwrap(), "--config", cfg.to_str().unwrap()]] {
        let r = run(&args);
        assert_eq!(r.code(), 2, "{}", r.stderr());
        let line = r.stderr().lines().find(|l| l.contains("error")).unwrap_or_default().to_string();
        assert!(line.contains(sp.to_str().unwrap()) && line.contains("schema 4") && line.contains("proctor analyze"), "{}", r.stderr());
    }
    assert!(!whatif.join("sample.summary.json").exists());
    assert!(!dir.path().join("sample.report.other.pdf").exists());
}
