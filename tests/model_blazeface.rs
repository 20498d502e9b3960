//! BlazeFace full-range tests. Each check is a function of the repository root
//! (it reads `models/blazeface_full.safetensors` and `fixtures/reference/`) so
//! it can move into another test binary unchanged; the `#[test]` wrappers at
//! the bottom only supply the root.
//!
//! Reference data comes from `models/convert_blazeface.py reference()`:
//! `fixtures/reference/blazeface_full.safetensors` holds the letterboxed inputs
//! (`input_u8`, NHWC; the float input is `u8 * (2/255) - 1`) and ai-edge-litert's
//! raw outputs for them; `fixtures/reference/blazeface_boxes.json` holds
//! mediapipe==0.10.21's own `FaceDetection(model_selection=1)` results in pixels.

use std::path::{Path, PathBuf};

use proctor::detect::blazeface::{
    upsample2x_bilinear, upsample2x_bilinear_generic, BlazeFaceFull, Depthwise, Stem,
};
use proctor::detect::face_detect::{
    iou, letterbox_u8, normalize, ssd_anchors, weighted_nms, FaceDetection, FaceDetector, Letterbox,
};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;

/// Largest |candle - litert| allowed on the raw outputs. Observed: see NOTES.md
/// (both sides use the same fp16-exact weights in f32; the spread between
/// litert's XNNPACK and builtin kernels is of the same order).
const PARITY_TOL: f32 = 1e-3;

fn load_net(root: &Path) -> anyhow::Result<BlazeFaceFull> {
    let bytes = std::fs::read(root.join("models/blazeface_full.safetensors"))?;
    let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu)?;
    Ok(BlazeFaceFull::load(vb)?)
}

/// (a) The network's raw outputs equal the reference runtime's on the same input.
/// Returns the max abs difference over regressors and logits.
pub fn check_raw_parity(root: &Path) -> anyhow::Result<f32> {
    let net = load_net(root)?;
    let refs = candle_core::safetensors::load(
        root.join("fixtures/reference/blazeface_full.safetensors"),
        &Device::Cpu,
    )?;
    let input = &refs["input_u8"]; // [B, 192, 192, 3] u8
    let (b, h, w, c) = input.dims4()?;
    let values: Vec<f32> = input
        .flatten_all()?
        .to_vec1::<u8>()?
        .into_iter()
        .map(normalize)
        .collect();
    let x = Tensor::from_vec(values, (b, h, w, c), &Device::Cpu)?
        .permute((0, 3, 1, 2))?
        .contiguous()?;
    let (reg, cls) = net.forward(&x)?;
    assert_eq!(reg.dims(), refs["regressors"].dims());
    assert_eq!(cls.dims(), refs["classificators"].dims());
    let d_reg = (reg - &refs["regressors"])?
        .abs()?
        .flatten_all()?
        .max(0)?
        .to_scalar::<f32>()?;
    let d_cls = (cls - &refs["classificators"])?
        .abs()?
        .flatten_all()?
        .max(0)?
        .to_scalar::<f32>()?;
    let diff = d_reg.max(d_cls);
    assert!(
        diff <= PARITY_TOL,
        "max abs diff regressors {d_reg}, logits {d_cls} > {PARITY_TOL}"
    );
    Ok(diff)
}

