//! `proctor calibrate`: thresholds learnt on half of the devset's verdicts
//! do no worse on the other half; too few verdicts suggest nothing; a
//! directory without verdicts is refused.

use std::path::{Path, PathBuf};

use proctor::kinds::EventKind;

use crate::util::*;

/// Event counts against the labels of `clips` (analysed into `dir`), with
/// each analysis's events derived again under `cfg` (its own configuration
/// when `None`): true positives, false alarms, misses over every kind.
fn counts(dir: &Path, clips: &[PathBuf], truth: &proctor::eval::Truth, cfg: Option<&proctor::config::Config>) -> proctor::eval::Counts {
    let mut all = proctor::eval::Counts::default();
    for clip in clips {
        let rec = proctor::ids::id_of(&clip.file_name().unwrap().to_string_lossy());
        let a = proctor::load::load(&dir.join(format!("{rec}.summary.json"))).unwrap();
        let events = proctor::events::detect_events(&a.observations, a.config.analysis.fps, cfg.unwrap_or(&a.config)).events;
        let labels = &truth.clips[&proctor::eval::clip_id(clip)];
        for kind in EventKind::ALL {
            let pred: Vec<(f64, f64)> = events.iter().filter(|e| e.kind == kind).map(|e| (e.start_s, e.end_s)).collect();
            let want: Vec<(f64, f64)> = labels.events.iter().filter(|e| e.kind == kind.as_str()).map(|e| (e.start, e.end)).collect();
            all.add(proctor::eval::match_events(&pred, &want, 0.5));
        }
    }
    all
}

/// The files of recording `rec` in `from`, copied into `to`.
fn copy_outputs(from: &Path, to: &Path, rec: &str) {
    for name in listing(from) {
        if name.starts_with(&format!("{rec}.")) {
            std::fs::copy(from.join(&name), to.join(&name)).unwrap();
        }
    }
}

