//! YOLOX-nano (Megvii YOLOX, COCO 80 classes, 416x416): the network and its `ObjectModel`.
//!
//! Weights: `models/yolox_nano.safetensors`, made by `models/convert_yolox.py` from
//! `model/yolox_nano.onnx` of the repository Kazuhito00/YOLOX-ONNX-TFLite-Sample (Apache-2.0, an
//! export of Megvii's `yolox_nano.pth`, COCO val AP 25.8, 0.91M parameters, ~1.05 GFLOPs per
//! frame). BatchNorm is folded, so every convolution has a bias. The `VarBuilder` paths are the
//! upstream PyTorch module names (`backbone.backbone.dark3.1.m.0.conv2.dconv.conv.weight`, ...).
//!
//! Architecture ("BaseConv" = conv + bias + SiLU; "DWConv" = depthwise 3x3 BaseConv then 1x1
//! BaseConv; depth 0.33, width 0.25):
//! - Focus: space-to-depth 2x2, channels ordered (even row, even col), (odd row, even col),
//!   (even row, odd col), (odd row, odd col), 3 -> 12 @208, then BaseConv 3x3 12 -> 16;
//! - CSPDarknet: dark2..dark5 each start with a stride-2 DWConv (16->32, 32->64, 64->128,
//!   128->256), then `CSPLayer(c, c, n)` with n = 1, 3, 3 and, in dark5, an SPP block first
//!   (1x1 256->128, max-pools 5/9/13 stride 1 with -inf padding, concat, 1x1 512->256) and a
//!   CSPLayer without shortcut. `CSPLayer(in, out, n)`: `a = conv1(x)`, `b = conv2(x)` (1x1 ->
//!   out/2), `a = n Bottlenecks(a)` (1x1 then DWConv, `+ a` when shortcut), `conv3(cat[a, b])`;
//! - PAFPN: top-down `lateral_conv0` 1x1 256->128, nearest x2, cat dark4, `C3_p4`;
//!   `reduce_conv1` 1x1 128->64, nearest x2, cat dark3, `C3_p3` (-> P3, 64 @52); bottom-up
//!   `bu_conv2` stride-2 DWConv, cat, `C3_n3` (-> P4, 128 @26); `bu_conv1`, cat, `C3_n4` (-> P5,
//!   256 @13); the PAFPN CSPLayers have no shortcut;
//! - decoupled head per level: `stems` 1x1 -> 64, two DWConvs then `cls_preds` 1x1 -> 80, two
//!   DWConvs then `reg_preds` 1x1 -> 4 and `obj_preds` 1x1 -> 1 (no activation on the preds).
//!
//! Pre-processing (`YoloX::preprocess`, as YOLOX's `preproc`): scale to 416 on the long side
//! keeping the aspect ratio, the picture at the TOP-LEFT of the canvas and the rest filled with
//! 114. The canvas is 416x416 as exported only for parity checks; analysis uses a canvas as deep
//! as the picture rounded up to 32 (416x256 for 16:9), which the fully convolutional network
//! takes as it is (YOLOX was trained at many sizes) (resize: the
//! antialiased bilinear of `letterbox.rs`, where YOLOX uses OpenCV's bilinear), then **BGR**,
//! values 0-255 as f32, no normalisation (checked against onnxruntime: RGB input turns the
//! reference cat into a dog).
//!
//! Output (`forward`): `[B, 3549, 85]`, cells of stride 8 (52x52), 16 (26x26), 32 (13x13),
//! row-major, columns `[dx, dy, log w, log h, sigmoid(obj), 80 x sigmoid(cls)]` exactly as the
//! ONNX export (which applies the sigmoids but not the box decoding).
//!
//! Post-processing (`decode`, `YoloX::postprocess`): centre `(dx + col, dy + row) * stride`,
//! size `exp(log w, log h) * stride`, score = obj * cls for every class above `min_score`;
//! per-class greedy NMS at IoU 0.45 (YOLOX demo default), best 100, boxes mapped back to the
//! original picture and clamped to it.
//!
//! Speed: 1x1 convolutions are `ops::Pointwise`, batched matmuls with bias + SiLU fused into one
//! in-place pass; the depthwise 3x3 convolutions are `ops::Depthwise` (a CPU custom op) with the SiLU
//! fused; SPP pools 9 and 13 are computed as repeated 5x5 pools (exact for max pooling).
use anyhow::{ensure, Context};
use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::VarBuilder;
use image::RgbImage;

