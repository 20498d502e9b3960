//! MediaPipe's hand landmark network (lite): which hand a palm is, and whether
//! it is a hand at all.
//!
//! Why: the palm detector says where a hand is, not which: an object's event
//! can say "in the left hand" only with the landmark model's handedness, and
//! the model's hand presence tells a hand from what the palm detector took for
//! one (a flag, a suit, a dark phone).
//!
//! Weights: `models/hand_landmark.safetensors`, made by `models/convert_hand.py`
//! from `mediapipe/modules/hand_landmark/hand_landmark_lite.tflite` of the PyPI
//! wheel `mediapipe==0.10.21` (Apache-2.0; fp16 as stored), named by operator
//! order (`conv{n}`, `dw{n}`, `fc{n}`).
//!
//! Network, read from the graph: a 3×3/2 stem and a 3×3 depthwise (ReLU6) at
//! 112×112, a 1×1 to 16 channels; a first block (1×1 to 64, ReLU6, 3×3/2
//! depthwise, ReLU6, 1×1 to 16) whose skip is a 2×2 max-pool; MobileNetV2
//! inverted residuals down to 7×7×112; a 1×1 to 672 and a 3×3 depthwise
//! (ReLU6), the spatial mean, and four dense heads: handedness and hand
//! presence (sigmoids), 21 points and 21 world points. Depthwise and stride-2
//! convolutions use TF Lite's `SAME` padding (the extra row and column at the
//! bottom and right).
//!
//! Input: the hand's square, rotated so that the wrist is below the middle
//! finger's base ([`hand_roi`]), warped to 224×224 RGB in `[0, 1]`. The
//! handedness output is the probability of the first label of the package's
//! `handedness.txt`, "Left", for pictures that are mirrored (a selfie view); a
//! recording is not (a browser mirrors only its preview), so it is the
//! probability that the hand is the subject's right ([`HandMarks::side`]).
//! Checked on the devset's E05 (photographs: a woman's left hand holding a
//! phone at her ear on the picture's right, and a woman's right hand on the
//! picture's left); not on a fixture here, for want of a photograph of a hand
//! that may be committed.
//!
//! Checked against ai-edge-litert on two inputs (`tests/model_hand.rs`,
//! `fixtures/reference/hand_landmark.safetensors`).

use candle_core::{DType, Module, Result, Tensor, D};
use candle_nn::VarBuilder;

use super::landmarks::{warp_roi, Roi};
use super::ops::{max_pool_2x2, Depthwise, Pointwise};
use super::palm::{Depthwise5, Palm};
use super::tflite_ops::Conv;

/// Side of the square input.
pub const INPUT_SIZE: usize = 224;

fn relu6(x: &Tensor) -> Result<Tensor> {
    x.clamp(0f32, 6f32)
}

/// A 3×3 or 5×5 depthwise convolution with `SAME` padding.
#[derive(Debug, Clone)]
enum Dw {
    K3(Depthwise),
    K5(Depthwise5),
}

impl Dw {
    fn load(vb: VarBuilder, c: usize, k: usize, stride: usize) -> Result<Self> {
        Ok(if k == 3 { Dw::K3(Depthwise::load_same(vb, c, stride)?) } else { Dw::K5(Depthwise5::load(vb, c, stride)?) })
    }
}

impl Module for Dw {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Dw::K3(d) => d.forward(x),
            Dw::K5(d) => d.forward(x),
        }
    }
}

/// `project(relu6(dw(relu6(expand(x)))))`, plus `x` where the shapes allow.
#[derive(Debug, Clone)]
struct Inverted {
    expand: Pointwise,
    dw: Dw,
    project: Pointwise,
    residual: bool,
}

impl Inverted {
    /// Block using `conv{c}`, `dw{d}`, `conv{c + 1}`.
    fn load(vb: &VarBuilder, (c, d): (usize, usize), (c_in, mid, c_out): (usize, usize, usize), k: usize, stride: usize) -> Result<Self> {
        Ok(Self {
            expand: Pointwise::load(vb.pp(format!("conv{c}")), c_in, mid, false)?,
            dw: Dw::load(vb.pp(format!("dw{d}")), mid, k, stride)?,
            project: Pointwise::load(vb.pp(format!("conv{}", c + 1)), mid, c_out, false)?,
            residual: stride == 1 && c_in == c_out,
        })
    }
}

impl Module for Inverted {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = relu6(&self.dw.forward(&relu6(&self.expand.forward(x)?)?)?)?;
        let y = self.project.forward(&h)?;
        if self.residual {
            y + x
        } else {
            Ok(y)
        }
    }
}

