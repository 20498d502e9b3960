//! YuNet-n tests against the reference written by `models/convert_yunet.py`:
//! `fixtures/reference/yunet_n.safetensors` holds onnxruntime's raw outputs
//! (`raw/<image>`, `[N, 16]` = cls, obj, bbox, kps per cell, levels 8/16/32) for
//! the lossless PNG fixtures, fed as OpenCV's FaceDetectorYN feeds the network
//! (BGR 0-255, zero-padded to multiples of 32); `fixtures/reference/yunet_boxes.json`
//! holds the Python decode of those outputs (score >= 0.5, NMS 0.3), which
//! agrees with OpenCV's own FaceDetectorYN (IoU 1.0 on every face), for the
//! PNG and JPEG fixtures.

use std::path::Path;

use candle_core::Device;
use proctor::detect::boxes::{iou, nms};
use proctor::detect::yunet::{decode, suppress_nested, YuFace, YuNetDetector, NUM_OUTPUTS};

use crate::util::root;

/// Largest |candle - onnxruntime| allowed on the raw outputs (sigmoid scores,
/// box and keypoint offsets in cells). Both run the same f32 weights; the
/// observed difference is ~1e-5 (printed by the test).
const PARITY_TOL: f32 = 1e-3;

fn detector(root: &Path) -> YuNetDetector {
    YuNetDetector::from_bytes(&std::fs::read(root.join("models/yunet_n.safetensors")).unwrap(), &Device::Cpu).unwrap()
}

fn boxes_json(root: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(root.join("fixtures/reference/yunet_boxes.json")).unwrap()).unwrap()
}

fn f(v: &serde_json::Value) -> f32 {
    v.as_f64().unwrap() as f32
}

#[test]
fn yunet_raw_outputs_match_onnxruntime() {
    let root = root();
    let refs = candle_core::safetensors::load(root.join("fixtures/reference/yunet_n.safetensors"), &Device::Cpu).unwrap();
    let det = detector(&root);
    let mut names: Vec<&String> = refs.keys().collect();
    names.sort();
    assert_eq!(names.len(), 2, "raw outputs for the two PNG fixtures");
    let mut worst = 0f32;
    for name in names {
        let img = image::open(root.join("fixtures").join(name.strip_prefix("raw/").unwrap())).unwrap().to_rgb8();
        let p = det.prepare(&img).unwrap();
        let ours = det.raw_batch(&[&p]).unwrap().pop().unwrap();
        let theirs: Vec<f32> = refs[name].flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(refs[name].dims()[1], NUM_OUTPUTS);
        assert_eq!(ours.len(), theirs.len(), "{name}: output size");
        let d = ours.iter().zip(&theirs).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(d <= PARITY_TOL, "{name}: max abs diff {d} > {PARITY_TOL}");
        worst = worst.max(d);
    }
    eprintln!("YuNet max abs diff vs onnxruntime: {worst:e}");
}

#[test]
fn yunet_boxes_match_reference_decode() {
    let root = root();
    let json = boxes_json(&root);
    let records = json["images"].as_array().unwrap();
    let images: Vec<image::RgbImage> =
        records.iter().map(|r| image::open(root.join("fixtures").join(r["image"].as_str().unwrap())).unwrap().to_rgb8()).collect();
    let refs: Vec<&image::RgbImage> = images.iter().collect();
    // Mixed sizes: exercises the grouping by padded size too.
    let found = detector(&root).detect_batch(&refs).unwrap();
    let mut total = 0;
    for (rec, faces) in records.iter().zip(&found) {
        let name = rec["image"].as_str().unwrap();
        let expected = rec["faces"].as_array().unwrap();
        assert_eq!(faces.len(), expected.len(), "{name}: {} faces, reference {}", faces.len(), expected.len());
        // PNG: same pixels, so the same numbers up to float noise; JPEG: two decoders.
        let (min_iou, score_tol, kp_tol) = if name.ends_with(".png") { (0.995, 1e-3, 0.01) } else { (0.95, 0.02, 0.04) };
        for e in expected {
            let bb = e["bbox"].as_array().unwrap();
            let bbox = [f(&bb[0]), f(&bb[1]), f(&bb[2]), f(&bb[3])];
            let best = faces.iter().max_by(|a, b| iou(&a.bbox, &bbox).total_cmp(&iou(&b.bbox, &bbox))).unwrap();
            let o = iou(&best.bbox, &bbox);
            assert!(o >= min_iou, "{name}: IoU {o} for reference box {bbox:?}, ours {:?}", best.bbox);
            assert!((best.score - f(&e["score"])).abs() <= score_tol, "{name}: score {} vs {}", best.score, f(&e["score"]));
            let side = bbox[2] - bbox[0];
            for (k, kp) in e["keypoints"].as_array().unwrap().iter().enumerate() {
                let kp = kp.as_array().unwrap();
                let d = (best.keypoints[k][0] - f(&kp[0])).hypot(best.keypoints[k][1] - f(&kp[1]));
                assert!(d <= kp_tol * side, "{name}: keypoint {k} off by {d} px");
            }
        }
        total += faces.len();
    }
    // face.jpg 1, two faces 2, noface 0, group mosaic 12.
    assert_eq!(total, 15);
}