use super::ops::{max_pool_same, space_to_depth_2x2, BiasAct, Conv3x3, Depthwise, Padding, Pointwise, SpaceToDepth};
use super::letterbox::{letterbox_bgr_planes, Letterbox, Placement};
use super::objects::{ObjectDetection, ObjectModel, COCO_LABELS};

pub const INPUT_SIZE: usize = 416;
pub const NUM_CLASSES: usize = 80;
/// Per-cell output width: 4 box regressions, objectness, 80 class scores.
pub const OUT_CHANNELS: usize = 5 + NUM_CLASSES;
pub const STRIDES: [usize; 3] = [8, 16, 32];
/// Total cells over the three levels at 416x416: 52² + 26² + 13².
pub const NUM_CELLS: usize = 2704 + 676 + 169;
/// Letterbox fill value (YOLOX's `preproc`).
pub const PAD_VALUE: u8 = 114;

/// Focus: space-to-depth 2x2 then a dense 3x3 BaseConv (12 -> 16).
#[derive(Debug, Clone)]
struct Focus {
    weight: Tensor, // [16, 12, 3, 3]
    bias: Tensor,   // [1, 16, 1]
    act: BiasAct,
    /// The same weights as im2col + matmul (the CPU path).
    conv: Conv3x3,
}

impl Focus {
    fn load(vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("conv").pp("conv");
        let weight = vb.get((16, 12, 3, 3), "weight")?;
        let bias = vb.get(16, "bias")?;
        let act = BiasAct::new(&bias, true)?;
        Ok(Self {
            conv: Conv3x3::new(weight.clone(), &bias, 1, Padding::Symmetric)?,
            weight,
            bias: bias.reshape((1, 16, 1))?,
            act,
        })
    }
}

impl Module for Focus {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // x[b, c, 2i + dy, 2j + dx] -> channel (2 dx + dy) * 3 + c
        let x = space_to_depth_2x2(x, SpaceToDepth::QuarterMajor)?;
        let (b, _, h2, w2) = x.dims4()?;
        if !(x.device().is_cpu() && x.dtype() == DType::F32) {
            let y = x.conv2d(&self.weight, 1, 1, 1, 1)?;
            let (_, o, ho, wo) = y.dims4()?;
            return self.act.apply(y.reshape((b, o, ho * wo))?, &self.bias)?.reshape((b, o, ho, wo));
        }
        let y = self.conv.forward_unbiased_flat(&x)?; // [B, 16, h2*w2]
        self.act.apply(y, &self.bias)?.reshape((b, (), h2, w2))
    }
}

/// Depthwise 3x3 BaseConv then 1x1 BaseConv.
#[derive(Debug, Clone)]
struct DwConv {
    dconv: Depthwise,
    pconv: Pointwise,
}

impl DwConv {
    fn load(vb: VarBuilder, c_in: usize, c_out: usize, stride: usize) -> Result<Self> {
        Ok(Self {
            dconv: Depthwise::load_silu(vb.pp("dconv").pp("conv"), c_in, stride)?,
            pconv: Pointwise::load(vb.pp("pconv").pp("conv"), c_in, c_out, true)?,
        })
    }
}

impl Module for DwConv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.pconv.forward(&self.dconv.forward(&x.contiguous()?)?)
    }
}

/// `Bottleneck` (expansion 1): 1x1 BaseConv, DWConv, `+ x` when `shortcut`.
#[derive(Debug, Clone)]
struct Bottleneck {
    conv1: Pointwise,
    conv2: DwConv,
    shortcut: bool,
}

impl Module for Bottleneck {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.conv2.forward(&self.conv1.forward(x)?)?;
        if self.shortcut {
            y + x
        } else {
            Ok(y)
        }
    }
}

/// `CSPLayer(c_in, c_out, n)`; conv1 and conv2 run as one matmul.
#[derive(Debug, Clone)]
struct CspLayer {
    conv12: Pointwise,
    hidden: usize,
    m: Vec<Bottleneck>,
    conv3: Pointwise,
}