/// (b) End to end: same faces as mediapipe's own pipeline, IoU >= 0.9 each.
/// Returns the smallest IoU.
pub fn check_end_to_end(root: &Path) -> anyhow::Result<f32> {
    let fixtures = root.join("fixtures");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        fixtures.join("reference/blazeface_boxes.json"),
    )?)?;
    let records = json["images"].as_array().expect("images");
    let images = records
        .iter()
        .map(|r| Ok(image::open(fixtures.join(r["image"].as_str().unwrap()))?.to_rgb8()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let detector = FaceDetector::from_bytes(
        &std::fs::read(root.join("models/blazeface_full.safetensors"))?,
        &Device::Cpu,
    )?;
    let refs: Vec<&image::RgbImage> = images.iter().collect();
    let found = detector.detect_batch(&refs)?;
    assert_eq!(found.len(), records.len());
    let mut worst = 1.0f32;
    for (rec, faces) in records.iter().zip(&found) {
        let name = rec["image"].as_str().unwrap();
        let expected = rec["mediapipe"].as_array().unwrap();
        assert_eq!(
            faces.len(),
            expected.len(),
            "{name}: {} faces, mediapipe {}",
            faces.len(),
            expected.len()
        );
        for e in expected {
            let f = |v: &serde_json::Value| v.as_f64().unwrap() as f32;
            let bb = e["bbox"].as_array().unwrap();
            let bbox = [f(&bb[0]), f(&bb[1]), f(&bb[2]), f(&bb[3])];
            let best = faces
                .iter()
                .max_by(|a, b| iou(&a.bbox, &bbox).total_cmp(&iou(&b.bbox, &bbox)))
                .unwrap();
            let o = iou(&best.bbox, &bbox);
            worst = worst.min(o);
            assert!(
                o >= 0.9,
                "{name}: IoU {o} for mediapipe box {bbox:?}, ours {:?}",
                best.bbox
            );
            assert!(
                (best.score - f(&e["score"])).abs() < 0.05,
                "{name}: score {} vs {}",
                best.score,
                f(&e["score"])
            );
            let side = bbox[2] - bbox[0];
            for (k, kp) in e["keypoints"].as_array().unwrap().iter().enumerate() {
                let kp = kp.as_array().unwrap();
                let d = (best.keypoints[k][0] - f(&kp[0])).hypot(best.keypoints[k][1] - f(&kp[1]));
                assert!(d < 0.05 * side, "{name}: keypoint {k} off by {d} px");
            }
        }
    }
    Ok(worst)
}

/// The Rust letterbox reproduces the reference one (OpenCV warp, as mediapipe)
/// within one grey level on the lossless (PNG) fixtures; JPEG ones are skipped
/// because the two JPEG decoders differ by a few grey levels. Returns the max
/// difference.
pub fn check_letterbox_matches_reference(root: &Path) -> anyhow::Result<u8> {
    let fixtures = root.join("fixtures");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        fixtures.join("reference/blazeface_boxes.json"),
    )?)?;
    let refs = candle_core::safetensors::load(
        fixtures.join("reference/blazeface_full.safetensors"),
        &Device::Cpu,
    )?;
    let all = refs["input_u8"].flatten_all()?.to_vec1::<u8>()?;
    let per = 192 * 192 * 3;
    let mut worst = 0u8;
    for (i, rec) in json["images"].as_array().unwrap().iter().enumerate() {
        let name = rec["image"].as_str().unwrap();
        if !name.ends_with(".png") {
            continue;
        }
        let img = image::open(fixtures.join(name))?.to_rgb8();
        let (ours, _) = letterbox_u8(&img, 192);
        let theirs = &all[i * per..(i + 1) * per];
        let d = ours
            .iter()
            .zip(theirs)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        worst = worst.max(d);
    }
    assert!(
        worst <= 1,
        "letterbox differs from the reference by {worst} grey levels"
    );
    Ok(worst)
}

/// (c) Letterbox geometry: corners, round trip, black bands.
pub fn check_letterbox_round_trip() {
    let lb = Letterbox::new(640, 480);
    assert_eq!(
        lb,
        Letterbox {
            x0: 0.0,
            y0: -80.0,
            side: 640.0
        }
    );
    assert_eq!(lb.to_image([0.0, 0.0]), [0.0, -80.0]);
    assert_eq!(lb.to_image([1.0, 1.0]), [640.0, 560.0]);
    for p in [[0.0f32, 0.0], [12.5, 400.0], [639.0, 479.0], [320.0, 240.0]] {
        let q = lb.to_image(lb.to_tensor(p));
        assert!(
            (q[0] - p[0]).abs() < 1e-3 && (q[1] - p[1]).abs() < 1e-3,
            "{p:?} -> {q:?}"
        );
    }
    let tall = Letterbox::new(100, 300);
    assert_eq!(
        tall,
        Letterbox {
            x0: -100.0,
            y0: 0.0,
            side: 300.0
        }
    );

    // A white 640x480 picture: rows 0..24 and 168..192 of the tensor are black
    // (80 px bands scaled by 192/640), the middle is white.
    let img = image::RgbImage::from_pixel(640, 480, image::Rgb([255, 255, 255]));
    let (t, _) = letterbox_u8(&img, 192);
    let row = |v: usize| &t[v * 192 * 3..(v + 1) * 192 * 3];
    assert!(row(0).iter().all(|&p| p == 0) && row(23).iter().all(|&p| p == 0));
    assert!(
        row(25).iter().all(|&p| p == 255)
            && row(96).iter().all(|&p| p == 255)
            && row(166).iter().all(|&p| p == 255)
    );
    assert!(row(168).iter().all(|&p| p == 0) && row(191).iter().all(|&p| p == 0));
}

