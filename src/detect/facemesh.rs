//! MediaPipe face mesh network (`face_landmark.tflite`, 468 points), network only.
//!
//! Input: `[B, 3, 192, 192]` f32, **NCHW**, RGB scaled to `[0, 1]` (mediapipe's
//! `ImageToTensorCalculator` with `output_tensor_float_range {min: 0 max: 1}`), a face
//! crop made by `landmarks.rs`.
//! Output: `(landmarks [B, 1404], presence_logit [B, 1])`. Landmarks are 468 × (x, y, z)
//! in crop pixels (0..192); z is relative depth in the same units. The face-presence
//! score is `sigmoid(logit)`; mediapipe keeps the face when it exceeds 0.5.
//!
//! Architecture (read from the tflite graph): a 3×3/2 stem conv + PReLU, then residual
//! blocks `PReLU(skip + conv1x1(depthwise3x3(x)))`. Stride-2 blocks use a 2×2 max-pool on
//! the skip path, zero-padded along channels when the width grows (TFLite `PAD` on the
//! channel axis). The trunk (to 6×6×128) splits into a landmark branch and a face-presence
//! branch, each ending in a 3×3 VALID conv over a 3×3 map (a dense layer).
//!
//! TFLite quirks reproduced here: convolutions are `SAME`-padded, which for stride 2 on
//! an even input pads 0 before and 1 after (bottom/right) — asymmetric, so it is done
//! explicitly; PReLU has one learned slope per channel.
//!
//! Weight names are the tflite tensor names: `conv2d_N.weight` `[O, I, kh, kw]`,
//! `conv2d_N.bias`, `depthwise_conv2d_N.weight` `[C, 1, 3, 3]`, `p_re_lu_N.alpha` `[C]`
//! (written by `models/convert_landmarks.py`).

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::ops::{Depthwise, Pointwise};
use super::tflite_ops::{Conv, PRelu};

/// Side of the square input crop.
pub const INPUT_SIZE: usize = 192;
/// Number of mesh points.
pub const NUM_LANDMARKS: usize = 468;

/// `PReLU(skip + conv1x1(depthwise(x)))`; stride 2 max-pools the skip path and
/// zero-pads its channels up to the output width.
#[derive(Debug, Clone)]
struct ResBlock {
    dw: Depthwise,
    pw: Pointwise,
    act: PRelu,
    stride: usize,
}

impl ResBlock {
    fn load(vb: &VarBuilder, dw: &str, pw: &str, act: &str, i: usize, o: usize, stride: usize) -> Result<Self> {
        let pw = Pointwise::load(vb.pp(pw), i, o, false)?;
        Ok(Self {
            dw: Depthwise::load_same(vb.pp(dw), i, stride)?,
            act: PRelu::load_with_bias(vb.pp(act), o, &pw.bias()?)?,
            pw,
            stride,
        })
    }
}

impl Module for ResBlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.pw.forward_unbiased(&self.dw.forward(x)?)?;
        let skip = if self.stride == 2 { super::ops::max_pool_2x2(x)? } else { x.clone() };
        self.act.forward_skip(&h, &skip)
    }
}

/// 3×3 VALID conv over a 3×3 map = dense layer on the flattened `C·3·3` features.
#[derive(Debug, Clone)]
struct Head {
    w: Tensor, // [O, C*9]
    b: Tensor, // [1, O]
}

impl Head {
    fn load(vb: VarBuilder, c: usize, o: usize) -> Result<Self> {
        let w = vb.get((o, c, 3, 3), "weight")?.reshape((o, c * 9))?;
        let b = vb.get(o, "bias")?.reshape((1, o))?;
        Ok(Self { w, b })
    }
}

impl Module for Head {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.flatten_from(1)?;
        x.matmul(&self.w.t()?)?.broadcast_add(&self.b)
    }
}

/// The face mesh network.
#[derive(Debug, Clone)]
pub struct FaceMesh {
    stem: Conv,
    stem_act: PRelu,
    trunk: Vec<ResBlock>,
    lm_blocks: Vec<ResBlock>,
    lm_reduce: Pointwise,
    lm_reduce_act: PRelu,
    lm_block: ResBlock,
    lm_head: Head,
    pr_block: ResBlock,
    pr_reduce: Pointwise,
    pr_reduce_act: PRelu,
    pr_block2: ResBlock,
    pr_head: Head,
}