impl CspLayer {
    fn load(vb: VarBuilder, c_in: usize, c_out: usize, n: usize, shortcut: bool) -> Result<Self> {
        let hidden = c_out / 2;
        let conv = |name: &str| vb.pp(name).pp("conv");
        let conv12 = Pointwise::stacked(
            &[(conv("conv1"), hidden), (conv("conv2"), hidden)],
            c_in,
            true,
        )?;
        let m = (0..n)
            .map(|i| {
                let vb = vb.pp("m").pp(i);
                Ok(Bottleneck {
                    conv1: Pointwise::load(vb.pp("conv1").pp("conv"), hidden, hidden, true)?,
                    conv2: DwConv::load(vb.pp("conv2"), hidden, hidden, 1)?,
                    shortcut,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            conv12,
            hidden,
            m,
            conv3: Pointwise::load(conv("conv3"), 2 * hidden, c_out, true)?,
        })
    }
}

impl Module for CspLayer {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.conv12.forward(x)?;
        let mut a = y.narrow(1, 0, self.hidden)?;
        let b = y.narrow(1, self.hidden, self.hidden)?;
        for m in &self.m {
            a = m.forward(&a)?;
        }
        self.conv3.forward(&Tensor::cat(&[&a, &b], 1)?)
    }
}

/// `SPPBottleneck(256, 256)`: pools 5, 9 = 5∘5, 13 = 5∘5∘5.
#[derive(Debug, Clone)]
struct Spp {
    conv1: Pointwise,
    conv2: Pointwise,
}

impl Module for Spp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = self.conv1.forward(x)?;
        let p5 = max_pool_same(&x, 5)?;
        let p9 = max_pool_same(&p5, 5)?;
        let p13 = max_pool_same(&p9, 5)?;
        self.conv2.forward(&Tensor::cat(&[&x, &p5, &p9, &p13], 1)?)
    }
}

/// CSPDarknet (nano) + PAFPN: returns P3 (64 @52), P4 (128 @26), P5 (256 @13).
#[derive(Debug, Clone)]
struct Backbone {
    stem: Focus,
    dark: Vec<(DwConv, CspLayer)>, // dark2..dark5 (down conv, CSP)
    spp: Spp,
    lateral_conv0: Pointwise,
    c3_p4: CspLayer,
    reduce_conv1: Pointwise,
    c3_p3: CspLayer,
    bu_conv2: DwConv,
    c3_n3: CspLayer,
    bu_conv1: DwConv,
    c3_n4: CspLayer,
}