/// The devset analysed once; half its clips (every other one) reviewed by a
/// reviewer holding the labels (flags confirmed or dismissed, misses
/// marked); `proctor calibrate` on that half writes a proctor.toml; on the
/// other half, events derived again under it score an F1 against the labels
/// no lower than under the defaults. Run with the default minimum of
/// verdicts, and again with a low one so that suggestions are made.
#[test]
fn calibrating_on_half_the_devset_does_not_lower_f1_on_the_other_half() {
    let Some(dev) = devset() else {
        skip("../shared/devset is absent");
        return;
    };
    let clips: Vec<PathBuf> = listing(&dev).into_iter().filter(|n| n.ends_with(".mp4")).map(|n| dev.join(n)).collect();
    assert_eq!(clips.len(), 10);
    let truth = proctor::eval::load_truth(&dev.join("ground_truth.json")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let all = work.path().join("all");
    let refs: Vec<&Path> = clips.iter().map(|p| p.as_path()).collect();
    let r = analyze(&refs, &all, &["--no-review-page"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let (fit, held): (Vec<PathBuf>, Vec<PathBuf>) = {
        let (a, b): (Vec<_>, Vec<_>) = clips.iter().cloned().enumerate().partition(|(i, _)| i % 2 == 0);
        (a.into_iter().map(|x| x.1).collect(), b.into_iter().map(|x| x.1).collect())
    };
    let half = work.path().join("half");
    std::fs::create_dir(&half).unwrap();
    for clip in &fit {
        copy_outputs(&all, &half, &proctor::ids::id_of(&clip.file_name().unwrap().to_string_lossy()));
    }
    let given = verdicts_from_labels(&half, &fit, &truth, true);
    assert!(given.len() >= 5, "only {} verdicts on half the devset", given.len());
    let defaults = counts(&all, &held, &truth, None);
    let f1 = |c: &proctor::eval::Counts| c.f1().unwrap_or(0.0);
    for min in ["10", "3"] {
        let toml = work.path().join(format!("calibrated-{min}.toml"));
        let r = run(&["calibrate", half.to_str().unwrap(), "--min-verdicts", min, "--output", toml.to_str().unwrap(), "--json"]);
        assert_eq!(r.code(), 0, "{}", r.stderr());
        let report: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
        assert_eq!(report["verdicts"].as_u64().unwrap() as usize, given.len(), "{report}");
        let cfg = proctor::config::Config::load(&toml).unwrap();
        let tuned = counts(&all, &held, &truth, Some(&cfg));
        let suggested: Vec<&serde_json::Value> = report["kinds"].as_array().unwrap().iter().filter(|k| !k["suggestion"].is_null()).collect();
        eprintln!("--min-verdicts {min}: {} suggestions; held-out F1 {:.3} under them, {:.3} under the defaults", suggested.len(), f1(&tuned), f1(&defaults));
        assert!(f1(&tuned) >= f1(&defaults), "held-out F1 {tuned:?} under {}, {defaults:?} under the defaults", std::fs::read_to_string(&toml).unwrap());
        if suggested.is_empty() {
            assert_eq!(cfg, proctor::config::Config::default(), "nothing suggested, nothing changed");
        }
    }
}

/// Two verdicts on the sample fixture: too few for any kind; the table says
/// so, nothing is suggested, and the file written changes nothing.
#[test]
fn too_few_verdicts_suggest_nothing_and_say_so() {
    use proctor::review::decisions::{save, Decision, Verdict, DECISIONS_SCHEMA_VERSION};
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("proctor.toml");
    std::fs::write(&cfg, "[rules.no_face]\nmin_s = 5.0\n").unwrap();
    let out = d.path().join("out");
    let r = analyze(&[&fixture("sample.webm")], &out, &["--no-review-page", "--no-objects", "--config", cfg.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let (_, events) = proctor::tables::read_events(&out.join("sample.events.parquet")).unwrap();
    assert!(!events.is_empty());
    for (i, e) in events.iter().take(2).enumerate() {
        let d = Decision {
            schema_version: DECISIONS_SCHEMA_VERSION,
            recording: "sample".into(),
            kind: e.kind,
            start_s: e.start_s,
            end_s: e.end_s,
            verdict: if i == 0 { Verdict::Confirmed } else { Verdict::Dismissed },
            note: String::new(),
            reviewer: "t".into(),
            decided_at: "2026-12-05T00:00:00Z".into(),
            input_sha256: String::new(),
            config: String::new(),
        };
        save(&out, &d).unwrap();
    }
    let toml = d.path().join("calibrated.toml");
    let r = run(&["calibrate", out.to_str().unwrap(), "--output", toml.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(r.stdout().contains("too few verdicts"), "{}", r.stdout());
    assert!(r.stdout().contains("needs at least 10 verdicts on at least 3 recordings"), "{}", r.stdout());
    let text = std::fs::read_to_string(&toml).unwrap();
    assert!(text.contains("No change is suggested"), "{text}");
    assert_eq!(proctor::config::Config::load(&toml).unwrap(), proctor::config::Config::default());
    let r = run(&["calibrate", out.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
    assert!(v["kinds"].as_array().unwrap().iter().all(|k| k["suggestion"].is_null() && k["outcome"] == "too few verdicts"), "{v}");
}

/// A directory with no verdicts, or with verdicts but no analyses: one line
/// naming it, exit 2, nothing written.
#[test]
fn a_directory_without_verdicts_or_analyses_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let toml = d.path().join("out.toml");
    let r = run(&["calibrate", d.path().to_str().unwrap(), "--output", toml.to_str().unwrap()]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert_eq!(r.stderr().trim().lines().count(), 1, "{}", r.stderr());
    assert!(r.stderr().contains(&d.path().display().to_string()) && r.stderr().contains("no verdicts"), "{}", r.stderr());
    assert!(!toml.exists());
    let v = proctor::review::decisions::Decision {
        schema_version: proctor::review::decisions::DECISIONS_SCHEMA_VERSION,
        recording: "gone".into(),
        kind: EventKind::NoFace,
        start_s: 1.0,
        end_s: 2.0,
        verdict: proctor::review::decisions::Verdict::Confirmed,
        note: String::new(),
        reviewer: "t".into(),
        decided_at: "2026-12-05T00:00:00Z".into(),
        input_sha256: String::new(),
        config: String::new(),
    };
    proctor::review::decisions::save(d.path(), &v).unwrap();
    let r = run(&["calibrate", d.path().to_str().unwrap()]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert_eq!(r.stderr().trim().lines().count(), 1, "{}", r.stderr());
    assert!(r.stderr().contains("none of their analyses"), "{}", r.stderr());
    assert!(!toml.exists());
}

