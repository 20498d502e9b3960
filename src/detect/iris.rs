//! MediaPipe iris landmark network (`iris_landmark.tflite`), network only.
//!
//! Input: `[B, 3, 64, 64]` f32, **NCHW**, RGB scaled to `[0, 1]` (mediapipe's
//! `TfLiteConverterCalculator` with `zero_center: false`): an eye crop made by
//! `landmarks.rs`. The model is trained on the eye that appears on the image's left for
//! a frontal face (mesh points 33/133, the subject's right eye); the other eye
//! (362/263) is fed mirrored horizontally and the x outputs are mirrored back.
//! Output: `(eye_contour [B, 213], iris [B, 15])`: 71 × (x, y, z) eye-contour and brow
//! points and 5 × (x, y, z) iris points (centre first, then the four edge points), in
//! 64-pixel crop units.
//!
//! Architecture (read from the tflite graph): 3×3/2 stem conv + PReLU, then bottleneck
//! residual blocks `PReLU(skip + conv1x1(depthwise3x3(PReLU(reduce(x)))))` where `reduce`
//! is a 1×1 conv (halving the width) or, in stride-2 blocks, a 2×2/2 VALID conv; the
//! skip path of stride-2 blocks is a 2×2 max-pool, zero-padded along channels when the
//! width grows. After 10 shared blocks (8×8×128) two 8-block branches end in 2×2 VALID
//! convs over a 2×2 map (dense layers): eye contour and iris.
//!
//! TFLite quirks: `SAME` padding with stride 2 pads only bottom/right (done explicitly);
//! per-channel PReLU. Weight names are the tflite tensor names (`conv2d_N.weight`
//! `[O, I, kh, kw]`, `conv2d_N.bias`, `depthwise_conv2d_N.weight` `[C, 1, 3, 3]`,
//! `p_re_lu_N.alpha` `[C]`), written by `models/convert_landmarks.py`.

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::ops::{Depthwise, Pointwise};
use super::tflite_ops::{Conv, PRelu};

/// Side of the square input crop.
pub const INPUT_SIZE: usize = 64;
/// Number of eye-contour (and brow) points.
pub const NUM_CONTOUR: usize = 71;
/// Number of iris points.
pub const NUM_IRIS: usize = 5;

/// The first conv of a bottleneck: 1×1, or 2×2 stride 2 VALID in stride-2 blocks.
#[derive(Debug, Clone)]
enum Reduce {
    Pointwise(Pointwise),
    Strided(Conv),
}

impl Reduce {
    fn bias(&self) -> Result<Tensor> {
        match self {
            Reduce::Pointwise(p) => p.bias(),
            Reduce::Strided(c) => c.bias(),
        }
    }

    /// Without the bias: the PReLU after it adds the bias in its own pass.
    fn forward_unbiased(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Reduce::Pointwise(p) => p.forward_unbiased(x),
            Reduce::Strided(c) => c.forward_unbiased(x),
        }
    }
}

/// `PReLU(skip + expand(depthwise(PReLU(reduce(x)))))`.
#[derive(Debug, Clone)]
struct Bottleneck {
    reduce: Reduce,
    reduce_act: PRelu,
    dw: Depthwise,
    expand: Pointwise,
    act: PRelu,
    stride: usize,
}

impl Bottleneck {
    /// Block `j` (1-based) uses conv2d_{2j-1}, p_re_lu_{2j-1}, depthwise_conv2d_{j-1}
    /// (no suffix for j = 1), conv2d_{2j}, p_re_lu_{2j}.
    fn load(vb: &VarBuilder, j: usize, c_in: usize, mid: usize, c_out: usize, stride: usize) -> Result<Self> {
        let r = format!("conv2d_{}", 2 * j - 1);
        let reduce = if stride == 2 {
            Reduce::Strided(Conv::load(vb.pp(&r), c_in, mid, 2, 2, false)?)
        } else {
            Reduce::Pointwise(Pointwise::load(vb.pp(&r), c_in, mid, false)?)
        };
        let dw = if j == 1 { "depthwise_conv2d".to_string() } else { format!("depthwise_conv2d_{}", j - 1) };
        let expand = Pointwise::load(vb.pp(format!("conv2d_{}", 2 * j)), mid, c_out, false)?;
        Ok(Self {
            reduce_act: PRelu::load_with_bias(vb.pp(format!("p_re_lu_{}", 2 * j - 1)), mid, &reduce.bias()?)?,
            reduce,
            dw: Depthwise::load_same(vb.pp(dw), mid, 1)?,
            act: PRelu::load_with_bias(vb.pp(format!("p_re_lu_{}", 2 * j)), c_out, &expand.bias()?)?,
            expand,
            stride,
        })
    }
}