impl Backbone {
    fn load(vb: VarBuilder) -> Result<Self> {
        let d = vb.pp("backbone");
        let mut dark = Vec::new();
        for (i, c_in, n) in [(2, 16, 1), (3, 32, 3), (4, 64, 3), (5, 128, 1)] {
            let stage = d.pp(format!("dark{i}"));
            let c = 2 * c_in;
            let down = DwConv::load(stage.pp(0), c_in, c, 2)?;
            let (csp_index, shortcut) = if i == 5 { (2, false) } else { (1, true) };
            dark.push((
                down,
                CspLayer::load(stage.pp(csp_index), c, c, n, shortcut)?,
            ));
        }
        let spp_vb = d.pp("dark5").pp(1);
        let spp = Spp {
            conv1: Pointwise::load(spp_vb.pp("conv1").pp("conv"), 256, 128, true)?,
            conv2: Pointwise::load(spp_vb.pp("conv2").pp("conv"), 512, 256, true)?,
        };
        let conv = |name: &str| vb.pp(name).pp("conv");
        Ok(Self {
            stem: Focus::load(d.pp("stem"))?,
            dark,
            spp,
            lateral_conv0: Pointwise::load(conv("lateral_conv0"), 256, 128, true)?,
            c3_p4: CspLayer::load(vb.pp("C3_p4"), 256, 128, 1, false)?,
            reduce_conv1: Pointwise::load(conv("reduce_conv1"), 128, 64, true)?,
            c3_p3: CspLayer::load(vb.pp("C3_p3"), 128, 64, 1, false)?,
            bu_conv2: DwConv::load(vb.pp("bu_conv2"), 64, 64, 2)?,
            c3_n3: CspLayer::load(vb.pp("C3_n3"), 128, 128, 1, false)?,
            bu_conv1: DwConv::load(vb.pp("bu_conv1"), 128, 128, 2)?,
            c3_n4: CspLayer::load(vb.pp("C3_n4"), 256, 256, 1, false)?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<[Tensor; 3]> {
        let x = self.stem.forward(x)?;
        let x = self.dark[0].1.forward(&self.dark[0].0.forward(&x)?)?;
        let c3 = self.dark[1].1.forward(&self.dark[1].0.forward(&x)?)?;
        let c4 = self.dark[2].1.forward(&self.dark[2].0.forward(&c3)?)?;
        let c5 = self.dark[3].0.forward(&c4)?;
        let c5 = self.dark[3].1.forward(&self.spp.forward(&c5)?)?;
        let up = |t: &Tensor| {
            let (_, _, h, w) = t.dims4()?;
            t.upsample_nearest2d(2 * h, 2 * w)
        };
        let fpn_out0 = self.lateral_conv0.forward(&c5)?; // 128 @13
        let f_out0 = self
            .c3_p4
            .forward(&Tensor::cat(&[&up(&fpn_out0)?, &c4], 1)?)?;
        let fpn_out1 = self.reduce_conv1.forward(&f_out0)?; // 64 @26
        let p3 = self
            .c3_p3
            .forward(&Tensor::cat(&[&up(&fpn_out1)?, &c3], 1)?)?;
        let d3 = self.bu_conv2.forward(&p3)?;
        let p4 = self.c3_n3.forward(&Tensor::cat(&[&d3, &fpn_out1], 1)?)?;
        let d4 = self.bu_conv1.forward(&p4)?;
        let p5 = self.c3_n4.forward(&Tensor::cat(&[&d4, &fpn_out0], 1)?)?;
        Ok([p3, p4, p5])
    }
}

/// One level of the decoupled head.
#[derive(Debug, Clone)]
struct HeadLevel {
    stem: Pointwise,
    cls_convs: [DwConv; 2],
    reg_convs: [DwConv; 2],
    cls_pred: Pointwise,
    /// `reg_preds` (4) and `obj_preds` (1) stacked: one matmul.
    reg_obj_pred: Pointwise,
}

impl HeadLevel {
    fn load(vb: VarBuilder, k: usize, c_in: usize) -> Result<Self> {
        let dw = |name: &str, i: usize| DwConv::load(vb.pp(name).pp(k).pp(i), 64, 64, 1);
        Ok(Self {
            stem: Pointwise::load(vb.pp("stems").pp(k).pp("conv"), c_in, 64, true)?,
            cls_convs: [dw("cls_convs", 0)?, dw("cls_convs", 1)?],
            reg_convs: [dw("reg_convs", 0)?, dw("reg_convs", 1)?],
            cls_pred: Pointwise::load(vb.pp("cls_preds").pp(k), 64, NUM_CLASSES, false)?,
            reg_obj_pred: Pointwise::stacked(
                &[(vb.pp("reg_preds").pp(k), 4), (vb.pp("obj_preds").pp(k), 1)],
                64,
                false,
            )?,
        })
    }

    /// `[B, C, H, W]` -> `[B, 85, H*W]`: reg, sigmoid(obj), sigmoid(cls).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = self.stem.forward(x)?;
        let c = self.cls_convs[1].forward(&self.cls_convs[0].forward(&x)?)?;
        let r = self.reg_convs[1].forward(&self.reg_convs[0].forward(&x)?)?;
        let cls = candle_nn::ops::sigmoid(&self.cls_pred.forward(&c)?)?;
        let ro = self.reg_obj_pred.forward(&r)?;
        let reg = ro.narrow(1, 0, 4)?;
        let obj = candle_nn::ops::sigmoid(&ro.narrow(1, 4, 1)?)?;
        Tensor::cat(&[&reg, &obj, &cls], 1)?.flatten_from(2)
    }
}

/// The YOLOX-nano network. `forward` takes `[B, 3, 416, 416]` BGR 0-255.
#[derive(Debug, Clone)]
pub struct YoloxNano {
    backbone: Backbone,
    head: Vec<HeadLevel>,
}

impl YoloxNano {
    pub fn load(vb: VarBuilder) -> Result<Self> {
        let head = [64, 128, 256]
            .iter()
            .enumerate()
            .map(|(k, &c)| HeadLevel::load(vb.pp("head"), k, c))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            backbone: Backbone::load(vb.pp("backbone"))?,
            head,
        })
    }

    /// Loads from the bytes of `yolox_nano.safetensors` (f32; f16 files are widened).
    pub fn from_safetensors(bytes: &[u8], device: &Device) -> Result<Self> {
        Self::load(VarBuilder::from_slice_safetensors(
            bytes,
            DType::F32,
            device,
        )?)
    }
}

