//! Accuracy regression tests: `proctor eval` on the labelled fixture (always)
//! and on ../shared/devset (when present; skipped, and counted, otherwise).

use crate::util::*;

fn eval_json(truth: &std::path::Path, clips: &[std::path::PathBuf], extra: &[&str]) -> serde_json::Value {
    let mut cmd = proctor();
    cmd.arg("eval").arg("-q").arg("--json").arg("--truth").arg(truth).args(clips).args(extra);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn sample_fixture_accuracy_does_not_drop() {
    // the sample's no-face stretch is 6 s, shorter than the 10 s default
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("proctor.toml");
    std::fs::write(&cfg, "[events]\nno_face_min_s = 5.0\n").unwrap();
    let v = eval_json(&fixture("sample.truth.json"), &[fixture("sample.webm")], &["--config", cfg.to_str().unwrap()]);
    // measured: 80/80 frames, every labelled event found, no false alarm
    assert!(v["face_count_accuracy"].as_f64().unwrap() >= 0.95, "{v}");
    assert_eq!(v["overall"]["tp"], 3, "{v}");
    assert_eq!(v["overall"]["fp"], 0, "{v}");
    assert_eq!(v["overall"]["fn_"], 0, "{v}");
}

#[test]
fn devset_accuracy_does_not_drop() {
    let Some(dev) = devset() else {
        skip("../shared/devset is not present");
        return;
    };
    let mut clips: Vec<std::path::PathBuf> = std::fs::read_dir(&dev)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mp4"))
        .collect();
    clips.sort();
    assert_eq!(clips.len(), 10);
    let v = eval_json(&dev.join("ground_truth.json"), &clips, &[]);
    // measured (docs/accuracy.md): face count 100% (385/385), events precision 1.0 (10/10), recall 0.77 (10/13), F1 0.87
    let acc = v["face_count_accuracy"].as_f64().unwrap();
    let o = &v["overall"];
    let (tp, fp, fn_) = (o["tp"].as_f64().unwrap(), o["fp"].as_f64().unwrap(), o["fn_"].as_f64().unwrap());
    assert!(acc >= 0.98, "face-count accuracy {acc}");
    assert!(tp / (tp + fp) >= 0.9, "precision {tp}/{}", tp + fp);
    assert!(tp / (tp + fn_) >= 0.75, "recall {tp}/{}", tp + fn_);
    // issue 10: event F1 at least 0.85
    assert!(2.0 * tp / (2.0 * tp + fp + fn_) >= 0.85, "F1 from {tp} TP, {fp} FP, {fn_} FN");
}

#[test]
fn detect_reports_faces_objects_and_draws_them() {
    let d = tempfile::tempdir().unwrap();
    let png = d.path().join("seen.png");
    let face = fixture("face.jpg");
    let video = format!("{}@14", fixture("sample.webm").display());
    let r = run(&["detect", face.to_str().unwrap(), &video, "--json", "--annotate", png.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let lines: Vec<serde_json::Value> = r.stdout().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    let f = &lines[0]["faces"];
    assert_eq!(f.as_array().unwrap().len(), 1, "{}", lines[0]);
    for key in ["bbox", "score", "keypoints", "yaw", "pitch", "roll", "ear_left", "ear_right", "gaze_x", "gaze_y"] {
        assert!(!f[0][key].is_null(), "{key} in {}", lines[0]);
    }
    // the astronaut looks at the camera: small yaw, open eyes
    assert!(f[0]["yaw"].as_f64().unwrap().abs() < 15.0, "{}", lines[0]);
    assert!(f[0]["ear_left"].as_f64().unwrap() > 0.2, "{}", lines[0]);
    // 14 s into the sample: two people side by side
    assert_eq!(lines[1]["faces"].as_array().unwrap().len(), 2, "{}", lines[1]);
    assert!(lines[1]["objects"].is_array());
    for i in 1..=2 {
        let p = d.path().join(format!("seen-{i}.png"));
        assert!(image::open(&p).is_ok(), "{}", p.display());
    }
    // past the end of the video: a clear error
    let late = format!("{}@99", fixture("sample.webm").display());
    let r = run(&["detect", &late]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("past the end"), "{}", r.stderr());
}