/// (c) Weighted NMS on hand-made boxes; expected values worked out by hand from
/// mediapipe's algorithm (NonMaxSuppressionCalculator, WEIGHTED).
pub fn check_weighted_nms() {
    let face = |bbox: [f32; 4], score: f32| FaceDetection {
        bbox,
        score,
        keypoints: [[bbox[0], bbox[3]]; 6],
    };
    // IoU(a,b) = 81/119 = 0.68, IoU(a,c) = 1/199, IoU(a,d) = 25/175 = 0.14,
    // IoU(c,d) = 36/164 = 0.22.
    let a = face([0.0, 0.0, 10.0, 10.0], 0.9);
    let b = face([1.0, 1.0, 11.0, 11.0], 0.6);
    let c = face([9.0, 9.0, 19.0, 19.0], 0.7);
    let d = face([5.0, 5.0, 15.0, 15.0], 0.5);
    let close =
        |got: [f32; 4], want: [f32; 4]| got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-5);

    // Threshold 0.3: a absorbs b; c and d stay alone.
    let out = weighted_nms(vec![b, d, c, a], 0.3);
    assert_eq!(
        out.iter().map(|f| f.score).collect::<Vec<_>>(),
        vec![0.9, 0.7, 0.5],
        "{out:?}"
    );
    let lo = (0.9 * 0.0 + 0.6 * 1.0) / 1.5; // 0.4
    let hi = (0.9 * 10.0 + 0.6 * 11.0) / 1.5; // 10.4
    assert!(close(out[0].bbox, [lo, lo, hi, hi]), "{:?}", out[0].bbox);
    assert!(
        (out[0].keypoints[5][0] - lo).abs() < 1e-5 && (out[0].keypoints[5][1] - hi).abs() < 1e-5
    );
    assert_eq!(out[1].bbox, c.bbox);
    assert_eq!(out[2].bbox, d.bbox);

    // Threshold 0.1: a absorbs b and d (weights 0.9, 0.6, 0.5); c stays alone.
    let out = weighted_nms(vec![a, b, c, d], 0.1);
    assert_eq!(out.len(), 2, "{out:?}");
    let lo = (0.0 * 0.9 + 1.0 * 0.6 + 5.0 * 0.5) / 2.0; // 1.55
    let hi = (10.0 * 0.9 + 11.0 * 0.6 + 15.0 * 0.5) / 2.0; // 11.55
    assert!(close(out[0].bbox, [lo, lo, hi, hi]), "{:?}", out[0].bbox);
    assert_eq!((out[0].score, out[1].bbox), (0.9, c.bbox));

    assert!(weighted_nms(Vec::new(), 0.3).is_empty());
}

/// The CPU kernels (custom ops) and the device-independent tensor-op versions
/// used on GPUs agree, on real weights and random inputs.
pub fn check_cpu_kernels_match_generic(root: &Path) -> anyhow::Result<f32> {
    let bytes = std::fs::read(root.join("models/blazeface_full.safetensors"))?;
    let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu)?;
    let dev = Device::Cpu;
    let max_diff = |a: &Tensor, b: &Tensor| -> anyhow::Result<f32> {
        assert_eq!(a.dims(), b.dims());
        Ok((a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?)
    };
    let mut worst = 0f32;
    for (name, c, stride, hw) in [
        ("enc96.res.0.dw1", 32, 1, 12),
        ("enc48.down.dw1", 32, 2, 12),
        ("head.reg.dw", 64, 2, 6),
    ] {
        let dw = Depthwise::load(vb.pp(name), c, stride)?;
        let x = Tensor::randn(0f32, 1.0, (2, c, hw, hw), &dev)?;
        worst = worst.max(max_diff(&dw.forward(&x)?, &dw.forward_generic(&x)?)?);
    }
    let x = Tensor::randn(0f32, 1.0, (2, 5, 3, 4), &dev)?;
    worst = worst.max(max_diff(
        &upsample2x_bilinear(&x)?,
        &upsample2x_bilinear_generic(&x)?,
    )?);
    let stem = Stem::load(
        vb.pp("stem"),
        candle_nn::Conv2dConfig {
            padding: 1,
            stride: 2,
            ..Default::default()
        },
    )?;
    let x = Tensor::randn(0f32, 1.0, (2, 3, 16, 16), &dev)?;
    worst = worst.max(max_diff(&stem.forward(&x)?, &stem.forward_generic(&x)?)?);
    assert!(
        worst < 1e-4,
        "CPU kernels and generic paths differ by {worst}"
    );
    Ok(worst)
}

fn scratch_root() -> PathBuf {
    std::env::var_os("PROCTOR_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

#[test]
fn blazeface_raw_outputs_match_litert() {
    let d = check_raw_parity(&scratch_root()).unwrap();
    eprintln!("max abs diff vs litert: {d:e}");
}

#[test]
fn blazeface_boxes_match_mediapipe() {
    let worst = check_end_to_end(&scratch_root()).unwrap();
    eprintln!("smallest IoU vs mediapipe: {worst}");
}

#[test]
fn blazeface_letterbox_matches_reference() {
    let d = check_letterbox_matches_reference(&scratch_root()).unwrap();
    eprintln!("letterbox max grey-level difference: {d}");
}

#[test]
fn blazeface_cpu_kernels_match_generic() {
    let d = check_cpu_kernels_match_generic(&scratch_root()).unwrap();
    eprintln!("cpu kernels vs generic: {d:e}");
}

#[test]
fn letterbox_round_trip() {
    check_letterbox_round_trip();
}

#[test]
fn weighted_nms_merges_overlaps() {
    check_weighted_nms();
}

#[test]
fn face_detector_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<FaceDetector>();
}

#[test]
fn anchors_cover_the_grid() {
    let a = ssd_anchors();
    assert_eq!(a.len(), 2304);
    assert_eq!(a[0], [0.5 / 48.0, 0.5 / 48.0]);
    assert_eq!(a[1], [1.5 / 48.0, 0.5 / 48.0]);
    assert_eq!(a[48], [0.5 / 48.0, 1.5 / 48.0]);
    assert_eq!(a[2303], [47.5 / 48.0, 47.5 / 48.0]);
}
