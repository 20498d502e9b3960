//! Face detection with YuNet-n (libfacedetection.train, Apache-2.0): the
//! network as candle modules plus the pre- and post-processing of OpenCV's
//! `FaceDetectorYN`, run on the picture at its own resolution.
//!
//! Weights: `onnx/yunet_n_dynamic.onnx` of ShiqiYu/libfacedetection.train at
//! commit 0047ac24, converted by `models/convert_yunet.py` (tensor names are the
//! VarBuilder paths used here; BatchNorm is already folded into the convolutions).
//!
//! Network (`YuNet`), every "DP unit" being `relu(dw3x3(conv1x1(x)))` (1x1 conv
//! without activation, 3x3 depthwise conv with padding 1, then ReLU):
//! - stem: 3x3 conv stride 2 padding 1, 3 -> 16, ReLU; DP 16 -> 16; max-pool 2x2.
//! - backbone stages (stride after the stage): DP 16->16, DP 16->64 (4); DP, DP (4),
//!   max-pool; DP, DP = `f8` (8), max-pool; DP, DP = `f16` (16), max-pool; DP, DP
//!   = `f32` (32). All 64 channels from stage 1 on.
//! - neck (top-down): `n32 = DP(f32)`, `n16 = DP(up2(n32) + f16)`,
//!   `n8 = DP(up2(n16) + f8)`; `up2` = nearest-neighbour x2 (ONNX Resize,
//!   asymmetric, floor).
//! - head per level: a DP unit, then the four prediction branches, each a 1x1
//!   conv and a 3x3 depthwise conv without activation. The converter concatenates
//!   them into one 1x1 conv 64 -> 16 and one 16-channel depthwise conv per level:
//!   channel 0 = cls, 1 = obj (both through a sigmoid here, as in the graph),
//!   2..6 = bbox, 6..16 = 5 keypoints (x, y).
//!
//! Input: `[B, 3, H, W]` f32, **BGR, 0-255, no mean or scale** (OpenCV's
//! `blobFromImage` defaults, checked against onnxruntime), H and W multiples of 32.
//! Output: `[B, N, 16]`, the cells of stride 8, then 16, then 32, each level
//! row-major over its `(H/s) x (W/s)` grid.
//!
//! Pre-processing (`YuNetDetector::prepare`): a picture whose long side exceeds
//! `max_side` (default 640) is first resized to that long side (bilinear,
//! `image`'s Triangle filter, aspect kept, each side rounded); then, as
//! `FaceDetectorYN`, padded with black on the bottom and right to the next
//! multiple of 32 (no scaling, no letterbox), so network pixels are picture pixels.
//!
//! Decoding (`decode`, OpenCV's `FaceDetectorYN::postProcess`): for cell
//! `(r, c)` of stride `s`, score = `sqrt(clamp(cls, 0, 1) * clamp(obj, 0, 1))`;
//! cells below `min_score` are dropped; box centre `((c + b0) s, (r + b1) s)`,
//! size `(exp(b2) s, exp(b3) s)`; keypoint n = `((c + k[2n]) s, (r + k[2n+1]) s)`
//! in the order right eye, left eye, nose tip, right mouth corner, left mouth
//! corner (the subject's right/left).
//!
//! Suppression ([`boxes::nms`]): greedy, best score first; a box is dropped when its IoU
//! with a kept box exceeds `nms_iou` (default 0.3, the OpenCV model zoo's). OpenCV
//! truncates the boxes to integers for this test; here they stay float.
//! Then one step upstream does not have (`suppress_nested`): a box lying for at
//! least `nested_frac` (default 0.8) of its own area inside a stronger kept box is
//! dropped. YuNet-n sometimes adds a weak (0.4-0.6) box on the lower half of a
//! large close-up face (IoU < 0.3, so NMS keeps it): on the devset's selfie
//! clips that was the only source of wrong face counts at a 0.5 floor. A real
//! second face cannot lie inside another face's box.
//!
//! Mapping: coordinates are scaled back by the resize factors (per axis) and
//! boxes and keypoints are clipped to the picture.
//!
//! Checked against onnxruntime (raw outputs) and OpenCV's own `FaceDetectorYN`
//! (boxes) in `tests/model_yunet.rs`.

use anyhow::{ensure, Context};
use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::VarBuilder;
use image::RgbImage;

use super::boxes::{self, nms, Scored};
use super::ops::{max_pool_2x2, Conv3x3, Depthwise, Padding, Pointwise};

