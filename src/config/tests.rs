//! Tests of `config.rs`.

use super::*;

#[test]
fn the_audio_kinds_keys_set_their_thresholds() {
    let d = EventConfig::default();
    assert_eq!(d.loud_audio(), loud_audio::DEFAULTS);
    assert_eq!(d.background_noise(), background_noise::DEFAULTS);
    let cfg: Config = toml::from_str("[events]\nloud_audio_min_s = 1.0\nbackground_noise_transient_db = 30.0\nspeech_min = 0.6\n").unwrap();
    assert_eq!(cfg.events.loud_audio().min_s, 1.0);
    let b = cfg.events.background_noise();
    assert_eq!((b.transient_db, b.speech_min, b.min_s), (30.0, 0.6, 1.0));
    assert_eq!(Policy::default().deductions[&EventKind::LoudAudio], loud_audio::DEDUCTION);
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
    let cfg: Config = toml::from_str("[events]\nno_face_min_s = 4\n[policy.deductions]\nphone = 30\n").unwrap();
    assert_eq!(cfg.events.no_face_min_s, 4.0);
    assert_eq!(cfg.events.multiple_faces_min_s, 2.0);
    assert_eq!(cfg.policy.deductions[&EventKind::Phone], 30.0);
    // a partial deductions table is laid over the defaults
    assert_eq!(cfg.policy.deductions[&EventKind::Book], 10.0);
}

#[test]
fn printed_defaults_are_the_numbers_as_written() {
    let t = Config::default().to_toml();
    assert!(t.contains("book = 0.35"), "{t}");
    // no f32 widened to f64 (0.3499999940395355): no number with 6 or more decimals
    let long = regex::Regex::new(r"\.\d{6,}").unwrap();
    assert!(!long.is_match(&t), "{t}");
}

#[test]
fn unknown_keys_are_rejected() {
    assert!(toml::from_str::<Config>("[events]\nno_fase_min_s = 4\n").is_err());
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