#[test]
fn yunet_decode_follows_upstream_formula() {
    // 32x32 input: 4x4 cells at stride 8, 2x2 at 16, 1 at 32.
    let mut raw = vec![0f32; 21 * NUM_OUTPUTS];
    // stride-8 cell (row 1, col 2): score sqrt(0.81 * 1.0) = 0.9
    let cell = &mut raw[6 * NUM_OUTPUTS..7 * NUM_OUTPUTS];
    cell[..6].copy_from_slice(&[0.81, 1.0, 0.5, 0.25, 2f32.ln(), 0.0]);
    for n in 0..5 {
        cell[6 + 2 * n] = n as f32 * 0.1;
        cell[7 + 2 * n] = -(n as f32) * 0.1;
    }
    // the stride-32 cell: cls above 1 is clamped, obj 0.25 -> score 0.5
    let last = &mut raw[20 * NUM_OUTPUTS..];
    last[..6].copy_from_slice(&[1.5, 0.25, 0.0, 0.0, 0.0, 0.0]);
    let faces = decode(&raw, 32, 32, 0.5);
    assert_eq!(faces.len(), 2);
    let a = faces[0];
    assert!((a.score - 0.9).abs() < 1e-6);
    // centre ((2 + 0.5) * 8, (1 + 0.25) * 8) = (20, 10), size (16, 8)
    for (got, want) in a.bbox.iter().zip([12.0, 6.0, 28.0, 14.0]) {
        assert!((got - want).abs() < 1e-4, "{:?}", a.bbox);
    }
    for n in 0..5 {
        let want = [(2.0 + n as f32 * 0.1) * 8.0, (1.0 - n as f32 * 0.1) * 8.0];
        assert!((a.keypoints[n][0] - want[0]).abs() < 1e-5 && (a.keypoints[n][1] - want[1]).abs() < 1e-5);
    }
    assert!((faces[1].score - 0.5).abs() < 1e-6);
    assert_eq!(faces[1].bbox, [-16.0, -16.0, 16.0, 16.0]); // decode does not clip
    // a higher floor drops the weaker one
    assert_eq!(decode(&raw, 32, 32, 0.6).len(), 1);
}

#[test]
fn yunet_nms_keeps_best_of_overlaps() {
    let face = |x: f32, score: f32| YuFace { bbox: [x, 0.0, x + 10.0, 10.0], score, keypoints: [[0.0; 2]; 5] };
    // IoU(0..10, 2..12) = 80/120 = 0.67 -> dropped; IoU(0..10, 8..18) = 20/180 = 0.11 -> kept
    let kept = nms(vec![face(2.0, 0.7), face(0.0, 0.9), face(8.0, 0.8)], 0.3);
    let xs: Vec<f32> = kept.iter().map(|k| k.bbox[0]).collect();
    assert_eq!(xs, vec![0.0, 8.0]);
}

#[test]
fn yunet_drops_boxes_nested_in_a_stronger_face() {
    let face = |b: [f32; 4], score: f32| YuFace { bbox: b, score, keypoints: [[0.0; 2]; 5] };
    // the devset case: a weak box on the lower half of a close-up face (IoU 0.29)
    let big = face([234.0, 125.0, 416.0, 373.0], 0.94);
    let inner = face([274.0, 232.0, 379.0, 356.0], 0.51);
    assert!(iou(&big.bbox, &inner.bbox) < 0.3);
    assert_eq!(nms(vec![big, inner], 0.3).len(), 2);
    assert_eq!(suppress_nested(vec![big, inner], 0.8), vec![big]);
    // a neighbour overlapping the edge stays; so does a nested box that is stronger
    let side = face([380.0, 150.0, 520.0, 320.0], 0.9);
    assert_eq!(suppress_nested(vec![big, side], 0.8).len(), 2);
    let strong_inner = face([274.0, 232.0, 379.0, 356.0], 0.97);
    assert_eq!(suppress_nested(vec![strong_inner, big], 0.8).len(), 2);
}