/// The hand landmark network.
#[derive(Debug, Clone)]
pub struct HandNet {
    stem: Conv,
    stem_dw: Dw,
    to16: Pointwise,
    /// The first block: its skip is the 2×2 max-pool of its input.
    first: Inverted,
    blocks: Vec<Inverted>,
    last: Pointwise,
    last_dw: Dw,
    heads: Vec<(Tensor, Tensor)>, // fc0..fc3: [O, 672], [1, O]
}

impl HandNet {
    /// Loads from a `VarBuilder` over the converted `hand_landmark.safetensors`.
    pub fn load(vb: VarBuilder) -> Result<Self> {
        let vb = vb.set_dtype(DType::F32);
        // after the first block: (in, expanded, out), kernel, stride; block j uses
        // conv{4 + 2j}, dw{2 + j}, conv{5 + 2j}; conv30 and dw15 end the trunk
        let cfg: [((usize, usize, usize), usize, usize); 13] = [
            ((16, 96, 16), 3, 1),
            ((16, 96, 24), 5, 2),
            ((24, 144, 24), 5, 1),
            ((24, 144, 48), 3, 2),
            ((48, 288, 48), 3, 1),
            ((48, 288, 48), 3, 1),
            ((48, 288, 64), 5, 1),
            ((64, 384, 64), 5, 1),
            ((64, 384, 64), 5, 1),
            ((64, 384, 112), 5, 2),
            ((112, 672, 112), 5, 1),
            ((112, 672, 112), 5, 1),
            ((112, 672, 112), 5, 1),
        ];
        let blocks = cfg
            .iter()
            .enumerate()
            .map(|(j, &(chans, k, s))| Inverted::load(&vb, (4 + 2 * j, 2 + j), chans, k, s))
            .collect::<Result<Vec<_>>>()?;
        let heads = [(0, 1), (1, 1), (2, 63), (3, 63)]
            .iter()
            .map(|&(n, o)| {
                let v = vb.pp(format!("fc{n}"));
                Ok((v.get((o, 672), "weight")?, v.get(o, "bias")?.reshape((1, o))?))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            stem: Conv::load(vb.pp("conv0"), 3, 24, 3, 2, true)?,
            stem_dw: Dw::load(vb.pp("dw0"), 24, 3, 1)?,
            to16: Pointwise::load(vb.pp("conv1"), 24, 16, false)?,
            first: Inverted::load(&vb, (2, 1), (16, 64, 16), 3, 2)?,
            blocks,
            last: Pointwise::load(vb.pp("conv30"), 112, 672, false)?,
            last_dw: Dw::load(vb.pp("dw15"), 672, 3, 1)?,
            heads,
        })
    }

    /// `x`: `[B, 3, 224, 224]` RGB in `[0, 1]`. Returns `(handedness [B],
    /// presence [B], points [B, 63])`: the two sigmoids, and the 21 points
    /// (x, y, z) in 224-pixel crop units.
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let (_, c, h, w) = x.dims4()?;
        if (c, h, w) != (3, INPUT_SIZE, INPUT_SIZE) {
            candle_core::bail!("hand landmarks expect [B, 3, 224, 224], got {:?}", x.dims());
        }
        let t = relu6(&self.stem.forward(x)?)?;
        let t = relu6(&self.stem_dw.forward(&t)?)?;
        let x16 = self.to16.forward(&t)?;
        let mut t = (self.first.forward(&x16)? + max_pool_2x2(&x16)?)?;
        for b in &self.blocks {
            t = b.forward(&t)?;
        }
        let t = relu6(&self.last.forward(&t)?)?;
        let t = relu6(&self.last_dw.forward(&t)?)?;
        let pooled = t.mean(D::Minus1)?.mean(D::Minus1)?; // [B, 672]
        let head = |k: usize| -> Result<Tensor> { pooled.matmul(&self.heads[k].0.t()?)?.broadcast_add(&self.heads[k].1) };
        let sig = |t: Tensor| -> Result<Tensor> { candle_nn::ops::sigmoid(&t)?.flatten_all() };
        Ok((sig(head(0)?)?, sig(head(1)?)?, head(2)?))
    }
}

/// The square a palm's hand is looked at in (MediaPipe's palm-to-hand rectangle):
/// the palm box's longer side × 2.6, moved half a palm side from the palm's centre
/// towards the fingers, turned so that the wrist → middle finger line points up
/// in the crop.
pub fn hand_roi(palm: &Palm) -> Roi {
    let [ux, uy] = palm.towards_fingers();
    let side = (palm.bbox[2] - palm.bbox[0]).max(palm.bbox[3] - palm.bbox[1]);
    let (cx, cy) = ((palm.bbox[0] + palm.bbox[2]) / 2.0, (palm.bbox[1] + palm.bbox[3]) / 2.0);
    Roi { center: [cx + 0.5 * side * ux, cy + 0.5 * side * uy], size: 2.6 * side, angle: uy.atan2(ux) + std::f32::consts::FRAC_PI_2 }
}

