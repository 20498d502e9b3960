//! YOLOX-nano checks against onnxruntime (the reference runtime of the ONNX export).
//!
//! Fixtures (made by `models/convert_yolox.py`, `reference(workdir, fixtures)`):
//! - `fixtures/chelsea.png`: scikit-image 0.26.0 `data/chelsea.png` (451x300, CC0);
//! - `fixtures/reference/yolox_nano.safetensors`: `chelsea.input_u8`, the top-left letterboxed
//!   RGB canvas (fill 114) as u8 NCHW, `chelsea.transform`, and `chelsea.output`, the
//!   `[1, 3549, 85]` output of onnxruntime (CPU) on that canvas as BGR f32, stored as f16;
//! - `fixtures/reference/yolox_dets.json`: that f32 output decoded in Python (obj * cls,
//!   per-class NMS IoU 0.45, min_score 0.1), boxes in original pixels.
//! Weights: `models/yolox_nano.safetensors` (made by `convert(workdir, outdir)`).
use std::collections::HashMap;
use std::path::Path;

use anyhow::{ensure, Context, Result};
use candle_core::{DType, Device, Module, Tensor};
use proctor::detect::models::{load, Which};
use proctor::detect::letterbox::{self, Letterbox, Placement};
use proctor::detect::objects::{self, ObjectDetection, ObjectModel};
use proctor::detect::yolox::{self, YoloX};

use crate::util::root;

fn weights(root: &Path) -> Result<Vec<u8>> {
    let p = root.join("models/yolox_nano.safetensors");
    std::fs::read(&p).with_context(|| format!("{} (run models/convert_yolox.py)", p.display()))
}

fn reference(root: &Path) -> Result<HashMap<String, Tensor>> {
    let p = root.join("fixtures/reference/yolox_nano.safetensors");
    Ok(
        candle_core::safetensors::load(&p, &Device::Cpu)
            .with_context(|| p.display().to_string())?,
    )
}

/// The reference canvas as HWC RGB bytes (what `letterbox::letterbox_with` produces).
fn reference_canvas(r: &HashMap<String, Tensor>) -> Result<Vec<u8>> {
    Ok(r["chelsea.input_u8"]
        .get(0)?
        .permute((1, 2, 0))?
        .flatten_all()?
        .to_vec1::<u8>()?)
}

/// Raw output vs onnxruntime on the identical input, elementwise
/// |a - b| <= 2e-3 * |b| + 1e-4: the reference is stored as f16 (rounding up to 4.9e-4
/// relative), and 113 f32 convolutions summed in another order add ~1e-4 on the box
/// regressions (values up to ~4).
#[test]
fn yolox_raw_output_matches_onnxruntime() -> Result<()> {
    let root = root();
    let r = reference(&root)?;
    let mut x = Vec::new();
    yolox::to_bgr_planes(&reference_canvas(&r)?, &mut x);
    let n = yolox::INPUT_SIZE;
    let x = Tensor::from_vec(x, (1, 3, n, n), &Device::Cpu)?;
    let net = yolox::YoloxNano::from_safetensors(&weights(&root)?, &Device::Cpu)?;
    let got = net.forward(&x)?;
    let want = r["chelsea.output"].to_dtype(DType::F32)?;
    ensure!(
        got.dims() == want.dims(),
        "{:?} vs {:?}",
        got.dims(),
        want.dims()
    );
    let g = got.flatten_all()?.to_vec1::<f32>()?;
    let w = want.flatten_all()?.to_vec1::<f32>()?;
    let (mut worst, mut at) = (0f32, 0);
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let e = (a - b).abs() / (2e-3 * b.abs() + 1e-4);
        if e > worst {
            (worst, at) = (e, i);
        }
    }
    let max_abs = g
        .iter()
        .zip(&w)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    eprintln!(
        "yolox raw: worst {worst:.3}x the tolerance at cell {} column {} ({} vs {}), max |diff| {max_abs:.2e}",
        at / 85,
        at % 85,
        g[at],
        w[at]
    );
    ensure!(worst <= 1.0, "error {worst:.2}x the tolerance");
    Ok(())
}

