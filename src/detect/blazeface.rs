//! MediaPipe BlazeFace full-range face detector (192x192), network only.
//!
//! Port of `face_detection_full_range_sparse.tflite` from the `mediapipe==0.10.21`
//! wheel (Apache-2.0); weights converted by `models/convert_blazeface.py`, whose
//! tensor names are the VarBuilder paths used here. Pre/post-processing (letterbox,
//! anchors, decoding, weighted NMS) lives in `face_detect.rs`.
//!
//! Input: `[B, 3, 192, 192]` f32, NCHW, RGB, normalised to [-1, 1]
//! (`pixel * 2/255 - 1`, mediapipe's `output_tensor_float_range {-1, 1}`).
//! Output: `(regressors [B, 2304, 16], score logits [B, 2304, 1])`, anchors in
//! row-major order over the 48x48 grid (stride 4), exactly as the tflite graph.
//!
//! Structure (channels @ resolution):
//! - stem: 3x3 conv stride 2 + ReLU, 3 -> 32 @96.
//! - encoder: residual bottlenecks `x + pw2(dw2(relu(pw1(dw1(x)))))`, then ReLU,
//!   (`dw` = 3x3 depthwise, no activation; `pw` = 1x1 conv) and down blocks
//!   `relu(pw2(dw2(relu(pw1(dw1_stride2(x))))))` (no shortcut):
//!   32@96 (2 res) -> 64@48 (2 res) -> 128@24 (2 res) -> 192@12 (2 res) -> 384@6 (3 res).
//! - decoder (FPN-like): `relu(1x1 reduce)`, bilinear x2 (half-pixel centres),
//!   plus a `relu(1x1 skip)` from the encoder (sum, no activation), then residual
//!   blocks: 96@12 (2 res), 64@24 (2 res), 48@48 (1 res).
//! - heads: 1x1 conv (48 -> 4 scores / 48 -> 64 regressors), 3x3 depthwise
//!   stride 2 (-> 24x24), depth-to-space 2 (-> 48x48 x 1 / 16).
//!
//! Padding: every 3x3 layer in the tflite graph is an explicit symmetric PAD of 1
//! followed by a VALID convolution, also at stride 2 (so no TF "SAME" asymmetry
//! here); residual shortcuts never change the channel count (no channel padding).
//!
//! Speed: candle runs grouped convolutions one group at a time, and its
//! 3-channel conv2d and chains of small tensor ops are slow on the CPU, so on
//! the CPU (f32) the depthwise 3x3, the stem's im2col and the x2 up-sampling
//! are small custom ops (plain loops); 1x1 convolutions are batched matmuls.
//! On other devices the same layers fall back to plain tensor ops
//! (`forward_generic`, `upsample2x_bilinear_generic`); a test checks both agree.

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Module, Result, Shape, Tensor, D};
use candle_nn::{Conv2d, Conv2dConfig, VarBuilder};

pub use super::ops::Depthwise;
use super::ops::{Im2Col3x3, Padding};

/// Side of the square input tensor.
pub const INPUT_SIZE: usize = 192;
/// Number of SSD anchors (48 x 48, one per cell).
pub const NUM_ANCHORS: usize = 2304;
/// Values per anchor in the regressor output: box (4) + 6 keypoints x 2.
pub const NUM_COORDS: usize = 16;

/// 1x1 convolution as a batched matmul (no im2col copy).
#[derive(Debug, Clone)]
pub struct Pointwise {
    weight: Tensor, // [out, in]
    bias: Tensor,   // [1, out, 1]
    relu: bool,
}

impl Pointwise {
    pub fn load(vb: VarBuilder, c_in: usize, c_out: usize, relu: bool) -> Result<Self> {
        let weight = vb
            .get((c_out, c_in, 1, 1), "weight")?
            .reshape((c_out, c_in))?;
        let bias = vb.get(c_out, "bias")?.reshape((1, c_out, 1))?;
        Ok(Self { weight, bias, relu })
    }
}

impl Pointwise {
    /// The convolution without its bias (for a next layer that adds it as it
    /// reads, [`Depthwise::load_biased_relu`]).
    pub fn forward_unbiased(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let x = x.contiguous()?.reshape((b, c, h * w))?;
        self.weight.broadcast_matmul(&x)?.reshape((b, (), h, w))
    }

    /// The per-channel bias, `[out]`.
    pub fn bias(&self) -> Result<Tensor> {
        self.bias.flatten_all()
    }
}

impl Module for Pointwise {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let x = x.contiguous()?.reshape((b, c, h * w))?;
        let y = self
            .weight
            .broadcast_matmul(&x)?
            .broadcast_add(&self.bias)?;
        let y = if self.relu { y.relu()? } else { y };
        y.reshape((b, (), h, w))
    }
}