impl Module for YoloxNano {
    /// `[B, 3, H, W]` (multiples of 32; 416x416 as exported) -> `[B, cells, 85]` with
    /// `cells = Σ (H/s)(W/s)` over the strides 8, 16, 32 (3549 at 416x416; see the module doc).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, c, h, w) = x.dims4()?;
        if c != 3 || h == 0 || w == 0 || h % 32 != 0 || w % 32 != 0 {
            candle_core::bail!("YOLOX-nano expects [B, 3, H, W] with H and W multiples of 32, got {:?}", x.dims());
        }
        let feats = self.backbone.forward(x)?;
        let outs = self
            .head
            .iter()
            .zip(feats.iter())
            .map(|(h, f)| h.forward(f))
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&outs, 2)?.transpose(1, 2)?.contiguous()
    }
}

/// HWC RGB u8 canvas -> CHW BGR f32 0-255, appended to `out`.
pub fn to_bgr_planes(canvas: &[u8], out: &mut Vec<f32>) {
    let hw = canvas.len() / 3;
    for c in 0..3 {
        let src = 2 - c;
        out.extend((0..hw).map(|i| canvas[i * 3 + src] as f32));
    }
}

/// Decodes one image's raw output of a 416x416 input (`[NUM_CELLS * 85]`) into canvas-space
/// candidates: every class whose obj * cls exceeds `min_score`.
pub fn decode(raw: &[f32], min_score: f32) -> Vec<ObjectDetection> {
    decode_grid(raw, INPUT_SIZE, INPUT_SIZE, min_score)
}

/// A box's runner-up class is named only from this score: below it the
/// detector had no second opinion worth reading.
pub const RUNNER_UP_MIN_SCORE: f32 = 0.01;

/// [`decode`] for an input canvas of `width` x `height` (multiples of 32).
pub fn decode_grid(raw: &[f32], width: usize, height: usize, min_score: f32) -> Vec<ObjectDetection> {
    let mut out = Vec::new();
    let mut cell0 = 0;
    for stride in STRIDES {
        let (n, rows) = (width / stride, height / stride);
        let s = stride as f32;
        for i in 0..n * rows {
            let row = &raw[(cell0 + i) * OUT_CHANNELS..(cell0 + i + 1) * OUT_CHANNELS];
            let obj = row[4];
            if obj <= min_score {
                continue; // class scores are at most 1
            }
            let cx = (row[0] + (i % n) as f32) * s;
            let cy = (row[1] + (i / n) as f32) * s;
            let (hw, hh) = (row[2].exp() * s / 2.0, row[3].exp() * s / 2.0);
            let bbox = [cx - hw, cy - hh, cx + hw, cy + hh];
            // the two best classes of the box: each detection names the best of the others
            let (mut first, mut second) = ((0, f32::MIN), (0, f32::MIN));
            for (class_id, &cls) in row[5..].iter().enumerate() {
                if cls > first.1 {
                    second = first;
                    first = (class_id, cls);
                } else if cls > second.1 {
                    second = (class_id, cls);
                }
            }
            for (class_id, &cls) in row[5..].iter().enumerate() {
                let score = obj * cls;
                if score > min_score {
                    let (other, other_cls) = if class_id == first.0 { second } else { first };
                    let other_score = obj * other_cls;
                    out.push(ObjectDetection {
                        class_id,
                        class_name: COCO_LABELS[class_id],
                        score,
                        bbox,
                        runner_up: (other_score >= RUNNER_UP_MIN_SCORE).then_some((COCO_LABELS[other], other_score)),
                    });
                }
            }
        }
        cell0 += n * rows;
    }
    out
}

/// YOLOX-nano as an `ObjectModel`.
pub struct YoloX {
    net: YoloxNano,
    device: Device,
    /// NMS IoU threshold (YOLOX demo default 0.45).
    pub iou_threshold: f32,
    /// Cap on detections per image.
    pub max_detections: usize,
}

impl YoloX {
    /// From the bytes of `yolox_nano.safetensors`.
    pub fn from_bytes(bytes: &[u8], device: &Device) -> anyhow::Result<Self> {
        let net =
            YoloxNano::from_safetensors(bytes, device).context("loading YOLOX-nano weights")?;
        Ok(Self {
            net,
            device: device.clone(),
            iou_threshold: 0.45,
            max_detections: 100,
        })
    }