/// Rust top-left letterbox (fill 114) of the PNG vs the canvas Python fed onnxruntime.
#[test]
fn yolox_letterbox_matches_reference() -> Result<()> {
    let root = root();
    let r = reference(&root)?;
    let img = image::open(root.join("fixtures/chelsea.png"))?.to_rgb8();
    let (canvas, lb) = letterbox::letterbox_with(&img, 416, Placement::TopLeft, yolox::PAD_VALUE);
    let t = r["chelsea.transform"].to_vec1::<f32>()?;
    ensure!(
        (lb.scale_x - t[0]).abs() < 1e-6 && (lb.scale_y - t[1]).abs() < 1e-6,
        "{lb:?} vs {t:?}"
    );
    ensure!(
        lb.pad_x == 0.0 && lb.pad_y == 0.0 && t[2] == 0.0 && t[3] == 0.0,
        "{lb:?} vs {t:?}"
    );
    let want = reference_canvas(&r)?;
    let diffs: Vec<i32> = canvas
        .iter()
        .zip(&want)
        .map(|(&a, &b)| (a as i32 - b as i32).abs())
        .collect();
    let max = diffs.iter().copied().max().unwrap_or(0);
    let off = diffs.iter().filter(|&&d| d != 0).count();
    eprintln!(
        "yolox letterbox: max diff {max}, {off} of {} bytes differ",
        diffs.len()
    );
    ensure!(
        max <= 1 && off * 1000 <= diffs.len(),
        "max diff {max}, {off} bytes differ"
    );
    // the padding really is 114 below the 451x300 picture (416x277 inside the canvas)
    ensure!(canvas[(300 * 416 + 10) * 3] == 114 && want[(300 * 416 + 10) * 3] == 114);
    Ok(())
}

/// Full pipeline on the PNG vs the Python decode of onnxruntime's output: every detection
/// scoring >= min_score + 0.01 on either side is matched by one of the same class with
/// |score diff| <= 0.01 and every box edge within 2 px; the top one is the cat.
#[test]
fn yolox_detections_match_reference() -> Result<()> {
    let root = root();
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        root.join("fixtures/reference/yolox_dets.json"),
    )?)?;
    let min_score = doc["min_score"].as_f64().context("min_score")? as f32;
    let want: Vec<ObjectDetection> = doc["images"]["chelsea"]["detections"]
        .as_array()
        .context("detections")?
        .iter()
        .map(|d| {
            let id = d["class_id"].as_u64().unwrap() as usize;
            let b: Vec<f32> = d["bbox"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            ObjectDetection {
                class_id: id,
                class_name: objects::COCO_LABELS[id],
                score: d["score"].as_f64().unwrap() as f32,
                bbox: [b[0], b[1], b[2], b[3]],
                runner_up: None,
            }
        })
        .collect();
    ensure!(!want.is_empty(), "reference has no detections");
    let model = YoloX::from_bytes(&weights(&root)?, &Device::Cpu)?;
    let img = image::open(root.join("fixtures/chelsea.png"))?.to_rgb8();
    let (x, boxes) = model.preprocess(&[&img], true)?;
    let got = model.postprocess(&model.raw(&x)?[0], (416, 416), &boxes[0], min_score);
    let close = |a: &ObjectDetection, b: &ObjectDetection| {
        a.class_id == b.class_id
            && (a.score - b.score).abs() <= 0.01
            && a.bbox
                .iter()
                .zip(&b.bbox)
                .all(|(x, y)| (x - y).abs() <= 2.0)
    };
    for (xs, ys, what) in [(&want, &got, "missing"), (&got, &want, "unexpected")] {
        for d in xs.iter().filter(|d| d.score >= min_score + 0.01) {
            ensure!(
                ys.iter().any(|e| close(d, e)),
                "{what} detection {d:?}\n got: {got:#?}"
            );
        }
    }
    eprintln!(
        "yolox detections: {} expected, {} got: {got:?}",
        want.len(),
        got.len()
    );
    ensure!(
        got.first().map(|d| d.class_name) == Some("cat"),
        "top detection {:?}",
        got.first()
    );
    Ok(())
}

/// Box decoding on a hand-made output: one stride-16 cell (column 3, row 2) with
/// reg (0.5, 0.25, ln 2, 0), obj 0.8, "cell phone" 0.5 and "book" 0.1.
#[test]
fn yolox_decode_by_hand() {
    let mut raw = vec![0f32; yolox::NUM_CELLS * yolox::OUT_CHANNELS];
    let cell = 52 * 52 + 2 * 26 + 3;
    let row = &mut raw[cell * 85..(cell + 1) * 85];
    row[..5].copy_from_slice(&[0.5, 0.25, 2f32.ln(), 0.0, 0.8]);
    row[5 + 67] = 0.5;
    row[5 + 73] = 0.1;
    let dets = yolox::decode(&raw, 0.05);
    assert_eq!(dets.len(), 2, "{dets:?}");
    let phone = dets.iter().find(|d| d.class_name == "cell phone").unwrap();
    // centre ((0.5 + 3) * 16, (0.25 + 2) * 16) = (56, 36); size (2 * 16, 1 * 16)
    assert!((phone.score - 0.4).abs() < 1e-6);
    let want = [40.0, 28.0, 72.0, 44.0];
    assert!(
        phone
            .bbox
            .iter()
            .zip(want)
            .all(|(a, b)| (a - b).abs() < 1e-4),
        "{:?}",
        phone.bbox
    );
    // book scores 0.08: above 0.05, below 0.1
    assert!(yolox::decode(&raw, 0.1)
        .iter()
        .all(|d| d.class_name == "cell phone"));
}