/// Residual bottleneck: `relu(x + pw2(dw2(relu(pw1(dw1(x))))))`.
#[derive(Debug, Clone)]
pub struct ResBlock {
    dw1: Depthwise,
    pw1: Pointwise,
    dw2: Depthwise,
    pw2: Pointwise,
}

impl ResBlock {
    pub fn load(vb: VarBuilder, channels: usize, mid: usize) -> Result<Self> {
        Ok(Self {
            dw1: Depthwise::load(vb.pp("dw1"), channels, 1)?,
            pw1: Pointwise::load(vb.pp("pw1"), channels, mid, true)?,
            dw2: Depthwise::load(vb.pp("dw2"), mid, 1)?,
            pw2: Pointwise::load(vb.pp("pw2"), mid, channels, false)?,
        })
    }
}

impl Module for ResBlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.pw1.forward(&self.dw1.forward(x)?)?;
        let y = self.pw2.forward(&self.dw2.forward(&y)?)?;
        (x + y)?.relu()
    }
}

/// Down-sampling block without shortcut: `relu(pw2(dw2(relu(pw1(dw1_s2(x))))))`.
#[derive(Debug, Clone)]
pub struct DownBlock {
    dw1: Depthwise,
    pw1: Pointwise,
    dw2: Depthwise,
    pw2: Pointwise,
}

impl DownBlock {
    pub fn load(vb: VarBuilder, c_in: usize, mid: usize, c_out: usize) -> Result<Self> {
        Ok(Self {
            dw1: Depthwise::load(vb.pp("dw1"), c_in, 2)?,
            pw1: Pointwise::load(vb.pp("pw1"), c_in, mid, true)?,
            dw2: Depthwise::load(vb.pp("dw2"), mid, 1)?,
            pw2: Pointwise::load(vb.pp("pw2"), mid, c_out, true)?,
        })
    }
}

impl Module for DownBlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.pw1.forward(&self.dw1.forward(x)?)?;
        self.pw2.forward(&self.dw2.forward(&y)?)
    }
}

/// One encoder stage: optional down block, then residual blocks.
#[derive(Debug, Clone)]
pub struct EncoderStage {
    down: Option<DownBlock>,
    res: Vec<ResBlock>,
}

impl EncoderStage {
    pub fn load(
        vb: VarBuilder,
        down: Option<(usize, usize)>,
        channels: usize,
        mid: usize,
        n: usize,
    ) -> Result<Self> {
        let down = match down {
            Some((c_in, down_mid)) => {
                Some(DownBlock::load(vb.pp("down"), c_in, down_mid, channels)?)
            }
            None => None,
        };
        let res = (0..n)
            .map(|i| ResBlock::load(vb.pp("res").pp(i), channels, mid))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { down, res })
    }
}

impl Module for EncoderStage {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = match &self.down {
            Some(d) => d.forward(x)?,
            None => x.clone(),
        };
        for r in &self.res {
            x = r.forward(&x)?;
        }
        Ok(x)
    }
}

/// One decoder stage: `res(up2(relu(reduce(x))) + skip)`.
#[derive(Debug, Clone)]
pub struct DecoderStage {
    reduce: Pointwise,
    res: Vec<ResBlock>,
}

impl DecoderStage {
    pub fn load(
        vb: VarBuilder,
        c_in: usize,
        channels: usize,
        mid: usize,
        n: usize,
    ) -> Result<Self> {
        let reduce = Pointwise::load(vb.pp("reduce"), c_in, channels, true)?;
        let res = (0..n)
            .map(|i| ResBlock::load(vb.pp("res").pp(i), channels, mid))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { reduce, res })
    }

    pub fn forward(&self, x: &Tensor, skip: &Tensor) -> Result<Tensor> {
        let mut x = (upsample2x_bilinear(&self.reduce.forward(x)?)? + skip)?;
        for r in &self.res {
            x = r.forward(&x)?;
        }
        Ok(x)
    }
}

/// Output head: 1x1 conv, 3x3 depthwise stride 2, depth-to-space 2, flattened
/// to `[B, 48*48, out]` in row-major (y, x) order.
#[derive(Debug, Clone)]
pub struct Head {
    pw: Pointwise,
    dw: Depthwise,
    out: usize,
}

impl Head {
    pub fn load(vb: VarBuilder, c_in: usize, out: usize) -> Result<Self> {
        Ok(Self {
            pw: Pointwise::load(vb.pp("pw"), c_in, 4 * out, false)?,
            dw: Depthwise::load(vb.pp("dw"), 4 * out, 2)?,
            out,
        })
    }
}