/// Feature strides of the three output levels.
pub const STRIDES: [usize; 3] = [8, 16, 32];
/// Input sides must be multiples of this.
pub const DIVISOR: usize = 32;
/// Values per cell: cls, obj, bbox (4), keypoints (5 x 2).
pub const NUM_OUTPUTS: usize = 16;
pub const NUM_KEYPOINTS: usize = 5;
/// Default floor on the face score (the config's `face_min_score` overrides it).
pub const DEFAULT_MIN_SCORE: f32 = 0.5;
/// OpenCV model zoo's NMS threshold for YuNet.
pub const DEFAULT_NMS_IOU: f32 = 0.3;
/// Share of a box's area inside a stronger box above which it is dropped.
pub const DEFAULT_NESTED_FRAC: f32 = 0.8;
/// Side of BlazeFace's (square) face box per YuNet box height: median over 10
/// faces of the devset and fixtures seen by both detectors (range 0.81-0.94).
pub const BLAZEFACE_SIDE_PER_HEIGHT: f32 = 0.86;
/// Pictures with a longer side are downscaled to it before detection.
pub const DEFAULT_MAX_SIDE: u32 = 640;

/// One face in the picture's pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct YuFace {
    /// [x0, y0, x1, y1], clipped to the picture.
    pub bbox: [f32; 4],
    /// `sqrt(cls * obj)`, in [0, 1].
    pub score: f32,
    /// Right eye, left eye, nose tip, right mouth corner, left mouth corner
    /// (the subject's right/left), [x, y].
    pub keypoints: [[f32; 2]; NUM_KEYPOINTS],
}

impl YuFace {
    /// A BlazeFace-like box for the face-mesh ROI (`landmarks::FaceBox`), whose
    /// crop the mesh was trained with: square, centred on the mean of the eyes
    /// and mouth corners, side [`BLAZEFACE_SIDE_PER_HEIGHT`] x the YuNet box's
    /// height. YuNet's own box is taller (forehead to chin) and centred higher;
    /// fed directly, the larger, higher crop lowered the eye aspect ratio of open
    /// eyes by up to 0.06 on the devset and raised false eyes_closed events.
    pub fn blazeface_box(&self) -> [f32; 4] {
        let [re, le, _, rm, lm] = self.keypoints;
        let cx = (re[0] + le[0] + rm[0] + lm[0]) / 4.0;
        let cy = (re[1] + le[1] + rm[1] + lm[1]) / 4.0;
        let half = BLAZEFACE_SIDE_PER_HEIGHT * (self.bbox[3] - self.bbox[1]) / 2.0;
        [cx - half, cy - half, cx + half, cy + half]
    }

    /// The six keypoints in BlazeFace's order, for the face mesh: right eye,
    /// left eye, nose tip, mouth centre (mean of the two corners), right and left
    /// "ear". YuNet has no ears: they are estimated as the side edges of
    /// [`Self::blazeface_box`] at the height of the eye on that side (right ear
    /// on the side of the right eye). The mesh uses only the eyes.
    pub fn blazeface_keypoints(&self) -> [[f32; 2]; 6] {
        let [re, le, nose, rm, lm] = self.keypoints;
        let mouth = [(rm[0] + lm[0]) / 2.0, (rm[1] + lm[1]) / 2.0];
        let b = self.blazeface_box();
        // The right eye is on the picture's left when the face is not mirrored.
        let (rx, lx) = if re[0] <= le[0] { (b[0], b[2]) } else { (b[2], b[0]) };
        [re, le, nose, mouth, [rx, re[1]], [lx, le[1]]]
    }
}

impl Scored for YuFace {
    fn score(&self) -> f32 {
        self.score
    }
    fn bbox(&self) -> &boxes::BBox {
        &self.bbox
    }
}

/// YuNet's DP unit: `relu(depthwise3x3(conv1x1(x)))`, as two passes: the
/// 1x1 convolution's matmul, then one kernel that adds its bias, runs the
/// depthwise layer and the ReLU ([`Depthwise::load_biased_relu`]).
#[derive(Debug, Clone)]
struct DpUnit {
    pw: Pointwise,
    dw: Depthwise,
}

impl DpUnit {
    fn load(vb: VarBuilder, c_in: usize, c_out: usize) -> Result<Self> {
        let pw = Pointwise::load(vb.pp("pw"), c_in, c_out, false)?;
        let dw = Depthwise::load_biased_relu(vb.pp("dw"), c_out, &pw.bias()?)?;
        Ok(Self { pw, dw })
    }
}

