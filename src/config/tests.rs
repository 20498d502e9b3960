//! Tests of `config.rs`.

use super::*;

use crate::kinds::{background_noise, loud_audio};

#[test]
fn a_kinds_section_sets_its_thresholds_and_keeps_its_defaults() {
    let d = Config::default();
    assert_eq!(d.rules.loud_audio, loud_audio::DEFAULTS);
    assert_eq!(d.rules.background_noise, background_noise::DEFAULTS);
    let cfg: Config = toml::from_str("[rules.loud_audio]\nmin_s = 1.0\n[rules.background_noise]\ntransient_db = 30.0\n[events]\nspeech_min = 0.6\n").unwrap();
    assert_eq!(cfg.rules.loud_audio.min_s, 1.0);
    assert_eq!(cfg.rules.loud_audio.db, loud_audio::DEFAULTS.db, "a key left out keeps the kind's default");
    let b = cfg.rules.background_noise;
    assert_eq!((b.transient_db, b.min_s, cfg.events.speech_min), (30.0, 1.0, 0.6));
    assert_eq!(Policy::default().deductions[&EventKind::LoudAudio], loud_audio::DEDUCTION);
    // an object kind's sighting: the kind's own min_score stays when only its window is given
    let cfg: Config = toml::from_str("[rules.book]\nwindow = 5\n").unwrap();
    assert_eq!((cfg.rules.book.window, cfg.rules.book.min_hits, cfg.rules.book.min_score), (5, 2, 0.35));
    assert!(toml::from_str::<Config>("[rules.book]\nwindoe = 5\n").is_err(), "unknown keys of a section are refused");
}

#[test]
fn the_keys_of_earlier_files_still_work_and_say_where_they_went() {
    let old = "[events]\nno_face_min_s = 4\ngaze_away_ratio = 0.3\nobject_window = 4\nmerge_gap_s = 2.0\n[objects.min_score]\nphone = 0.3\n";
    let (cfg, moved) = parse(old).unwrap();
    assert_eq!(cfg.rules.no_face.min_s, 4.0);
    assert_eq!(cfg.rules.gaze_away.ratio, 0.3);
    assert_eq!(cfg.rules.phone.min_score, 0.3);
    assert_eq!(cfg.events.merge_gap_s, 2.0, "shared keys stay where they were");
    for k in [EventKind::Phone, EventKind::Book, EventKind::Device, EventKind::Person] {
        assert_eq!(cfg.rules.sighting(k).unwrap().window, 4, "{k}: the shared window went to every object kind");
    }
    assert!(moved.iter().any(|m| m == "events.no_face_min_s is now rules.no_face.min_s (the old key still works)"), "{moved:?}");
    assert!(moved.iter().any(|m| m.starts_with("events.object_window is now rules.phone.window, rules.book.window")), "{moved:?}");
    // the new place wins over the old when both are given
    let (cfg, _) = parse("[events]\nno_face_min_s = 4\n[rules.no_face]\nmin_s = 7\n").unwrap();
    assert_eq!(cfg.rules.no_face.min_s, 7.0);
    // a summary's configuration of an earlier version loads, as does its thresholds table
    let json = serde_json::json!({"events": {"no_face_min_s": 6.0, "merge_gap_s": 1.5}, "objects": {"min_score": {"phone": 0.2}}});
    let cfg = any_version(json).unwrap();
    assert_eq!((cfg.rules.no_face.min_s, cfg.rules.phone.min_score), (6.0, 0.2));
    let events = events_any_version(serde_json::json!({"no_face_min_s": 6.0, "merge_gap_s": 2.5})).unwrap();
    assert_eq!(events.merge_gap_s, 2.5);
}

#[test]
fn object_model_yolox_loads_and_the_retired_nanodet_is_refused_by_name() {
    let cfg: Config = toml::from_str("[objects]\nmodel = \"yolox\"\n").unwrap();
    assert_eq!(cfg, Config::default());
    let err = toml::from_str::<Config>("[objects]\nmodel = \"nanodet\"\n").unwrap_err().to_string();
    assert!(err.contains("objects.model") && err.contains("retired") && err.contains("\"yolox\""), "{err}");
    let err = toml::from_str::<Config>("[objects]\nmodel = \"yolo\"\n").unwrap_err().to_string();
    assert!(err.contains("objects.model = \"yolo\""), "{err}");
    // the key is still written, so the TOML and the fingerprint of a configuration are unchanged
    assert!(Config::default().to_toml().contains("model = \"yolox\""));
}