impl Module for Head {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.dw.forward(&self.pw.forward(x)?)?; // [B, 4*out, h, w]
        let (b, _, h, w) = y.dims4()?;
        // TF DepthToSpace (NHWC): out[2y+i, 2x+j, c] = in[y, x, (2i+j)*out + c].
        y.reshape((b, 2, 2, self.out, h, w))?
            .permute((0, 4, 1, 5, 2, 3))? // [B, h, i, w, j, out]
            .contiguous()?
            .reshape((b, 4 * h * w, self.out))
    }
}

/// Bilinear x2 up-sampling with half-pixel centres and edge clamping
/// (TFLite RESIZE_BILINEAR, half_pixel_centers = true, align_corners = false).
pub fn upsample2x_bilinear(x: &Tensor) -> Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == DType::F32 {
        return x.contiguous()?.apply_op1_no_bwd(&Upsample2xCpu);
    }
    upsample2x_bilinear_generic(x)
}

/// Device-independent version of [`upsample2x_bilinear`] (tensor ops only).
pub fn upsample2x_bilinear_generic(x: &Tensor) -> Result<Tensor> {
    let x = upsample2x_dim(x, 2)?;
    upsample2x_dim(&x, 3)
}

/// CPU kernel of [`upsample2x_bilinear`]: f32, NCHW, one pass.
struct Upsample2xCpu;

impl CustomOp1 for Upsample2xCpu {
    fn name(&self) -> &'static str {
        "upsample2x_bilinear"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = layout.shape().dims4()?;
        let input = match layout.contiguous_offsets() {
            Some((start, end)) => &storage.as_slice::<f32>()?[start..end],
            None => candle_core::bail!("upsample2x: input must be contiguous"),
        };
        // Output index 2k + p samples k - 0.25 (p = 0) or k + 0.25 (p = 1): weight
        // 0.75 on k and 0.25 on the clamped neighbour.
        let taps = |n: usize| -> Vec<(usize, usize)> {
            (0..2 * n)
                .map(|o| {
                    let k = o / 2;
                    let other = if o % 2 == 0 {
                        k.saturating_sub(1)
                    } else {
                        (k + 1).min(n - 1)
                    };
                    (k, other)
                })
                .collect()
        };
        let (ty, tx) = (taps(h), taps(w));
        let (oh, ow) = (2 * h, 2 * w);
        let mut out = vec![0f32; b * c * oh * ow];
        let mut row = vec![0f32; w];
        for (src, dst) in input.chunks_exact(h * w).zip(out.chunks_exact_mut(oh * ow)) {
            for (oy, &(k, other)) in ty.iter().enumerate() {
                let (a, z) = (&src[k * w..(k + 1) * w], &src[other * w..(other + 1) * w]);
                for ((r, &p), &q) in row.iter_mut().zip(a).zip(z) {
                    *r = 0.75 * p + 0.25 * q;
                }
                for (o, &(k, other)) in dst[oy * ow..(oy + 1) * ow].iter_mut().zip(&tx) {
                    *o = 0.75 * row[k] + 0.25 * row[other];
                }
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((b, c, oh, ow))))
    }
}

fn upsample2x_dim(x: &Tensor, dim: usize) -> Result<Tensor> {
    let n = x.dim(dim)?;
    // Output 2k samples k - 0.25, output 2k+1 samples k + 0.25 (clamped at the edges).
    let prev = Tensor::cat(&[x.narrow(dim, 0, 1)?, x.narrow(dim, 0, n - 1)?], dim)?;
    let next = Tensor::cat(&[x.narrow(dim, 1, n - 1)?, x.narrow(dim, n - 1, 1)?], dim)?;
    let even = ((x * 0.75)? + (prev * 0.25)?)?;
    let odd = ((x * 0.75)? + (next * 0.25)?)?;
    let mut shape = x.dims().to_vec();
    shape[dim] *= 2;
    Tensor::stack(&[even, odd], dim + 1)?.reshape(shape)
}

/// First layer: 3x3 conv stride 2, padding 1, 3 -> 32 (BlazeFace; YuNet: 16),
/// ReLU. On the CPU an explicit im2col + matmul that writes NCHW directly
/// (candle's conv2d is slow for 3 input channels); elsewhere candle's conv2d.
#[derive(Debug, Clone)]
pub struct Stem {
    conv: Conv2d,
    weight: Tensor, // [c_out, 27]
    bias: Tensor,   // [1, c_out, 1]
}

impl Stem {
    /// BlazeFace's stem: 32 output channels.
    pub fn load(vb: VarBuilder, cfg: Conv2dConfig) -> Result<Self> {
        Self::load_with(vb, cfg, 32)
    }

