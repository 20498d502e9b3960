//! NanoDet-g checks against the TF.js reference runtime. Each check is a function of the repo
//! root so it can move into proctor's `tests/` as is; only the `use` line below is crate-specific.
//!
//! Fixtures (made by `models/convert_nanodet.py reference`, i.e. `reference(workdir, fixtures)`):
//! - `fixtures/chelsea.png`: scikit-image 0.26.0 `data/chelsea.png` (451x300, CC0);
//! - `fixtures/reference/nanodet_g.safetensors`: the letterboxed input as u8 and the six raw
//!   outputs of `@tensorflow/tfjs@4.22.0` (cpu backend) stored as f16;
//! - `fixtures/reference/nanodet_dets.json`: those float32 outputs decoded in Python
//!   (GFL + per-class NMS IoU 0.6, min_score 0.1), boxes in original pixels.
//! Weights: `models/nanodet_g.safetensors` (made by `convert(workdir, outdir)`).
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};
use candle_core::{DType, Device, Tensor};
use proctor::detect::nanodet::{self, NanoDet as Net};
use proctor::detect::objects::{self, NanoDet, ObjectDetection, ObjectModel};

fn weights(root: &Path) -> Result<Vec<u8>> {
    let p = root.join("models/nanodet_g.safetensors");
    std::fs::read(&p).with_context(|| format!("{} (run models/convert_nanodet.py)", p.display()))
}

fn reference(root: &Path) -> Result<HashMap<String, Tensor>> {
    let p = root.join("fixtures/reference/nanodet_g.safetensors");
    Ok(
        candle_core::safetensors::load(&p, &Device::Cpu)
            .with_context(|| p.display().to_string())?,
    )
}

/// The reference input as the HWC RGB canvas `objects::letterbox` produces.
fn reference_canvas(r: &HashMap<String, Tensor>) -> Result<Vec<u8>> {
    Ok(r["input_u8"]
        .get(0)?
        .permute((1, 2, 0))?
        .flatten_all()?
        .to_vec1::<u8>()?)
}

/// Raw outputs vs tfjs on the identical input: |a - b| <= 1e-3 * |b| + 1e-5 elementwise
/// (the reference is stored as f16, whose rounding alone is up to 4.9e-4 relative).
pub fn raw_outputs_match_tfjs(root: &Path) -> Result<()> {
    let r = reference(root)?;
    let mut x = Vec::new();
    objects::normalise_bgr(&reference_canvas(&r)?, &mut x);
    let n = nanodet::INPUT_SIZE;
    let x = Tensor::from_vec(x, (1, 3, n, n), &Device::Cpu)?;
    let net = Net::from_safetensors(&weights(root)?, &Device::Cpu)?;
    for level in net.forward_levels(&x)? {
        for (name, got) in [("cls", &level.cls), ("box", &level.reg)] {
            let key = format!("{name}_{}", level.stride);
            let want = r[&key].to_dtype(DType::F32)?;
            ensure!(
                got.dims() == want.dims(),
                "{key}: {:?} vs {:?}",
                got.dims(),
                want.dims()
            );
            let g = got.flatten_all()?.to_vec1::<f32>()?;
            let w = want.flatten_all()?.to_vec1::<f32>()?;
            let worst = g
                .iter()
                .zip(&w)
                .map(|(a, b)| (a - b).abs() / (1e-3 * b.abs() + 1e-5))
                .fold(0f32, f32::max);
            eprintln!("{key}: worst error {worst:.3}x the tolerance");
            ensure!(worst <= 1.0, "{key}: error {worst:.2}x the tolerance");
        }
    }
    Ok(())
}

/// Rust letterbox of the PNG vs the canvas Python fed tfjs: same transform, pixels within 1.
pub fn letterbox_matches_reference(root: &Path) -> Result<()> {
    let r = reference(root)?;
    let img = image::open(root.join("fixtures/chelsea.png"))?.to_rgb8();
    let (canvas, lb) = objects::letterbox(&img, nanodet::INPUT_SIZE as u32);
    let t = r["transform"].to_vec1::<f32>()?; // sx, sy, ox, oy
    ensure!(
        (lb.scale_x - t[0]).abs() < 1e-6 && (lb.scale_y - t[1]).abs() < 1e-6,
        "{lb:?} vs {t:?}"
    );
    ensure!(lb.pad_x == t[2] && lb.pad_y == t[3], "{lb:?} vs {t:?}");
    let want = reference_canvas(&r)?;
    let diffs: Vec<i32> = canvas
        .iter()
        .zip(&want)
        .map(|(&a, &b)| (a as i32 - b as i32).abs())
        .collect();
    let max = diffs.iter().copied().max().unwrap_or(0);
    let off = diffs.iter().filter(|&&d| d != 0).count();
    eprintln!(
        "letterbox: max diff {max}, {off} of {} bytes differ",
        diffs.len()
    );
    ensure!(
        max <= 1 && off * 1000 <= diffs.len(),
        "max diff {max}, {off} bytes differ"
    );
    Ok(())
}