#[test]
fn a_bad_file_is_one_line_naming_the_place_and_the_key() {
    let dir = std::env::temp_dir().join(format!("proctor-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("nanodet.toml");
    std::fs::write(&p, "[analysis]\nfps = 4\n[objects]\nmodel = \"nanodet\"\n").unwrap();
    let e = Config::load(&p).unwrap_err().to_string();
    std::fs::remove_dir_all(&dir).ok();
    assert!(!e.contains('\n'), "{e}");
    assert!(e.starts_with(&p.display().to_string()), "{e}");
    assert!(e.contains("line 4, column 9: objects.model = \"nanodet\": NanoDet-g was retired"), "{e}");
}

#[test]
fn partial_file_keeps_defaults() {
    let cfg: Config = toml::from_str("[rules.no_face]\nmin_s = 4\n[policy.deductions]\nphone = 30\n").unwrap();
    assert_eq!(cfg.rules.no_face.min_s, 4.0);
    assert_eq!(cfg.rules.multiple_faces.min_s, 2.0);
    assert_eq!(cfg.policy.deductions[&EventKind::Phone], 30.0);
    // a partial deductions table is laid over the defaults
    assert_eq!(cfg.policy.deductions[&EventKind::Book], 10.0);
}

#[test]
fn printed_defaults_are_the_numbers_as_written() {
    let t = Config::default().to_toml();
    assert!(t.contains("[rules.book]\nmin_score = 0.35"), "{t}");
    // no f32 widened to f64 (0.3499999940395355): no number with 6 or more decimals
    let long = regex::Regex::new(r"\.\d{6,}").unwrap();
    assert!(!long.is_match(&t), "{t}");
}

#[test]
fn unknown_keys_are_rejected() {
    assert!(toml::from_str::<Config>("[events]\nno_fase_min_s = 4\n").is_err());
    assert!(parse("[events]\nno_fase_min_s = 4\n").is_err());
    assert!(parse("[rules.telepathy]\nmin_s = 4\n").is_err());
    assert!(toml::from_str::<Config>("[policy.deductions]\ntelepathy = 4\n").is_err());
    for bad in ["[policy.deductions]\nbook = inf\n", "[policy.caps]\nphone = -1\n", "[policy.full_at_s]\nno_face = nan\n"] {
        let cfg: Config = toml::from_str(bad).unwrap();
        assert!(cfg.validate().unwrap_err().starts_with("policy."), "{bad}");
    }
}

#[test]
fn voice_thresholds_must_be_ordered_similarities() {
    assert!(Config::default().validate().is_ok());
    let bad: Config = toml::from_str("[events]\nvoice_other_max = 0.9\nvoice_same_min = 0.8\n").unwrap();
    assert!(bad.validate().unwrap_err().contains("voice_same_min"));
    let bad: Config = toml::from_str("[events]\nvoice_same_min = 1.5\n").unwrap();
    assert!(bad.validate().is_err());
}

#[test]
fn clustering_needs_a_positive_gap_and_a_duration() {
    for bad in ["identity_cluster_gap = 0.0", "identity_cluster_gap = -0.5", "identity_cluster_gap = nan", "identity_cluster_min_s = -1.0"] {
        let cfg: Config = toml::from_str(&format!("[events]\n{bad}\n")).unwrap();
        assert!(cfg.validate().unwrap_err().contains("identity_cluster"), "{bad}");
    }
    let off: Config = toml::from_str("[events]\nidentity_cluster_gap = 9.0\nidentity_cluster_min_s = 0.0\n").unwrap();
    assert!(off.validate().is_ok());
}

#[test]
fn default_round_trips_through_toml() {
    let cfg = Config::default();
    let back: Config = toml::from_str(&cfg.to_toml()).unwrap();
    assert_eq!(back, cfg);
    assert_eq!(cfg.objects.category_of("laptop"), Some("device"));
    assert_eq!(cfg.objects.category_of("giraffe"), None);
}