    /// Same layer with `c_out` output channels (`cfg` must be stride 2, padding 1).
    pub fn load_with(vb: VarBuilder, cfg: Conv2dConfig, c_out: usize) -> Result<Self> {
        let conv = candle_nn::conv2d(3, c_out, 3, cfg, vb)?;
        let weight = conv.weight().reshape((c_out, 27))?;
        let bias = conv.bias().expect("stem has a bias").reshape((1, c_out, 1))?;
        Ok(Self { conv, weight, bias })
    }
}

impl Stem {
    /// Device-independent version (candle's conv2d).
    pub fn forward_generic(&self, x: &Tensor) -> Result<Tensor> {
        self.conv.forward(x)?.relu()
    }
}

impl Module for Stem {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if !(x.device().is_cpu() && x.dtype() == DType::F32) {
            return self.forward_generic(x);
        }
        let (b, _, h, w) = x.dims4()?;
        let im2col = Im2Col3x3 { stride: 2, padding: Padding::Symmetric };
        let cols = x.contiguous()?.apply_op1_no_bwd(&im2col)?; // [B, 27, Ho*Wo]
        let y = self
            .weight
            .broadcast_matmul(&cols)?
            .broadcast_add(&self.bias)?
            .relu()?;
        y.reshape((b, (), h.div_ceil(2), w.div_ceil(2)))
    }
}

/// The whole network.
#[derive(Debug, Clone)]
pub struct BlazeFaceFull {
    stem: Stem,
    enc96: EncoderStage,
    enc48: EncoderStage,
    enc48_skip: Pointwise,
    enc24: EncoderStage,
    enc24_skip: Pointwise,
    enc12: EncoderStage,
    enc12_skip: Pointwise,
    enc6: EncoderStage,
    dec12: DecoderStage,
    dec24: DecoderStage,
    dec48: DecoderStage,
    cls: Head,
    reg: Head,
}

impl BlazeFaceFull {
    /// Loads from a VarBuilder over `blazeface_full.safetensors` (use DType::F32).
    pub fn load(vb: VarBuilder) -> Result<Self> {
        let stem_cfg = Conv2dConfig {
            padding: 1,
            stride: 2,
            ..Default::default()
        };
        Ok(Self {
            stem: Stem::load(vb.pp("stem"), stem_cfg)?,
            enc96: EncoderStage::load(vb.pp("enc96"), None, 32, 8, 2)?,
            enc48: EncoderStage::load(vb.pp("enc48"), Some((32, 16)), 64, 16, 2)?,
            enc48_skip: Pointwise::load(vb.pp("enc48.skip"), 64, 48, true)?,
            enc24: EncoderStage::load(vb.pp("enc24"), Some((64, 32)), 128, 32, 2)?,
            enc24_skip: Pointwise::load(vb.pp("enc24.skip"), 128, 64, true)?,
            enc12: EncoderStage::load(vb.pp("enc12"), Some((128, 48)), 192, 48, 2)?,
            enc12_skip: Pointwise::load(vb.pp("enc12.skip"), 192, 96, true)?,
            enc6: EncoderStage::load(vb.pp("enc6"), Some((192, 96)), 384, 96, 3)?,
            dec12: DecoderStage::load(vb.pp("dec12"), 384, 96, 48, 2)?,
            dec24: DecoderStage::load(vb.pp("dec24"), 96, 64, 32, 2)?,
            dec48: DecoderStage::load(vb.pp("dec48"), 64, 48, 24, 1)?,
            cls: Head::load(vb.pp("head.cls"), 48, 1)?,
            reg: Head::load(vb.pp("head.reg"), 48, NUM_COORDS)?,
        })
    }

    /// `x`: `[B, 3, 192, 192]` f32 in [-1, 1]. Returns `(regressors [B, 2304, 16],
    /// score logits [B, 2304, 1])`.
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let (_, c, h, w) = x.dims4()?;
        if (c, h, w) != (3, INPUT_SIZE, INPUT_SIZE) {
            candle_core::bail!(
                "BlazeFace full-range expects [B, 3, 192, 192], got {:?}",
                x.dims()
            );
        }
        let x = x.to_dtype(DType::F32)?;
        let x = self.stem.forward(&x)?;
        let x96 = self.enc96.forward(&x)?;
        let x48 = self.enc48.forward(&x96)?;
        let x24 = self.enc24.forward(&x48)?;
        let x12 = self.enc12.forward(&x24)?;
        let x6 = self.enc6.forward(&x12)?;
        let y = self.dec12.forward(&x6, &self.enc12_skip.forward(&x12)?)?;
        let y = self.dec24.forward(&y, &self.enc24_skip.forward(&x24)?)?;
        let y = self.dec48.forward(&y, &self.enc48_skip.forward(&x48)?)?;
        let reg = self.reg.forward(&y)?;
        let cls = self.cls.forward(&y)?;
        debug_assert_eq!(reg.dim(D::Minus2)?, NUM_ANCHORS);
        Ok((reg, cls))
    }
}