/// Which of the subject's hands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Left,
    Right,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
        }
    }
}

/// What the landmark model says of one palm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HandMarks {
    /// Hand presence (0-1): whether the square holds a hand at all.
    pub presence: f32,
    /// The model's handedness score (0-1): how sure it is that this is the
    /// subject's right hand (its "Left" of a mirrored picture).
    pub handedness: f32,
}

/// A hand is named only from this presence and this far from an even handedness.
pub const MIN_PRESENCE: f32 = 0.5;
pub const MIN_HANDEDNESS_MARGIN: f32 = 0.25;

impl HandMarks {
    /// The subject's hand, where the model is sure it sees one and which.
    pub fn side(&self) -> Option<Side> {
        if self.presence < MIN_PRESENCE || (self.handedness - 0.5).abs() < MIN_HANDEDNESS_MARGIN {
            return None;
        }
        Some(if self.handedness > 0.5 { Side::Right } else { Side::Left })
    }
}

/// The landmark network with its pre- and post-processing.
pub struct HandLandmarker {
    net: HandNet,
    device: candle_core::Device,
}

impl HandLandmarker {
    pub fn from_bytes(bytes: &[u8], device: &candle_core::Device) -> anyhow::Result<Self> {
        use anyhow::Context;
        let vb = VarBuilder::from_buffered_safetensors(bytes.to_vec(), DType::F32, device).context("loading hand landmark weights")?;
        Ok(Self { net: HandNet::load(vb)?, device: device.clone() })
    }

    /// Each palm's hand in `image`, in one batch.
    pub fn run(&self, image: &image::RgbImage, palms: &[&Palm]) -> anyhow::Result<Vec<HandMarks>> {
        if palms.is_empty() {
            return Ok(Vec::new());
        }
        anyhow::ensure!(image.width() > 0 && image.height() > 0, "empty image");
        let rois: Vec<Roi> = palms.iter().map(|p| hand_roi(p)).collect();
        let mut buf = Vec::with_capacity(rois.len() * 3 * INPUT_SIZE * INPUT_SIZE);
        for roi in &rois {
            warp_roi(image, roi, INPUT_SIZE, false, &mut buf);
        }
        let x = Tensor::from_vec(buf, (rois.len(), 3, INPUT_SIZE, INPUT_SIZE), &self.device)?;
        // the 21 points are not used: what an object's event says needs only the two scores
        let (handedness, presence, _points) = self.net.forward(&x)?;
        let (handedness, presence): (Vec<f32>, Vec<f32>) = (handedness.to_vec1()?, presence.to_vec1()?);
        Ok(handedness.into_iter().zip(presence).map(|(handedness, presence)| HandMarks { presence, handedness }).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn palm(bbox: [f32; 4], wrist: [f32; 2], middle: [f32; 2]) -> Palm {
        let mut keypoints = [[0.0; 2]; super::super::palm::NUM_KEYPOINTS];
        keypoints[0] = wrist;
        keypoints[2] = middle;
        Palm { bbox, score: 0.9, keypoints }
    }

    /// An upright hand (fingers up the picture) is looked at unturned, its square
    /// 2.6 palm sides, moved half a side up; a hand pointing right is turned a
    /// quarter so that its fingers are at the top of the crop.
    #[test]
    fn the_hand_square_follows_the_fingers() {
        let up = hand_roi(&palm([100.0, 100.0, 140.0, 140.0], [120.0, 140.0], [120.0, 100.0]));
        assert!((up.center[0] - 120.0).abs() < 1e-4 && (up.center[1] - 100.0).abs() < 1e-4, "{up:?}");
        assert!((up.size - 104.0).abs() < 1e-4 && up.angle.abs() < 1e-6, "{up:?}");
        let right = hand_roi(&palm([100.0, 100.0, 140.0, 140.0], [100.0, 120.0], [140.0, 120.0]));
        assert!((right.center[0] - 140.0).abs() < 1e-4 && (right.center[1] - 120.0).abs() < 1e-4, "{right:?}");
        // the crop's top middle (local (0, -side/2)) lies towards the fingers
        let top = right.project(INPUT_SIZE as f32 / 2.0, 0.0, INPUT_SIZE, false);
        assert!(top[0] > right.center[0] + 50.0 && (top[1] - right.center[1]).abs() < 1e-3, "{top:?}");
    }

    #[test]
    fn a_hand_is_named_only_when_the_model_is_sure() {
        let seen = |presence, handedness| HandMarks { presence, handedness };
        assert_eq!(seen(0.9, 0.95).side(), Some(Side::Right), "the model's mirrored left is the subject's right");
        assert_eq!(seen(0.9, 0.05).side(), Some(Side::Left));
        assert_eq!(seen(0.9, 0.6).side(), None, "too close to even");
        assert_eq!(seen(0.3, 0.95).side(), None, "not a hand");
    }
}