impl Module for DpUnit {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.dw.forward(&self.pw.forward_unbiased(x)?)
    }
}

fn run(units: &[DpUnit], x: Tensor) -> Result<Tensor> {
    units.iter().try_fold(x, |x, u| u.forward(&x))
}

fn up2(x: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    x.upsample_nearest2d(2 * h, 2 * w)
}

/// The whole network (see the module docs).
#[derive(Debug, Clone)]
pub struct YuNet {
    /// 3x3 conv stride 2, 3 -> 16, then ReLU.
    stem: Conv3x3,
    stem_dp: DpUnit,
    /// backbone.1 ..= backbone.5
    stages: Vec<Vec<DpUnit>>,
    /// Per level (8, 16, 32): neck unit, head unit, merged prediction convs.
    neck: Vec<DpUnit>,
    shared: Vec<DpUnit>,
    head_pw: Vec<Pointwise>,
    head_dw: Vec<Depthwise>,
}

impl YuNet {
    /// Loads from a VarBuilder over `yunet_n.safetensors` (use DType::F32).
    pub fn load(vb: VarBuilder) -> Result<Self> {
        let sv = vb.pp("backbone.0.conv");
        let stem = Conv3x3::new(sv.get((16, 3, 3, 3), "weight")?, &sv.get(16, "bias")?, 2, Padding::Symmetric)?;
        let stem_dp = DpUnit::load(vb.pp("backbone.0.dp"), 16, 16)?;
        let mut stages = Vec::new();
        for stage in 1..=5 {
            let chans: [(usize, usize); 2] = if stage == 1 { [(16, 16), (16, 64)] } else { [(64, 64), (64, 64)] };
            let vb = vb.pp(format!("backbone.{stage}"));
            stages.push(
                chans.iter().enumerate().map(|(u, &(i, o))| DpUnit::load(vb.pp(u), i, o)).collect::<Result<Vec<_>>>()?,
            );
        }
        let per_level = |name: &str| -> Result<Vec<DpUnit>> {
            STRIDES.iter().map(|s| DpUnit::load(vb.pp(format!("{name}.{s}")), 64, 64)).collect()
        };
        let neck = per_level("neck")?;
        let shared = per_level("head.shared")?;
        let head_pw = STRIDES
            .iter()
            .map(|s| Pointwise::load(vb.pp(format!("head.{s}.pw")), 64, NUM_OUTPUTS, false))
            .collect::<Result<Vec<_>>>()?;
        let head_dw = STRIDES
            .iter()
            .map(|s| Depthwise::load(vb.pp(format!("head.{s}.dw")), NUM_OUTPUTS, 1))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { stem, stem_dp, stages, neck, shared, head_pw, head_dw })
    }

    /// `x`: `[B, 3, H, W]` BGR 0-255, H and W multiples of 32. Returns `[B, N, 16]`
    /// (see the module docs for the layout).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, c, h, w) = x.dims4()?;
        if c != 3 || h % DIVISOR != 0 || w % DIVISOR != 0 || h == 0 || w == 0 {
            candle_core::bail!("YuNet expects [B, 3, H, W] with H, W multiples of 32, got {:?}", x.dims());
        }
        let x = x.to_dtype(DType::F32)?;
        let x = max_pool_2x2(&self.stem_dp.forward(&self.stem.forward(&x)?.relu()?)?)?;
        let x = run(&self.stages[0], x)?;
        let x = max_pool_2x2(&run(&self.stages[1], x)?)?;
        let f8 = run(&self.stages[2], x)?;
        let f16 = run(&self.stages[3], max_pool_2x2(&f8)?)?;
        let f32_ = run(&self.stages[4], max_pool_2x2(&f16)?)?;
        let n32 = self.neck[2].forward(&f32_)?;
        let n16 = self.neck[1].forward(&(up2(&n32)? + f16)?)?;
        let n8 = self.neck[0].forward(&(up2(&n16)? + f8)?)?;
        let mut levels = Vec::with_capacity(3);
        for (i, feat) in [n8, n16, n32].iter().enumerate() {
            let y = self.head_dw[i].forward(&self.head_pw[i].forward(&self.shared[i].forward(feat)?)?)?;
            let (b, _, h, w) = y.dims4()?;
            let scores = candle_nn::ops::sigmoid(&y.narrow(1, 0, 2)?)?;
            let y = Tensor::cat(&[scores, y.narrow(1, 2, NUM_OUTPUTS - 2)?], 1)?;
            levels.push(y.permute((0, 2, 3, 1))?.reshape((b, h * w, NUM_OUTPUTS))?);
        }
        Tensor::cat(&levels, 1)
    }
}