impl Module for Bottleneck {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.reduce_act.forward(&self.reduce.forward_unbiased(x)?)?;
        let h = self.expand.forward_unbiased(&self.dw.forward(&h)?)?;
        let skip = if self.stride == 2 { super::ops::max_pool_2x2(x)? } else { x.clone() };
        self.act.forward_skip(&h, &skip)
    }
}

/// 2×2 VALID conv over a 2×2 map = dense layer on the flattened `C·2·2` features.
#[derive(Debug, Clone)]
struct Head {
    w: Tensor, // [O, C*4]
    b: Tensor, // [1, O]
}

impl Head {
    fn load(vb: VarBuilder, c: usize, o: usize) -> Result<Self> {
        let w = vb.get((o, c, 2, 2), "weight")?.reshape((o, c * 4))?;
        let b = vb.get(o, "bias")?.reshape((1, o))?;
        Ok(Self { w, b })
    }
}

impl Module for Head {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.flatten_from(1)?.matmul(&self.w.t()?)?.broadcast_add(&self.b)
    }
}

/// The iris landmark network.
#[derive(Debug, Clone)]
pub struct Iris {
    stem: Conv,
    stem_act: PRelu,
    trunk: Vec<Bottleneck>,
    contour: Vec<Bottleneck>,
    contour_head: Head,
    iris: Vec<Bottleneck>,
    iris_head: Head,
}

impl Iris {
    /// Loads from a `VarBuilder` over the converted `iris_landmark.safetensors`.
    pub fn load(vb: VarBuilder) -> Result<Self> {
        let vb = vb.set_dtype(DType::F32);
        // (c_in, mid, c_out, stride) per block, shared trunk = blocks 1..=10.
        let trunk_cfg = [
            (64, 32, 64, 1), (64, 32, 64, 1), (64, 32, 64, 1), (64, 32, 64, 1), (64, 64, 128, 2),
            (128, 64, 128, 1), (128, 64, 128, 1), (128, 64, 128, 1), (128, 64, 128, 1), (128, 64, 128, 2),
        ];
        // Each branch: 8 blocks, stride 2 at its 3rd and 6th block.
        let branch_cfg = |k: usize| if k == 2 || k == 5 { (128, 64, 128, 2) } else { (128, 64, 128, 1) };
        let blocks = |first: usize, cfg: &mut dyn Iterator<Item = (usize, usize, usize, usize)>| {
            cfg.enumerate()
                .map(|(k, (i, m, o, s))| Bottleneck::load(&vb, first + k, i, m, o, s))
                .collect::<Result<Vec<_>>>()
        };
        Ok(Self {
            stem: Conv::load(vb.pp("conv2d"), 3, 64, 3, 2, true)?,
            stem_act: PRelu::load(vb.pp("p_re_lu"), 64)?,
            trunk: blocks(1, &mut trunk_cfg.into_iter())?,
            contour: blocks(11, &mut (0..8).map(branch_cfg))?,
            contour_head: Head::load(vb.pp("conv_eyes_contours_and_brows"), 128, NUM_CONTOUR * 3)?,
            iris: blocks(19, &mut (0..8).map(branch_cfg))?,
            iris_head: Head::load(vb.pp("conv_iris"), 128, NUM_IRIS * 3)?,
        })
    }

    /// `x`: `[B, 3, 64, 64]` RGB in `[0, 1]`. Returns `(eye_contour [B, 213], iris [B, 15])`
    /// in 64-pixel crop units.
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let t = self.trunk(x)?;
        let mut e = t.clone();
        for b in &self.contour {
            e = b.forward(&e)?;
        }
        Ok((self.contour_head.forward(&e)?, self.iris_branch(t)?))
    }

    /// The iris points alone (`[B, 15]`): [`Iris::forward`] without the eye-contour branch,
    /// which the analysis does not use (its eyes come from the mesh). A third less work.
    pub fn forward_iris(&self, x: &Tensor) -> Result<Tensor> {
        self.iris_branch(self.trunk(x)?)
    }

    fn trunk(&self, x: &Tensor) -> Result<Tensor> {
        let (_, c, h, w) = x.dims4()?;
        if (c, h, w) != (3, INPUT_SIZE, INPUT_SIZE) {
            candle_core::bail!("iris expects [B, 3, 64, 64], got {:?}", x.dims());
        }
        let mut t = self.stem_act.forward(&self.stem.forward(x)?)?;
        for b in &self.trunk {
            t = b.forward(&t)?;
        }
        Ok(t)
    }

    fn iris_branch(&self, mut i: Tensor) -> Result<Tensor> {
        for b in &self.iris {
            i = b.forward(&i)?;
        }
        self.iris_head.forward(&i)
    }
}