    pub fn net(&self) -> &YoloxNano {
        &self.net
    }

    /// Letterboxes `images` (top-left, fill 114) into one `[B, 3, H, W]` BGR tensor, each picture
    /// scaled so its long side is 416 as YOLOX's `preproc` does. The canvas is 416 on the long
    /// side and only as deep as the pictures need, rounded up to the network's stride of 32
    /// (416x256 for a 16:9 frame): the rows a square canvas would add are padding the network
    /// reads for nothing (38% of the work for 16:9). `square` gives the exported 416x416.
    pub fn preprocess(&self, images: &[&RgbImage], square: bool) -> anyhow::Result<(Tensor, Vec<Letterbox>)> {
        let size = INPUT_SIZE as u32;
        let mut boxes = Vec::with_capacity(images.len());
        for img in images {
            ensure!(img.width() > 0 && img.height() > 0, "empty image");
            boxes.push(Letterbox::placed(img.width(), img.height(), size, Placement::TopLeft));
        }
        let up = |v: u32| if square { size } else { v.div_ceil(32) * 32 };
        let cw = up(boxes.iter().map(|b| b.inner_width).max().unwrap_or(size));
        let ch = up(boxes.iter().map(|b| b.inner_height).max().unwrap_or(size));
        let mut data = Vec::with_capacity(images.len() * 3 * (cw * ch) as usize);
        for (img, lb) in images.iter().zip(&boxes) {
            letterbox_bgr_planes(img, lb, cw, ch, PAD_VALUE, &mut data);
        }
        let x = Tensor::from_vec(data, (images.len(), 3, ch as usize, cw as usize), &Device::Cpu)?
            .to_device(&self.device)?;
        Ok((x, boxes))
    }

    /// Raw outputs, copied to the CPU once: `B` vectors of `NUM_CELLS * 85` floats.
    pub fn raw(&self, x: &Tensor) -> anyhow::Result<Vec<Vec<f32>>> {
        super::objects::per_image(&self.net.forward(x)?)
    }

    /// Candidates of a `width` x `height` canvas -> NMS -> top `max_detections` -> original
    /// coordinates.
    pub fn postprocess(&self, raw: &[f32], (width, height): (usize, usize), lb: &Letterbox, min_score: f32) -> Vec<ObjectDetection> {
        let candidates = decode_grid(raw, width, height, min_score);
        super::objects::finish(candidates, lb, self.iou_threshold, self.max_detections)
    }
}

impl ObjectModel for YoloX {
    fn name(&self) -> &str {
        "yolox-nano"
    }

    fn detect_batch(
        &self,
        images: &[&RgbImage],
        min_score: f32,
    ) -> anyhow::Result<Vec<Vec<ObjectDetection>>> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let (x, boxes) = self.preprocess(images, false)?;
        let (_, _, h, w) = x.dims4()?;
        let raw = self.raw(&x)?;
        Ok(raw
            .iter()
            .zip(&boxes)
            .map(|(r, lb)| self.postprocess(r, (w, h), lb, min_score))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_detection_names_the_best_other_class_of_its_box() {
        // a 32x32 picture: 16 + 4 + 1 cells; one box in the first cell
        let cells = 16 + 4 + 1;
        let mut raw = vec![0f32; cells * OUT_CHANNELS];
        raw[4] = 0.9; // objectness
        let (phone, laptop, remote) = (67, 63, 65);
        raw[5 + phone] = 0.5;
        raw[5 + laptop] = 0.4;
        raw[5 + remote] = 0.1;
        let found = decode_grid(&raw, 32, 32, 0.2);
        assert_eq!(found.len(), 2, "{found:?}");
        let of = |c: usize| found.iter().find(|d| d.class_id == c).unwrap();
        let (p, l) = (of(phone), of(laptop));
        assert_eq!(p.runner_up.map(|r| r.0), Some("laptop"));
        assert!((p.runner_up.unwrap().1 - 0.36).abs() < 1e-6);
        assert_eq!(l.runner_up.map(|r| r.0), Some("cell phone"));
        assert!((l.runner_up.unwrap().1 - 0.45).abs() < 1e-6);
        // no second opinion worth naming: none
        raw[5 + laptop] = 0.005;
        raw[5 + remote] = 0.0;
        let found = decode_grid(&raw, 32, 32, 0.2);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].runner_up, None);
    }
}
