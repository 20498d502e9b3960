//! The palm detector's candle port against the TF Lite runtime: raw outputs on
//! the inputs `models/convert_palm.py` wrote (`fixtures/reference/palm_detection.safetensors`).

use anyhow::{Context, Result};
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use proctor::detect::palm::PalmNet;

use crate::util::{max_abs_diff, root};

#[test]
fn palm_detector_matches_tflite() -> Result<()> {
    let bytes = std::fs::read(root().join("models/palm_detection.safetensors")).context("palm weights")?;
    let net = PalmNet::load(VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu)?)?;
    let r = candle_core::safetensors::load(root().join("fixtures/reference/palm_detection.safetensors"), &Device::Cpu)?;
    let (reg, logits) = net.forward(&r["input"])?;
    let want_logits = r["scores"].squeeze(2)?;
    let d_reg = max_abs_diff(&reg, &r["regressors"])?;
    let d_log = max_abs_diff(&logits, &want_logits)?;
    eprintln!("palm: max |Δ| regressors {d_reg:.2e} px, logits {d_log:.2e}");
    anyhow::ensure!(d_reg < 1e-2, "regressors differ by {d_reg}");
    anyhow::ensure!(d_log < 1e-2, "logits differ by {d_log}");
    Ok(())
}

/// The whole palm pipeline (letterbox, network, anchors, weighted suppression)
/// on the drawn hand of `fixtures/reference/palm_hand.png`: its best palm is
/// where the TF Lite runtime's best anchor puts it, with its score.
#[test]
fn the_palm_pipeline_finds_the_hand_where_tflite_does() -> Result<()> {
    use proctor::detect::palm::{anchors, PalmDetector};
    let det = PalmDetector::from_bytes(&std::fs::read(root().join("models/palm_detection.safetensors"))?, &Device::Cpu)?;
    let img = image::open(root().join("fixtures/reference/palm_hand.png"))?.to_rgb8();
    let palms = det.detect_batch(&[&img])?.remove(0);
    anyhow::ensure!(!palms.is_empty(), "no palm found");
    // the reference: the hand picture is the second input, letterboxed to 192 (centred)
    let r = candle_core::safetensors::load(root().join("fixtures/reference/palm_detection.safetensors"), &Device::Cpu)?;
    let logits: Vec<f32> = r["scores"].get(1)?.flatten_all()?.to_vec1()?;
    let reg: Vec<Vec<f32>> = r["regressors"].get(1)?.to_vec2()?;
    let best = (0..logits.len()).max_by(|&a, &b| logits[a].total_cmp(&logits[b])).unwrap();
    let score = 1.0 / (1.0 + (-logits[best]).exp());
    let a = anchors()[best];
    let s = 192.0 / img.width().max(img.height()) as f32;
    let pad_y = (192.0 - img.height() as f32 * s) / 2.0;
    let want = [(reg[best][0] + a[0]) / s, (reg[best][1] + a[1] - pad_y) / s];
    let p = &palms[0];
    let got = [(p.bbox[0] + p.bbox[2]) / 2.0, (p.bbox[1] + p.bbox[3]) / 2.0];
    eprintln!("palm: {got:?} score {:.3}; tflite's best anchor {want:?} score {score:.3}", p.score);
    anyhow::ensure!((p.score - score).abs() < 0.01, "score {} against {score}", p.score);
    // weighted suppression averages the overlapping anchors: a few pixels at most
    anyhow::ensure!((got[0] - want[0]).abs() < 4.0 && (got[1] - want[1]).abs() < 4.0, "{got:?} against {want:?}");
    // the drawn hand holds the phone in front of the chest, below the face
    anyhow::ensure!(got[1] > 250.0 && got[0] > 280.0 && got[0] < 350.0, "{got:?}");
    Ok(())
}