/// Decodes one picture's raw output (`[N, 16]` flattened, for a padded input of
/// `pad_w` x `pad_h`) into faces above `min_score`, in padded-input pixels.
pub fn decode(raw: &[f32], pad_w: usize, pad_h: usize, min_score: f32) -> Vec<YuFace> {
    let mut out = Vec::new();
    let mut offset = 0;
    for s in STRIDES {
        let (rows, cols) = (pad_h / s, pad_w / s);
        let level = &raw[offset * NUM_OUTPUTS..(offset + rows * cols) * NUM_OUTPUTS];
        offset += rows * cols;
        let s = s as f32;
        for (idx, v) in level.chunks_exact(NUM_OUTPUTS).enumerate() {
            let score = (v[0].clamp(0.0, 1.0) * v[1].clamp(0.0, 1.0)).sqrt();
            if !(score >= min_score) {
                continue;
            }
            let (r, c) = ((idx / cols) as f32, (idx % cols) as f32);
            let (cx, cy) = ((c + v[2]) * s, (r + v[3]) * s);
            let (w, h) = (v[4].exp() * s, v[5].exp() * s);
            let mut keypoints = [[0f32; 2]; NUM_KEYPOINTS];
            for (n, k) in keypoints.iter_mut().enumerate() {
                *k = [(v[6 + 2 * n] + c) * s, (v[7 + 2 * n] + r) * s];
            }
            out.push(YuFace { bbox: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0], score, keypoints });
        }
    }
    out
}

/// Drops every face lying for at least `frac` of its own area inside a
/// stronger face (input sorted by score, descending, as [`nms`] returns it).
pub fn suppress_nested(faces: Vec<YuFace>, frac: f32) -> Vec<YuFace> {
    let mut kept: Vec<YuFace> = Vec::new();
    for f in faces {
        let area = boxes::area(&f.bbox);
        let inside = |k: &YuFace| {
            let (iw, ih) = boxes::overlap(&f.bbox, &k.bbox);
            iw > 0.0 && ih > 0.0 && iw * ih >= frac * area
        };
        if !kept.iter().any(|k| k.score >= f.score && inside(k)) {
            kept.push(f);
        }
    }
    kept
}

/// One picture ready for the network.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// `[3, pad_h, pad_w]` BGR 0-255.
    pub data: Vec<f32>,
    pub pad_w: usize,
    pub pad_h: usize,
    /// Picture pixels per network pixel, per axis (1 unless downscaled).
    pub scale: [f32; 2],
    /// Size of the original picture.
    pub width: u32,
    pub height: u32,
}

/// YuNet-n with its pre- and post-processing and thresholds.
pub struct YuNetDetector {
    net: YuNet,
    device: Device,
    /// Faces scoring below this are dropped (default 0.5).
    pub min_score: f32,
    /// IoU above which the weaker box is dropped (default 0.3).
    pub nms_iou: f32,
    /// A box this much inside a stronger one is dropped (default 0.8; above 1 = off).
    pub nested_frac: f32,
    /// Longer pictures are downscaled to this long side first (default 640).
    pub max_side: u32,
}

impl YuNetDetector {
    /// Loads `yunet_n.safetensors` (as written by `models/convert_yunet.py`).
    pub fn from_bytes(bytes: &[u8], device: &Device) -> anyhow::Result<Self> {
        let vb = VarBuilder::from_slice_safetensors(bytes, DType::F32, device).context("reading YuNet safetensors")?;
        let net = YuNet::load(vb).context("loading YuNet-n weights")?;
        Ok(YuNetDetector {
            net,
            device: device.clone(),
            min_score: DEFAULT_MIN_SCORE,
            nms_iou: DEFAULT_NMS_IOU,
            nested_frac: DEFAULT_NESTED_FRAC,
            max_side: DEFAULT_MAX_SIDE,
        })
    }

    pub fn network(&self) -> &YuNet {
        &self.net
    }