/// The analysis canvas (416 x the picture's depth rounded up to 32: 416x288 for the 451x300
/// cat) finds what the exported 416x416 canvas finds: the same classes above 0.3, scores
/// within 0.05, box edges within 3% of the picture's long side. Only the padding below the
/// picture differs, which a box as large as the picture sees (observed: the cat's right edge
/// moves 9.8 px of 451, its score 0.635 -> 0.638).
#[test]
fn yolox_shallow_canvas_matches_square() -> Result<()> {
    let root = root();
    let model = YoloX::from_bytes(&weights(&root)?, &Device::Cpu)?;
    let img = image::open(root.join("fixtures/chelsea.png"))?.to_rgb8();
    let (x, boxes) = model.preprocess(&[&img], false)?;
    ensure!(x.dims() == [1, 3, 288, 416], "{:?}", x.dims());
    let shallow = model.detect_batch(&[&img], 0.2)?.remove(0);
    let (x, _) = model.preprocess(&[&img], true)?;
    let square = model.postprocess(&model.raw(&x)?[0], (416, 416), &boxes[0], 0.2);
    eprintln!("shallow {shallow:?}\nsquare {square:?}");
    for (xs, ys) in [(&shallow, &square), (&square, &shallow)] {
        for d in xs.iter().filter(|d| d.score >= 0.3) {
            ensure!(
                ys.iter().any(|e| e.class_id == d.class_id
                    && (e.score - d.score).abs() <= 0.05
                    && e.bbox.iter().zip(&d.bbox).all(|(a, b)| (a - b).abs() <= 0.03 * 451.0)),
                "{d:?} has no match"
            );
        }
    }
    ensure!(shallow.first().map(|d| d.class_name) == Some("cat"));
    Ok(())
}

/// Top-left letterbox inverse on a 640x360 frame: the picture fills the top 234 rows.
#[test]
fn yolox_letterbox_top_left_inverse() {
    let lb = Letterbox::placed(640, 360, 416, Placement::TopLeft);
    assert_eq!(
        (lb.inner_width, lb.inner_height, lb.pad_x, lb.pad_y),
        (416, 234, 0.0, 0.0)
    );
    let b = lb.to_original([0.0, 0.0, 416.0, 234.0]);
    assert!(
        b.iter()
            .zip([0.0, 0.0, 640.0, 360.0])
            .all(|(a, e)| (a - e).abs() < 1e-3),
        "{b:?}"
    );
    // a box in the padding below the picture clamps to the bottom edge
    assert_eq!(lb.to_original([10.0, 300.0, 20.0, 400.0])[1], 360.0);
}

/// The built-in object detector is YOLOX-nano (NanoDet-g, once the alternative, was retired),
/// with its provenance; the palm detector (for the crops around hands) loads with it, unless
/// the hand crops are off.
#[test]
fn object_model_is_yolox() -> Result<()> {
    let which = Which { faces: false, objects: true, hands: true, speech: false, identity: false };
    let m = load(None, which)?;
    ensure!(m.objects.as_ref().map(|o| o.name()) == Some("yolox-nano"));
    ensure!(m.hands.is_some(), "no palm detector");
    ensure!(
        m.provenance.len() == 3 && m.provenance.iter().all(|p| !p.sha256.is_empty()),
        "{:?}",
        m.provenance
    );
    ensure!(
        m.provenance[0].package == "Kazuhito00/YOLOX-ONNX-TFLite-Sample",
        "{:?}",
        m.provenance[0]
    );
    // with the hand crops off (`objects.hand_crop = false`) the palm detector is not loaded
    let m = load(None, Which { hands: false, ..which })?;
    ensure!(m.objects.is_some() && m.hands.is_none(), "palm detector loaded without the hand crops");
    ensure!(m.provenance.len() == 1, "{:?}", m.provenance);
    Ok(())
}
