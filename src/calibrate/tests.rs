//! Tests of `calibrate`: matching spans, the utility, cross-validation by
//! recording, setting a threshold by its key, and the too-few path.

use super::cv::*;
use super::*;
use crate::config::Config;
use crate::records::{FaceObs, Observation};
use crate::review::decisions::{DECISIONS_SCHEMA_VERSION, Verdict::*};

#[test]
fn a_verdict_counts_as_kept_when_a_new_event_overlaps_its_span() {
    let events = [(10.0, 20.0), (40.0, 41.0)];
    let verdicts = [(Confirmed, 15.0, 25.0), (Confirmed, 30.0, 35.0), (Dismissed, 19.0, 22.0), (Dismissed, 50.0, 60.0), (Missed, 40.5, 45.0), (Missed, 70.0, 71.0), (Cleared, 40.0, 41.0)];
    let t = tally(&events, &verdicts);
    assert_eq!(
        t,
        Tally { confirmed_kept: 1, confirmed_dropped: 1, dismissed_kept: 1, dismissed_dropped: 1, missed_found: 1, missed_not_found: 1, unreviewed: 0 }
    );
    // touching ends are not an overlap; an instant inside a span is
    assert!(!overlaps((0.0, 10.0), (10.0, 12.0)));
    assert!(overlaps((5.0, 5.0), (0.0, 10.0)));
    // an event no verdict (a cleared one is none) overlaps is unreviewed
    let t = tally(&[(0.0, 1.0), (5.0, 6.0)], &[(Cleared, 0.0, 1.0), (Dismissed, 5.5, 7.0)]);
    assert_eq!((t.unreviewed, t.dismissed_kept, t.verdicts()), (1, 1, 1));
}

#[test]
fn utility_is_f1_over_kept_found_and_false_alarms() {
    let t = Tally { confirmed_kept: 6, confirmed_dropped: 2, dismissed_kept: 3, dismissed_dropped: 5, missed_found: 2, missed_not_found: 2, unreviewed: 9 };
    assert_eq!((t.tp(), t.fp(), t.fn_()), (8, 3, 4));
    assert!((t.f1().unwrap() - 16.0 / 23.0).abs() < 1e-12);
    assert_eq!(Tally::default().f1(), None);
    // unreviewed events change nothing
    assert_eq!(Tally { unreviewed: 5, ..t }.f1(), t.f1());
}

fn row(f1s: &[(usize, usize)]) -> Vec<Tally> {
    // each candidate as (confirmed kept, dismissed kept) out of 4 confirmed, 4 dismissed
    f1s.iter().map(|&(ck, dk)| Tally { confirmed_kept: ck, confirmed_dropped: 4 - ck, dismissed_kept: dk, dismissed_dropped: 4 - dk, ..Tally::default() }).collect()
}

#[test]
fn the_current_setting_wins_ties_and_a_better_value_wins_otherwise() {
    let rows = vec![row(&[(4, 2), (4, 2), (4, 0)]), row(&[(4, 2), (4, 2), (3, 0)])];
    assert_eq!(best(&rows, |_| true), 2);
    let rows = vec![row(&[(4, 2), (4, 2)])];
    assert_eq!(best(&rows, |_| true), 0);
    // without any verdict counted, nothing changes
    assert_eq!(best(&[vec![Tally::default(); 3]], |_| true), 0);
}

#[test]
fn folds_split_the_recordings_and_leave_one_out_when_few() {
    assert_eq!(folds(4, 10), vec![0, 1, 2, 3]);
    assert_eq!(folds(5, 2), vec![0, 1, 0, 1, 0]);
    assert_eq!(folds(0, 10), Vec::<usize>::new());
}

#[test]
fn cross_validation_never_scores_a_recording_under_a_choice_fitted_on_it() {
    // recording 0 alone gains a lot from candidate 1, which costs the others a
    // little: fitted on everything candidate 1 wins, but held out, recording 0
    // is scored under the choice of recordings 1 and 2 (the current setting)
    let rows = vec![row(&[(0, 4), (4, 0)]), row(&[(4, 0), (3, 0)]), row(&[(4, 0), (3, 0)])];
    assert_eq!(best(&rows, |_| true), 1);
    let cv = cross_validate(&rows, 10);
    assert_eq!(cv.folds, 3);
    assert_eq!(cv.choices[0], 0, "fold 0 was chosen without recording 0");
    // folds 1 and 2 are chosen with recording 0 in their training set: candidate 1
    assert_eq!(&cv.choices[1..], &[1, 1]);
    let mut want = rows[0][0];
    want.add(&rows[1][1]);
    want.add(&rows[2][1]);
    assert_eq!(cv.held_out, want);
    // every recording is counted exactly once
    assert_eq!(cv.held_out.verdicts(), 3 * 8);
}