#[test]
fn yunet_downscales_large_pictures_and_maps_back() {
    let root = root();
    let det = detector(&root);
    let group = image::open(root.join("fixtures/reference/yunet_group.png")).unwrap().to_rgb8();
    // 2x larger than the fixture (1024x768): run at 640x480, boxes in 1024x768 pixels.
    let big = image::imageops::resize(&group, 1024, 768, image::imageops::FilterType::Triangle);
    let p = det.prepare(&big).unwrap();
    assert_eq!((p.pad_w, p.pad_h), (640, 480));
    assert_eq!(p.scale, [1.6, 1.6]);
    let found = det.detect(&big).unwrap();
    let json = boxes_json(&root);
    let rec = json["images"].as_array().unwrap().iter().find(|r| r["image"] == "reference/yunet_group.png").unwrap();
    let expected = rec["faces"].as_array().unwrap();
    assert_eq!(found.len(), expected.len());
    for e in expected {
        let bb = e["bbox"].as_array().unwrap();
        let bbox = [f(&bb[0]) * 2.0, f(&bb[1]) * 2.0, f(&bb[2]) * 2.0, f(&bb[3]) * 2.0];
        let o = found.iter().map(|d| iou(&d.bbox, &bbox)).fold(0f32, f32::max);
        assert!(o >= 0.8, "box {bbox:?}: best IoU {o}");
    }
    assert!(found.iter().all(|d| d.bbox[2] <= 1024.0 && d.bbox[3] <= 768.0 && d.bbox[0] >= 0.0 && d.bbox[1] >= 0.0));
}

#[test]
fn yunet_min_score_is_the_floor() {
    let root = root();
    let mut det = detector(&root);
    let group = image::open(root.join("fixtures/reference/yunet_group.png")).unwrap().to_rgb8();
    let all = det.detect(&group).unwrap();
    det.min_score = 0.92;
    let strong = det.detect(&group).unwrap();
    assert!(strong.len() < all.len() && !strong.is_empty(), "{} of {}", strong.len(), all.len());
    assert!(strong.iter().all(|d| d.score >= 0.92));
}

#[test]
fn yunet_keypoints_feed_the_mesh_in_blazeface_order() {
    let f = YuFace {
        bbox: [100.0, 50.0, 200.0, 170.0],
        score: 0.9,
        keypoints: [[130.0, 90.0], [170.0, 92.0], [150.0, 115.0], [135.0, 140.0], [165.0, 142.0]],
    };
    let k = f.blazeface_keypoints();
    assert_eq!(k[0], [130.0, 90.0]); // right eye
    assert_eq!(k[1], [170.0, 92.0]); // left eye
    assert_eq!(k[2], [150.0, 115.0]); // nose tip
    assert_eq!(k[3], [150.0, 141.0]); // mouth centre
    // square box on the mean of eyes and mouth corners (150, 116), side 0.86 x 120
    let b = f.blazeface_box();
    for (got, want) in b.iter().zip([98.4, 64.4, 201.6, 167.6]) {
        assert!((got - want).abs() < 1e-3, "{b:?}");
    }
    assert_eq!(k[4], [b[0], 90.0]); // right "ear": box edge on the right eye's side
    assert_eq!(k[5], [b[2], 92.0]);
}

#[test]
fn yunet_detector_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<YuNetDetector>();
}

/// `proctor detect` with the config's `face_min_score`: the detector's floor
/// follows it (a floor fixed at 0.5 used to hide every face below 0.5).
#[test]
fn face_min_score_reaches_the_detector() {
    let root = root();
    let dir = tempfile::tempdir().unwrap();
    let faces = |image: &str, score: f64| -> Vec<f64> {
        let cfg = dir.path().join(format!("min{score}.toml"));
        // unconfirmed detections kept down to the same score: this is about the detector's floor
        std::fs::write(&cfg, format!("[events]\nface_min_score = {score}\nface_unconfirmed_min_score = {score}\n")).unwrap();
        let pic = root.join("fixtures").join(image);
        let r = crate::util::run(&["detect", "--json", "--no-objects", "--config", cfg.to_str().unwrap(), pic.to_str().unwrap()]);
        assert_eq!(r.code(), 0, "{}", r.stderr());
        let v: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
        v["faces"].as_array().unwrap().iter().map(|f| f["score"].as_f64().unwrap()).collect()
    };
    let group = faces("reference/yunet_group.png", 0.5);
    assert_eq!(group.len(), 12);
    let strong = faces("reference/yunet_group.png", 0.92);
    assert!(strong.len() < 12 && strong.iter().all(|s| *s >= 0.92), "{strong:?}");
    let weak = faces("noface.jpg", 0.05);
    assert!(!weak.is_empty() && weak.iter().all(|s| *s < 0.5), "{weak:?}");
}