    /// Downscale (when needed) and pad one picture (see the module docs).
    pub fn prepare(&self, image: &RgbImage) -> anyhow::Result<Prepared> {
        let (w, h) = image.dimensions();
        ensure!(w > 0 && h > 0, "empty picture");
        let long = w.max(h);
        let resized;
        let img = if long > self.max_side {
            let f = self.max_side as f64 / long as f64;
            let (nw, nh) = (((w as f64 * f).round() as u32).max(1), ((h as f64 * f).round() as u32).max(1));
            resized = image::imageops::resize(image, nw, nh, image::imageops::FilterType::Triangle);
            &resized
        } else {
            image
        };
        let (nw, nh) = (img.width() as usize, img.height() as usize);
        let (pad_w, pad_h) = (nw.div_ceil(DIVISOR) * DIVISOR, nh.div_ceil(DIVISOR) * DIVISOR);
        let plane = pad_w * pad_h;
        let mut data = vec![0f32; 3 * plane];
        let (b, gr) = data.split_at_mut(plane);
        let (g, r) = gr.split_at_mut(plane);
        for (y, row) in img.as_raw().chunks_exact(nw * 3).enumerate() {
            let o = y * pad_w..y * pad_w + nw;
            let planes = b[o.clone()].iter_mut().zip(&mut g[o.clone()]).zip(&mut r[o]);
            for (px, ((b, g), r)) in row.chunks_exact(3).zip(planes) {
                (*b, *g, *r) = (px[2] as f32, px[1] as f32, px[0] as f32);
            }
        }
        Ok(Prepared { data, pad_w, pad_h, scale: [w as f32 / nw as f32, h as f32 / nh as f32], width: w, height: h })
    }

    /// Network output for prepared pictures of one padded size, one `Vec` of
    /// `N * 16` values per picture.
    pub fn raw_batch(&self, items: &[&Prepared]) -> anyhow::Result<Vec<Vec<f32>>> {
        let Some(first) = items.first() else { return Ok(Vec::new()) };
        let (pw, ph) = (first.pad_w, first.pad_h);
        ensure!(items.iter().all(|p| (p.pad_w, p.pad_h) == (pw, ph)), "one batch needs one padded size");
        let mut data = Vec::with_capacity(items.len() * 3 * pw * ph);
        for p in items {
            data.extend_from_slice(&p.data);
        }
        let x = Tensor::from_vec(data, (items.len(), 3, ph, pw), &self.device)?;
        let all: Vec<f32> = self.net.forward(&x)?.flatten_all()?.to_vec1()?;
        Ok(all.chunks_exact(all.len() / items.len()).map(<[f32]>::to_vec).collect())
    }

    /// Decoded, suppressed faces in the picture's pixels.
    pub fn postprocess(&self, raw: &[f32], p: &Prepared) -> Vec<YuFace> {
        let (w, h) = (p.width as f32, p.height as f32);
        let [sx, sy] = p.scale;
        suppress_nested(nms(decode(raw, p.pad_w, p.pad_h, self.min_score), self.nms_iou), self.nested_frac)
            .into_iter()
            .map(|f| {
                let b = f.bbox;
                YuFace {
                    bbox: [(b[0] * sx).clamp(0.0, w), (b[1] * sy).clamp(0.0, h), (b[2] * sx).clamp(0.0, w), (b[3] * sy).clamp(0.0, h)],
                    score: f.score,
                    keypoints: f.keypoints.map(|[x, y]| [(x * sx).clamp(0.0, w), (y * sy).clamp(0.0, h)]),
                }
            })
            .collect()
    }

    /// Detects faces in every picture. Pictures of the same padded size (all
    /// frames of a video) go through the network as one batch.
    pub fn detect_batch(&self, images: &[&RgbImage]) -> anyhow::Result<Vec<Vec<YuFace>>> {
        let prepared = images.iter().map(|im| self.prepare(im)).collect::<anyhow::Result<Vec<_>>>()?;
        let mut out = vec![Vec::new(); images.len()];
        let mut done = vec![false; images.len()];
        for i in 0..prepared.len() {
            if done[i] {
                continue;
            }
            let size = (prepared[i].pad_w, prepared[i].pad_h);
            let group: Vec<usize> = (i..prepared.len()).filter(|&j| !done[j] && (prepared[j].pad_w, prepared[j].pad_h) == size).collect();
            let items: Vec<&Prepared> = group.iter().map(|&j| &prepared[j]).collect();
            for (&j, raw) in group.iter().zip(self.raw_batch(&items)?) {
                out[j] = self.postprocess(&raw, &prepared[j]);
                done[j] = true;
            }
        }
        Ok(out)
    }

    /// One picture.
    pub fn detect(&self, image: &RgbImage) -> anyhow::Result<Vec<YuFace>> {
        Ok(self.detect_batch(&[image])?.pop().unwrap_or_default())
    }
}
