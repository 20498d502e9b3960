//! The hand landmark network's candle port against the TF Lite runtime: raw outputs on
//! the inputs `models/convert_hand.py` wrote (`fixtures/reference/hand_landmark.safetensors`:
//! the drawn hand of `palm_hand.png`, and the astronaut, no hand).

use anyhow::{Context, Result};
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use proctor::detect::hand::HandNet;

use crate::util::{max_abs_diff, root};

#[test]
fn hand_landmarks_match_tflite() -> Result<()> {
    let bytes = std::fs::read(root().join("models/hand_landmark.safetensors")).context("hand landmark weights")?;
    let net = HandNet::load(VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu)?)?;
    let r = candle_core::safetensors::load(root().join("fixtures/reference/hand_landmark.safetensors"), &Device::Cpu)?;
    // the inputs are bytes: k / 255 in f32, as the converter made them
    let x = (r["input_u8"].to_dtype(DType::F32)? / 255.0)?;
    let (handedness, presence, points) = net.forward(&x)?;
    let d_hand = max_abs_diff(&handedness, &r["handedness"].flatten_all()?)?;
    let d_pres = max_abs_diff(&presence, &r["presence"].flatten_all()?)?;
    let d_pts = max_abs_diff(&points, &r["landmarks"])?;
    eprintln!("hand: max |Δ| handedness {d_hand:.2e}, presence {d_pres:.2e}, points {d_pts:.2e} px");
    anyhow::ensure!(d_hand < 1e-3 && d_pres < 1e-3, "handedness {d_hand}, presence {d_pres}");
    anyhow::ensure!(d_pts < 1e-2, "points differ by {d_pts}");
    // and the answers differ where the pictures do: the drawn hand is more of a hand than the astronaut
    let p: Vec<f32> = presence.to_vec1()?;
    anyhow::ensure!(p[0] > 10.0 * p[1], "presence {p:?}");
    Ok(())
}