#[test]
fn a_threshold_is_set_by_its_key_and_read_back() {
    let cfg = Config::default();
    for kind in EventKind::ALL {
        for k in knobs(kind) {
            let v = *k.values.last().unwrap();
            let set = knob::set(&cfg, k.key, v).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(knob::get(&set, k.key), Some(v), "{}", k.key);
            assert!(knob::get(&cfg, k.key).is_some(), "{} is not in the default configuration", k.key);
        }
    }
    assert!(knob::set(&cfg, "events.no_such_key", 1.0).is_err());
    assert!(knob::set(&cfg, "nowhere.at_all", 1.0).is_err());
    assert!(knob::set(&cfg, "analysis.fps", -1.0).is_err(), "an invalid value is refused");
}

fn face() -> FaceObs {
    FaceObs {
        bbox: [0.0, 0.0, 100.0, 100.0],
        score: 0.9,
        keypoints: vec![],
        yaw: Some(0.0),
        pitch: Some(0.0),
        roll: Some(0.0),
        ear_left: Some(0.3),
        ear_right: Some(0.3),
        gaze_x: Some(0.0),
        gaze_y: Some(0.0),
        mouth_open: None,
    }
}

fn decision(rec: &str, kind: EventKind, verdict: Verdict, s: f64, e: f64) -> Decision {
    Decision {
        schema_version: DECISIONS_SCHEMA_VERSION,
        recording: rec.into(),
        kind,
        start_s: s,
        end_s: e,
        verdict,
        note: String::new(),
        reviewer: "t".into(),
        decided_at: "2026-12-05T00:00:00Z".into(),
        input_sha256: String::new(),
        config: String::new(),
    }
}

/// A recording of 40 s at 4 fps with no face in the `gaps` (start, end in s).
fn reviewed(id: &str, gaps: &[(f64, f64)], verdicts: &[(Verdict, f64, f64)]) -> Reviewed {
    let obs: Vec<Observation> = (0..160)
        .map(|i| {
            let t = i as f64 / 4.0;
            let faces = if gaps.iter().any(|g| (g.0..g.1).contains(&t)) { vec![] } else { vec![face()] };
            Observation { mean_luma: 100.0, ..Observation::with_faces(i, t, (640, 480), faces) }
        })
        .collect();
    let config = Config::default();
    let events = crate::events::detect_events(&obs, config.analysis.fps, &config).events;
    let analysis = Analysis {
        recording: id.into(),
        candidate: None,
        analysed_at: String::new(),
        info: Default::default(),
        sha256: String::new(),
        observations: obs,
        events,
        baseline: Default::default(),
        score: crate::score::score(&[], &config.policy),
        audio: Default::default(),
        stats: Default::default(),
        elapsed_s: 0.0,
        warnings: Vec::new(),
        config,
        models: Vec::new(),
        checked: Default::default(),
        identity: Default::default(),
        evidence: Vec::new(),
    };
    let verdicts = verdicts.iter().map(|&(v, s, e)| decision(id, EventKind::NoFace, v, s, e)).collect();
    Reviewed { dir: PathBuf::from("out"), analysis, verdicts }
}

#[test]
fn too_few_verdicts_suggest_nothing_and_say_why() {
    // two recordings, 3 s without a face each, marked missed: too few to learn from
    let recs: Vec<Reviewed> = (0..2).map(|i| reviewed(&format!("r{i}"), &[(10.0, 13.0)], &[(Missed, 10.0, 13.0)])).collect();
    let r = calibrate(&recs, &Options::default());
    assert_eq!(r.kinds.len(), 1);
    let k = &r.kinds[0];
    assert_eq!(k.outcome, "too few verdicts");
    assert!(k.suggestion.is_none() && k.cv.is_none());
    assert!(k.why.contains("2 verdicts on 2 recordings"), "{}", k.why);
    assert!(to_toml(&r, "proctor calibrate out").contains("No change is suggested"));
}

#[test]
fn missed_absences_on_enough_recordings_suggest_a_shorter_minimum() {
    // every recording has a 3 s absence reviewers marked missed (shorter than
    // the default minimum), a 6 s one they confirmed, and a 1.5 s one they
    // dismissed: a minimum between 1.5 and 3 s finds the first and keeps
    // quiet on the last
    let recs: Vec<Reviewed> = (0..4)
        .map(|i| reviewed(&format!("r{i}"), &[(10.0, 13.0), (20.0, 26.0), (30.0, 31.5)], &[(Missed, 10.0, 13.0), (Confirmed, 20.0, 26.0), (Dismissed, 30.0, 31.5)]))
        .collect();
    let r = calibrate(&recs, &Options::default());
    let k = &r.kinds[0];
    assert_eq!(k.outcome, "suggest", "{}", k.why);
    let s = k.suggestion.as_ref().unwrap();
    let now = knob::get(&Config::default(), &s.key).unwrap();
    assert!(s.value < now && s.value > 1.5 && s.value <= 3.0, "{s:?}");
    assert_eq!(k.cv.as_ref().unwrap().folds, 4);
    assert!(k.cv_f1.unwrap() > k.now_f1.unwrap_or(0.0));
    // the file written holds the key, after its evidence, and loads
    let text = to_toml(&r, "proctor calibrate out");
    let cfg: Config = toml::from_str(&text).unwrap();
    assert_eq!(knob::get(&cfg, &s.key), Some(s.value));
    assert!(text.contains("cross-validated"), "{text}");
}