impl FaceMesh {
    /// Loads from a `VarBuilder` over the converted `face_landmark.safetensors`.
    pub fn load(vb: VarBuilder) -> Result<Self> {
        let vb = vb.set_dtype(DType::F32);
        // (in, out, stride) of trunk blocks 1..=14: depthwise_conv2d_i, conv2d_{i+1}, p_re_lu_{i+1}.
        const TRUNK: [(usize, usize, usize); 14] = [
            (16, 16, 1), (16, 16, 1), (16, 32, 2), (32, 32, 1), (32, 32, 1), (32, 64, 2), (64, 64, 1),
            (64, 64, 1), (64, 128, 2), (128, 128, 1), (128, 128, 1), (128, 128, 2), (128, 128, 1),
            (128, 128, 1),
        ];
        let block = |i: usize, (c_in, c_out, s): (usize, usize, usize)| {
            ResBlock::load(
                &vb,
                &format!("depthwise_conv2d_{i}"),
                &format!("conv2d_{}", i + 1),
                &format!("p_re_lu_{}", i + 1),
                c_in,
                c_out,
                s,
            )
        };
        let trunk = TRUNK
            .iter()
            .enumerate()
            .map(|(k, &cfg)| block(k + 1, cfg))
            .collect::<Result<Vec<_>>>()?;
        let lm_blocks = vec![block(15, (128, 128, 2))?, block(16, (128, 128, 1))?, block(17, (128, 128, 1))?];
        let lm_reduce = Pointwise::load(vb.pp("conv2d_19"), 128, 32, false)?;
        let pr_reduce = Pointwise::load(vb.pp("conv2d_29"), 128, 32, false)?;
        Ok(Self {
            stem: Conv::load(vb.pp("conv2d_1"), 3, 16, 3, 2, true)?,
            stem_act: PRelu::load(vb.pp("p_re_lu_1"), 16)?,
            trunk,
            lm_blocks,
            lm_reduce_act: PRelu::load_with_bias(vb.pp("p_re_lu_19"), 32, &lm_reduce.bias()?)?,
            lm_reduce,
            lm_block: ResBlock::load(&vb, "depthwise_conv2d_18", "conv2d_20", "p_re_lu_20", 32, 32, 1)?,
            lm_head: Head::load(vb.pp("conv2d_21"), 32, NUM_LANDMARKS * 3)?,
            pr_block: ResBlock::load(&vb, "depthwise_conv2d_23", "conv2d_28", "p_re_lu_26", 128, 128, 2)?,
            pr_reduce_act: PRelu::load_with_bias(vb.pp("p_re_lu_27"), 32, &pr_reduce.bias()?)?,
            pr_reduce,
            pr_block2: ResBlock::load(&vb, "depthwise_conv2d_24", "conv2d_30", "p_re_lu_28", 32, 32, 1)?,
            pr_head: Head::load(vb.pp("conv2d_31"), 32, 1)?,
        })
    }

    /// `x`: `[B, 3, 192, 192]` RGB in `[0, 1]`. Returns `(landmarks [B, 1404],
    /// presence_logit [B, 1])`, landmarks in 192-pixel crop units.
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let (_, c, h, w) = x.dims4()?;
        if (c, h, w) != (3, INPUT_SIZE, INPUT_SIZE) {
            candle_core::bail!("face mesh expects [B, 3, 192, 192], got {:?}", x.dims());
        }
        let mut t = self.stem_act.forward(&self.stem.forward(x)?)?;
        for b in &self.trunk {
            t = b.forward(&t)?;
        }
        let mut l = t.clone();
        for b in &self.lm_blocks {
            l = b.forward(&l)?;
        }
        let l = self.lm_reduce_act.forward(&self.lm_reduce.forward_unbiased(&l)?)?;
        let l = self.lm_block.forward(&l)?;
        let landmarks = self.lm_head.forward(&l)?;
        let p = self.pr_block.forward(&t)?;
        let p = self.pr_reduce_act.forward(&self.pr_reduce.forward_unbiased(&p)?)?;
        let p = self.pr_block2.forward(&p)?;
        let presence = self.pr_head.forward(&p)?;
        Ok((landmarks, presence))
    }
}