/// Full pipeline on the PNG vs detections decoded in Python from the tfjs outputs. Every
/// detection scoring >= min_score + 0.01 on either side must be matched by one of the same
/// class with |score diff| <= 0.01 and every box edge within 2 px.
pub fn detections_match_reference(root: &Path) -> Result<()> {
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        root.join("fixtures/reference/nanodet_dets.json"),
    )?)?;
    let min_score = doc["min_score"].as_f64().context("min_score")? as f32;
    let want: Vec<ObjectDetection> = doc["detections"]
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
            }
        })
        .collect();
    let model = NanoDet::from_bytes(&weights(root)?, &Device::Cpu)?;
    let img = image::open(root.join("fixtures/chelsea.png"))?.to_rgb8();
    let got = model.detect_batch(&[&img], min_score)?.remove(0);
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
    let (mut ds, mut db) = (0f32, 0f32);
    for d in &want {
        if let Some(e) = got.iter().find(|e| close(d, e)) {
            ds = ds.max((d.score - e.score).abs());
            db = db.max(
                d.bbox
                    .iter()
                    .zip(&e.bbox)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0, f32::max),
            );
        }
    }
    eprintln!(
        "detections: {} expected, {} got, max |score diff| {ds:.2e}, max box diff {db:.3} px",
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

/// Per-class NMS on hand-made boxes (expected survivors worked out by hand from IoU values).
pub fn nms_suppresses_same_class_only() {
    let d = |class_id: usize, score: f32, bbox: [f32; 4]| ObjectDetection {
        class_id,
        class_name: objects::COCO_LABELS[class_id],
        score,
        bbox,
    };
    let dets = vec![
        d(0, 0.5, [0.0, 0.0, 10.0, 10.0]),
        d(0, 0.9, [1.0, 0.0, 11.0, 10.0]), // IoU with the first: 90/110 = 0.82 -> suppresses it
        d(15, 0.7, [0.0, 0.0, 10.0, 10.0]), // other class: kept
        d(0, 0.8, [6.0, 0.0, 16.0, 10.0]), // IoU with 0.9 box: 50/150 = 0.33 -> kept
        d(0, 0.3, [20.0, 20.0, 30.0, 30.0]), // disjoint: kept
        d(0, 0.4, [0.0, 0.0, 10.0, 8.0]),  // IoU with 0.9 box: 72/108 = 0.67 > 0.6 -> dropped
    ];
    let kept = objects::nms_per_class(dets, 0.6);
    let scores: Vec<f32> = kept.iter().map(|k| k.score).collect();
    assert_eq!(scores, vec![0.9, 0.8, 0.7, 0.3]);
    assert_eq!(kept[2].class_name, "cat");
}

/// Letterbox inverse on a 640x360 frame: canvas -> original maps the padded band correctly.
pub fn letterbox_inverse() {
    let lb = objects::Letterbox::new(640, 360, 416);
    assert_eq!(
        (lb.inner_width, lb.inner_height, lb.pad_x, lb.pad_y),
        (416, 234, 0.0, 91.0)
    );
    let b = lb.to_original([0.0, 91.0, 416.0, 325.0]);
    assert!(
        b.iter()
            .zip([0.0, 0.0, 640.0, 360.0])
            .all(|(a, e)| (a - e).abs() < 1e-3),
        "{b:?}"
    );
}

/// The class ids proctor's policy refers to (MODELS.md: 0-based 80-class list).
pub fn coco_label_ids() {
    let l = objects::COCO_LABELS;
    let ids = [
        (0, "person"),
        (62, "tv"),
        (63, "laptop"),
        (64, "mouse"),
        (65, "remote"),
    ];
    let more = [
        (66, "keyboard"),
        (67, "cell phone"),
        (73, "book"),
        (79, "toothbrush"),
    ];
    for (i, name) in ids.into_iter().chain(more) {
        assert_eq!(l[i], name);
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn nanodet_raw_outputs_match_tfjs() {
    raw_outputs_match_tfjs(&root()).unwrap();
}

#[test]
fn nanodet_letterbox_matches_reference() {
    letterbox_matches_reference(&root()).unwrap();
}

#[test]
fn nanodet_detections_match_reference() {
    detections_match_reference(&root()).unwrap();
}

#[test]
fn nms_per_class() {
    nms_suppresses_same_class_only();
}

#[test]
fn coco_labels() {
    coco_label_ids();
}

#[test]
fn letterbox_inverse_maps_back() {
    letterbox_inverse();
}
