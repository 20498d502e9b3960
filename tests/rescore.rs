//! `proctor rescore` and `proctor report --config`: the rules run again on
//! saved outputs under another configuration give the events, to the event,
//! that a fresh `proctor analyze --config` of the recording gives.

use std::path::Path;

use proctor::records::Event;

use crate::util::*;

/// Every rule stricter or looser than the defaults, and a deduction changed.
const OTHER: &str = "[rules.no_face]\nmin_s = 2.0\n\n[rules.multiple_faces]\nmin_s = 1.0\n\n\
[rules.looking_away]\nyaw_deg = 12.0\nmin_s = 1.5\n\n[rules.gaze_away]\nratio = 0.12\nmin_s = 1.0\n\n\
[rules.eyes_closed]\nmin_s = 1.0\n\n[rules.phone]\nmin_score = 0.12\nmin_hits = 1\n\n[rules.book]\nmin_score = 0.15\n\n\
[rules.loud_audio]\ndb = -20.0\n\n[rules.voices]\nmin_s = 1.0\n\n[rules.background_noise]\nabove_floor_db = 12.0\n\n\
[policy.deductions]\nvoices = 20\n";

const CLIPS: &[&str] = &["sample.webm", "still_phone.webm", "phone_in_hand.webm", "speech_two_voices.webm", "still_gaze.webm", "audio_clipped.webm"];

fn events(dir: &Path, id: &str) -> Vec<Event> {
    proctor::tables::read_events(&dir.join(format!("{id}.events.parquet"))).unwrap_or_else(|e| panic!("{id}: {e}")).1
}

#[test]
fn rescore_and_report_config_give_the_events_of_a_fresh_analysis_under_that_configuration() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("other.toml");
    std::fs::write(&cfg, OTHER).unwrap();
    let files: Vec<std::path::PathBuf> = CLIPS.iter().map(|c| fixture(c)).collect();
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let (analysed, fresh, rescored) = (d.path().join("a"), d.path().join("fresh"), d.path().join("rescored"));
    let r = analyze(&refs, &analysed, &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let r = analyze(&refs, &fresh, &["--config", cfg.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let r = run(&["rescore", analysed.to_str().unwrap(), "--config", cfg.to_str().unwrap(), "-o", rescored.to_str().unwrap(), "--json"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let lines: Vec<serde_json::Value> = r.stdout().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), CLIPS.len() + 1, "{}", r.stdout());
    let totals = &lines.last().unwrap()["totals"];
    let mut differed = 0;
    for clip in CLIPS {
        let id = clip.trim_end_matches(".webm");
        let (before, want, got) = (events(&analysed, id), events(&fresh, id), events(&rescored, id));
        assert_eq!(got, want, "{id}: rescore's events differ from a fresh analysis under the same configuration");
        differed += usize::from(before != want);
        let score = |dir: &Path| {
            let s: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join(format!("{id}.summary.json"))).unwrap()).unwrap();
            (s["score"].as_f64().unwrap(), s["config"]["rules"]["no_face"]["min_s"].as_f64().unwrap())
        };
        assert_eq!(score(&rescored), score(&fresh), "{id}: score and configuration");
        // the rescored directory is an output directory like any other
        assert!(rescored.join(format!("{id}.review.html")).exists() && rescored.join(format!("{id}.report.pdf")).exists(), "{id}");
        // report --config: the same events, rendered beside the analysis's own report, which stays
        let own = std::fs::read(analysed.join(format!("{id}.report.pdf"))).unwrap();
        let r = run(&["report", analysed.join(format!("{id}.summary.json")).to_str().unwrap(), "--config", cfg.to_str().unwrap(), "--json"]);
        assert_eq!(r.code(), 0, "{}", r.stderr());
        let said: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
        assert_eq!(said["events"].as_u64(), Some(want.len() as u64), "{id}: report --config shows the events the configuration raises");
        assert_eq!(said["report"].as_str().unwrap(), analysed.join(format!("{id}.report.other.pdf")).to_str().unwrap());
        assert!(std::fs::read(analysed.join(format!("{id}.report.pdf"))).unwrap() == own, "{id}: the analysis's own report was written over");
    }
    assert!(differed >= 3, "the configuration changed the events of only {differed} recordings: the test shows little");
    let added: u64 = totals["added"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert!(added > 0, "{totals}");
    // the PDF says at the top that its events were derived again
    if let Some(text) = pdf_text(&analysed.join("sample.report.other.pdf")) {
        assert!(text.contains("events derived again from the saved observations"), "{text}");
    }
}

#[test]
fn rescore_refuses_what_only_a_new_analysis_can_apply_and_never_writes_over_its_input() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("a");
    let r = analyze(&[&fixture("vp8_opus.webm")], &out, &["--no-objects"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let before = listing(&out);
    // a setting of what is seen: one line naming it, exit 2, nothing written
    let cfg = d.path().join("fps.toml");
    std::fs::write(&cfg, "[analysis]\nfps = 2.0\n").unwrap();
    let whatif = d.path().join("whatif");
    let r = run(&["rescore", out.to_str().unwrap(), "--config", cfg.to_str().unwrap(), "-o", whatif.to_str().unwrap()]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("analysis.fps = 4.0 -> 2.0") && r.stderr().contains("proctor analyze --config"), "{}", r.stderr());
    assert!(!whatif.join("vp8_opus.summary.json").exists());
    let r = run(&["report", out.to_str().unwrap(), "--config", cfg.to_str().unwrap()]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("analysis.fps"), "{}", r.stderr());
    // the output directory is the input
    let ok = d.path().join("ok.toml");
    std::fs::write(&ok, "[rules.no_face]\nmin_s = 1.0\n").unwrap();
    let r = run(&["rescore", out.to_str().unwrap(), "--config", ok.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("never over the analyses"), "{}", r.stderr());
    assert_eq!(listing(&out), before, "the input was written to");
    // a configuration that fails validation: one line, exit 2
    let bad = d.path().join("bad.toml");
    std::fs::write(&bad, "[rules.phone]\nmin_hits = 5\n").unwrap();
    let r = run(&["rescore", out.to_str().unwrap(), "--config", bad.to_str().unwrap(), "-o", whatif.to_str().unwrap()]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert_eq!(r.stderr().trim().lines().count(), 1, "{}", r.stderr());
    assert!(r.stderr().contains("rules.phone.min_hits"), "{}", r.stderr());
    // an old key still works, and says where it went
    let old = d.path().join("old.toml");
    std::fs::write(&old, "[events]\nno_face_min_s = 1.0\n").unwrap();
    let r = run(&["rescore", out.to_str().unwrap(), "--config", old.to_str().unwrap(), "-o", whatif.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(r.stderr().contains("events.no_face_min_s is now rules.no_face.min_s"), "{}", r.stderr());
    assert!(r.stdout().contains("rescored 1 of 1 recordings"), "{}", r.stdout());
}
