//! MediaPipe palm detector (`palm_detection_lite.tflite`): where the hands are.
//!
//! Input: `[B, 3, 192, 192]` f32, NCHW, RGB in `[0, 1]`, the picture
//! letterboxed ([`super::letterbox`]). Output: `(regressors [B, 2016, 18],
//! logits [B, 2016])`, one row per SSD anchor ([`anchors`]): the palm box's
//! centre offset and size and seven keypoints (wrist first, then the finger
//! bases and the thumb), in input pixels; the score is `sigmoid(logit)`.
//!
//! Architecture (read from the tflite graph by `models/convert_palm.py`, whose
//! tensor names are the operator order): a 5×5/2 stem and PReLU; BlazeBlocks
//! `PReLU(skip + conv1x1(dw5x5(x)))` from 96×96×32 down to 6×6×256 (stride-2
//! blocks max-pool the skip and zero-pad its channels); a bilinear 2× up-sampling
//! of the 6×6 map through a 1×1 conv and PReLU added to the 12×12 map, two
//! blocks, the 12×12 head (6 anchors a cell); the same again up to the 24×24
//! map and its head (2 anchors a cell). TF Lite pads `SAME`: at stride 2 on an
//! even size one zero row before and two after.

use candle_core::{DType, Module, Result, Tensor, D};
use candle_nn::VarBuilder;

use super::ops::{max_pool_2x2, Pointwise};
use super::tflite_ops::PRelu;

/// Side of the square input.
pub const INPUT_SIZE: usize = 192;
/// Anchors: 24×24 cells × 2, then 12×12 cells × 6.
pub const NUM_ANCHORS: usize = 2016;
/// Keypoints a palm has in the output (wrist, finger bases, thumb).
pub const NUM_KEYPOINTS: usize = 7;

/// TF Lite `SAME` padding of a 5×5 window along an axis: (before, after, output length).
fn same_5(size: usize, stride: usize) -> (usize, usize, usize) {
    let out = size.div_ceil(stride);
    let total = ((out - 1) * stride + 5).saturating_sub(size);
    (total / 2, total - total / 2, out)
}

/// 5×5 depthwise convolution with bias, `SAME` padding, stride 1 or 2.
#[derive(Debug, Clone)]
pub(super) struct Depthwise5 {
    weight: Vec<f32>, // [C * 25]
    bias: Vec<f32>,   // [C]
    stride: usize,
    generic: (Tensor, Tensor), // [C, 1, 5, 5], [1, C, 1, 1]: the device-independent path
}

impl Depthwise5 {
    pub(super) fn load(vb: VarBuilder, c: usize, stride: usize) -> Result<Self> {
        let w = vb.get((c, 1, 5, 5), "weight")?;
        let b = vb.get(c, "bias")?;
        Ok(Self {
            weight: w.flatten_all()?.to_vec1()?,
            bias: b.to_vec1()?,
            stride,
            generic: (w, b.reshape((1, c, 1, 1))?),
        })
    }
}

impl Module for Depthwise5 {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.device().is_cpu() && x.dtype() == DType::F32 {
            return x.contiguous()?.apply_op1_no_bwd(self);
        }
        let (_, c, h, w) = x.dims4()?;
        let (t, b, _) = same_5(h, self.stride);
        let (l, r, _) = same_5(w, self.stride);
        let xp = x.pad_with_zeros(2, t, b)?.pad_with_zeros(3, l, r)?;
        xp.conv2d(&self.generic.0, 0, self.stride, 1, c)?.broadcast_add(&self.generic.1)
    }
}

impl candle_core::CustomOp1 for Depthwise5 {
    fn name(&self) -> &'static str {
        "depthwise5x5"
    }

    fn cpu_fwd(&self, storage: &candle_core::CpuStorage, layout: &candle_core::Layout) -> Result<(candle_core::CpuStorage, candle_core::Shape)> {
        let (b, c, h, w) = layout.shape().dims4()?;
        if c * 25 != self.weight.len() {
            candle_core::bail!("depthwise5x5: {c} channels, {} weights", self.weight.len());
        }
        let Some((start, end)) = layout.contiguous_offsets() else { candle_core::bail!("depthwise5x5: input must be contiguous") };
        let input = &storage.as_slice::<f32>()?[start..end];
        let s = self.stride;
        let (top, _, ho) = same_5(h, s);
        let (left, _, wo) = same_5(w, s);
        let pw = (wo - 1) * s + 5;
        let mut padded = vec![0f32; ((ho - 1) * s + 5) * pw];
        let mut out = vec![0f32; b * c * ho * wo];
        for (plane, dst) in out.chunks_exact_mut(ho * wo).enumerate() {
            let ch = plane % c;
            let src = &input[plane * h * w..(plane + 1) * h * w];
            let k: &[f32; 25] = self.weight[ch * 25..ch * 25 + 25].try_into().expect("25 taps");
            depthwise5_plane(src, k, self.bias[ch], (w, top, left, s, wo), &mut padded, dst);
        }
        Ok((candle_core::CpuStorage::F32(out), candle_core::Shape::from((b, c, ho, wo))))
    }
}

super::simd::wide_fn! {
    /// One plane of [`Depthwise5`]: `src` (width `g.0`) copied into the zero
    /// `padded` plane at (`g.1`, `g.2`), then 25 taps at stride `g.3` into
    /// `dst` (width `g.4`), the bias first.
    fn depthwise5_plane(src: &[f32], k: &[f32; 25], bias: f32, g: (usize, usize, usize, usize, usize), padded: &mut [f32], dst: &mut [f32]) {
        let (w, top, left, s, wo) = g;
        let pw = padded.len() / ((dst.len() / wo - 1) * s + 5);
        let ph = padded.len() / pw;
        for (iy, line) in src.chunks_exact(w).enumerate().take(ph.saturating_sub(top)) {
            let n = line.len().min(pw - left);
            padded[(iy + top) * pw + left..(iy + top) * pw + left + n].copy_from_slice(&line[..n]);
        }
        for (oy, row) in dst.chunks_exact_mut(wo).enumerate() {
            row.fill(bias);
            // one pass over the output row per kernel row: its five taps at once
            for ky in 0..5 {
                let line = &padded[(oy * s + ky) * pw..(oy * s + ky + 1) * pw];
                let kr: &[f32; 5] = k[ky * 5..ky * 5 + 5].try_into().expect("five taps");
                if s == 1 {
                    let t = [&line[..wo], &line[1..wo + 1], &line[2..wo + 2], &line[3..wo + 3], &line[4..wo + 4]];
                    for (x, o) in row.iter_mut().enumerate() {
                        *o += kr[0] * t[0][x] + kr[1] * t[1][x] + kr[2] * t[2][x] + kr[3] * t[3][x] + kr[4] * t[4][x];
                    }
                } else {
                    for (x, o) in row.iter_mut().enumerate() {
                        let q = x * s;
                        *o += kr[0] * line[q] + kr[1] * line[q + 1] + kr[2] * line[q + 2] + kr[3] * line[q + 3] + kr[4] * line[q + 4];
                    }
                }
            }
        }
    }
}

/// `PReLU(skip + conv1x1(dw5x5(x)))`; at stride 2 the skip is max-pooled (and
/// its missing channels count as zero, [`PRelu::forward_skip`]).
#[derive(Debug, Clone)]
struct Block {
    dw: Depthwise5,
    pw: Pointwise,
    act: PRelu,
    stride: usize,
}

impl Block {
    fn load(vb: &VarBuilder, (dw, pw, act): (usize, usize, usize), c_in: usize, c_out: usize, stride: usize) -> Result<Self> {
        let pw_layer = Pointwise::load(vb.pp(format!("conv{pw}")), c_in, c_out, false)?;
        Ok(Self {
            dw: Depthwise5::load(vb.pp(format!("dw{dw}")), c_in, stride)?,
            act: PRelu::load_with_bias(vb.pp(format!("prelu{act}")), c_out, &pw_layer.bias()?)?,
            pw: pw_layer,
            stride,
        })
    }
}

impl Module for Block {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.pw.forward_unbiased(&self.dw.forward(x)?)?;
        let skip = if self.stride == 2 { max_pool_2x2(x)? } else { x.clone() };
        self.act.forward_skip(&h, &skip)
    }
}

/// TF Lite `RESIZE_BILINEAR` by 2 (no corner alignment, half-pixel centres):
/// each output pixel is 3/4 of its source pixel and 1/4 of the neighbour on
/// its side, edges repeated.
fn upsample2x(x: &Tensor) -> Result<Tensor> {
    let along = |x: &Tensor, dim: usize| -> Result<Tensor> {
        let n = x.dim(dim)?;
        let prev = Tensor::cat(&[x.narrow(dim, 0, 1)?, x.narrow(dim, 0, n - 1)?], dim)?;
        let next = Tensor::cat(&[x.narrow(dim, 1, n - 1)?, x.narrow(dim, n - 1, 1)?], dim)?;
        let even = ((x * 0.75)? + (prev * 0.25)?)?;
        let odd = ((x * 0.75)? + (next * 0.25)?)?;
        let mut shape = x.dims().to_vec();
        shape[dim] *= 2;
        Tensor::stack(&[even, odd], dim + 1)?.reshape(shape)
    };
    along(&along(x, 3)?, 2)
}

/// Up-sample by 2, 1×1 conv, PReLU, plus the finer map: the two FPN steps.
#[derive(Debug, Clone)]
struct Up {
    pw: Pointwise,
    act: PRelu,
}

impl Up {
    fn load(vb: &VarBuilder, conv: usize, prelu: usize, c_in: usize, c_out: usize) -> Result<Self> {
        let pw = Pointwise::load(vb.pp(format!("conv{conv}")), c_in, c_out, false)?;
        Ok(Self { act: PRelu::load_with_bias(vb.pp(format!("prelu{prelu}")), c_out, &pw.bias()?)?, pw })
    }

    fn forward(&self, coarse: &Tensor, fine: &Tensor) -> Result<Tensor> {
        let up = self.act.forward(&self.pw.forward_unbiased(&upsample2x(coarse)?)?)?;
        fine + up
    }
}

/// One level's SSD head: score logits and 18 regressors per anchor, anchors
/// ordered row, column, then anchor in the cell (TF Lite's NHWC reshape).
#[derive(Debug, Clone)]
struct Head {
    cls: Pointwise,
    reg: Pointwise,
}

impl Head {
    fn load(vb: &VarBuilder, cls: usize, reg: usize, c: usize, per_cell: usize) -> Result<Self> {
        Ok(Self {
            cls: Pointwise::load(vb.pp(format!("conv{cls}")), c, per_cell, false)?,
            reg: Pointwise::load(vb.pp(format!("conv{reg}")), c, per_cell * 18, false)?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let b = x.dim(0)?;
        let nhwc = |t: Tensor| t.permute((0, 2, 3, 1))?.contiguous();
        let logits = nhwc(self.cls.forward(x)?)?.reshape((b, ()))?;
        let reg = nhwc(self.reg.forward(x)?)?.reshape((b, (), 18))?;
        Ok((reg, logits))
    }
}

/// The palm detection network.
#[derive(Debug, Clone)]
pub struct PalmNet {
    stem: (Tensor, Tensor), // [32, 3, 5, 5], [1, 32, 1, 1]
    stem_act: PRelu,
    to24: Vec<Block>,
    to12: Vec<Block>,
    to6: Vec<Block>,
    up12: Up,
    after12: Vec<Block>,
    head12: Head,
    up24: Up,
    after24: Vec<Block>,
    head24: Head,
}

impl PalmNet {
    /// Loads from a `VarBuilder` over the converted `palm_detection.safetensors`.
    pub fn load(vb: VarBuilder) -> Result<Self> {
        let vb = vb.set_dtype(DType::F32);
        // trunk block k: dw{k}, conv{k+1}, prelu{k+1}; (in, out, stride)
        let trunk = |ks: std::ops::Range<usize>, cfg: &dyn Fn(usize) -> (usize, usize, usize)| {
            ks.map(|k| {
                let (i, o, s) = cfg(k);
                Block::load(&vb, (k, k + 1, k + 1), i, o, s)
            })
            .collect::<Result<Vec<_>>>()
        };
        let to24 = trunk(0..11, &|k| match k {
            0..=2 => (32, 32, 1),
            3 => (32, 64, 2),
            4..=6 => (64, 64, 1),
            7 => (64, 128, 2),
            _ => (128, 128, 1),
        })?;
        let to12 = trunk(11..15, &|k| if k == 11 { (128, 256, 2) } else { (256, 256, 1) })?;
        let to6 = trunk(15..19, &|k| (256, 256, if k == 15 { 2 } else { 1 }))?;
        let stem_b = vb.pp("conv0").get(32, "bias")?;
        Ok(Self {
            stem: (vb.pp("conv0").get((32, 3, 5, 5), "weight")?, stem_b.reshape((1, 32, 1, 1))?),
            stem_act: PRelu::load(vb.pp("prelu0"), 32)?,
            to24,
            to12,
            to6,
            up12: Up::load(&vb, 20, 20, 256, 256)?,
            after12: vec![Block::load(&vb, (19, 21, 21), 256, 256, 1)?, Block::load(&vb, (20, 22, 22), 256, 256, 1)?],
            head12: Head::load(&vb, 23, 24, 256, 6)?,
            up24: Up::load(&vb, 25, 23, 256, 128)?,
            after24: vec![Block::load(&vb, (21, 26, 24), 128, 128, 1)?, Block::load(&vb, (22, 27, 25), 128, 128, 1)?],
            head24: Head::load(&vb, 28, 29, 128, 2)?,
        })
    }

    /// `x`: `[B, 3, 192, 192]` RGB in `[0, 1]`. Returns `(regressors [B, 2016,
    /// 18], logits [B, 2016])`, the 24×24 level's anchors first.
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let (_, c, h, w) = x.dims4()?;
        if (c, h, w) != (3, INPUT_SIZE, INPUT_SIZE) {
            candle_core::bail!("palm detector expects [B, 3, 192, 192], got {:?}", x.dims());
        }
        let (t, b, _) = same_5(h, 2);
        let xp = x.pad_with_zeros(2, t, b)?.pad_with_zeros(3, t, b)?;
        let stem = xp.conv2d(&self.stem.0, 0, 2, 1, 1)?.broadcast_add(&self.stem.1)?;
        let run = |blocks: &[Block], x: Tensor| blocks.iter().try_fold(x, |x, b| b.forward(&x));
        let f24 = run(&self.to24, self.stem_act.forward(&stem)?)?;
        let f12 = run(&self.to12, f24.clone())?;
        let f6 = run(&self.to6, f12.clone())?;
        let p12 = run(&self.after12, self.up12.forward(&f6, &f12)?)?;
        let p24 = run(&self.after24, self.up24.forward(&p12, &f24)?)?;
        let (r12, s12) = self.head12.forward(&p12)?;
        let (r24, s24) = self.head24.forward(&p24)?;
        Ok((Tensor::cat(&[r24, r12], 1)?, Tensor::cat(&[s24, s12], D::Minus1)?))
    }
}

/// The anchors' centres in input pixels, in output order: MediaPipe's SSD
/// options for the palm detector (strides 8, 16, 16, 16; fixed size; offset
/// 0.5), the three stride-16 layers sharing one 12×12 grid (6 anchors a cell).
pub fn anchors() -> Vec<[f32; 2]> {
    let mut out = Vec::with_capacity(NUM_ANCHORS);
    for (cells, per_cell) in [(24usize, 2usize), (12, 6)] {
        let step = INPUT_SIZE as f32 / cells as f32;
        for y in 0..cells {
            for x in 0..cells {
                let c = [(x as f32 + 0.5) * step, (y as f32 + 0.5) * step];
                out.extend(std::iter::repeat_n(c, per_cell));
            }
        }
    }
    out
}

/// One palm found in a picture: its box (square, pixels of the picture), the
/// detector's score and its seven keypoints (wrist first, the middle finger's
/// base third).
#[derive(Debug, Clone, PartialEq)]
pub struct Palm {
    pub bbox: super::boxes::BBox,
    pub score: f32,
    pub keypoints: [[f32; 2]; NUM_KEYPOINTS],
}

impl super::boxes::Scored for Palm {
    fn score(&self) -> f32 {
        self.score
    }
    fn bbox(&self) -> &super::boxes::BBox {
        &self.bbox
    }
}

impl Palm {
    /// The unit vector from the wrist towards the fingers (up the picture when
    /// the keypoints coincide).
    pub fn towards_fingers(&self) -> [f32; 2] {
        let [w, m] = [self.keypoints[0], self.keypoints[2]];
        let (dx, dy) = (m[0] - w[0], m[1] - w[1]);
        let n = (dx * dx + dy * dy).sqrt();
        if n > 1e-3 {
            [dx / n, dy / n]
        } else {
            [0.0, -1.0]
        }
    }
}

/// The palm detector with MediaPipe's pre- and post-processing: the picture
/// letterboxed (centred, black) to 192×192 in `[0, 1]`, scores through a
/// sigmoid, boxes and keypoints decoded from the anchors, and overlapping
/// palms (IoU above 0.3) merged by MediaPipe's weighted suppression (the
/// best palm's score, the score-weighted mean of the cluster's boxes and
/// keypoints).
pub struct PalmDetector {
    net: PalmNet,
    anchors: Vec<[f32; 2]>,
    device: candle_core::Device,
    /// Palms under this score are not reported (MediaPipe: 0.5).
    pub min_score: f32,
}

impl PalmDetector {
    pub fn from_bytes(bytes: &[u8], device: &candle_core::Device) -> anyhow::Result<Self> {
        use anyhow::Context;
        let vb = VarBuilder::from_buffered_safetensors(bytes.to_vec(), DType::F32, device).context("loading palm detector weights")?;
        Ok(Self { net: PalmNet::load(vb)?, anchors: anchors(), device: device.clone(), min_score: 0.5 })
    }

    /// The palms in each picture, best first.
    pub fn detect_batch(&self, images: &[&image::RgbImage]) -> anyhow::Result<Vec<Vec<Palm>>> {
        use super::letterbox::{letterbox_with, Placement};
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let n = INPUT_SIZE * INPUT_SIZE;
        let mut planes = vec![0f32; images.len() * 3 * n];
        let mut boxes = Vec::with_capacity(images.len());
        for (img, dst) in images.iter().zip(planes.chunks_exact_mut(3 * n)) {
            anyhow::ensure!(img.width() > 0 && img.height() > 0, "empty image");
            let (canvas, lb) = letterbox_with(img, INPUT_SIZE as u32, Placement::Centre, 0);
            for (i, px) in canvas.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    dst[c * n + i] = px[c] as f32 / 255.0;
                }
            }
            boxes.push(lb);
        }
        let x = Tensor::from_vec(planes, (images.len(), 3, INPUT_SIZE, INPUT_SIZE), &self.device)?;
        let (reg, logits) = self.net.forward(&x)?;
        let reg: Vec<Vec<Vec<f32>>> = reg.to_vec3()?;
        let logits: Vec<Vec<f32>> = logits.to_vec2()?;
        Ok(reg.iter().zip(&logits).zip(&boxes).map(|((r, l), lb)| self.decode(r, l, lb)).collect())
    }

    fn decode(&self, reg: &[Vec<f32>], logits: &[f32], lb: &super::letterbox::Letterbox) -> Vec<Palm> {
        let back = |p: [f32; 2]| [(p[0] - lb.pad_x) / lb.scale_x, (p[1] - lb.pad_y) / lb.scale_y];
        let found: Vec<Palm> = reg
            .iter()
            .zip(logits)
            .zip(&self.anchors)
            .filter_map(|((r, &l), a)| {
                let score = 1.0 / (1.0 + (-l.clamp(-100.0, 100.0)).exp());
                if score < self.min_score {
                    return None;
                }
                let (cx, cy, w, h) = (r[0] + a[0], r[1] + a[1], r[2], r[3]);
                let bbox = lb.to_original([cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]);
                let keypoints = std::array::from_fn(|k| back([r[4 + 2 * k] + a[0], r[5 + 2 * k] + a[1]]));
                Some(Palm { bbox, score, keypoints })
            })
            .collect();
        weighted_nms(found, 0.3)
    }
}

/// MediaPipe's weighted non-maximum suppression: the best remaining palm and
/// every palm overlapping it by more than `iou` form one, with the best score
/// and the score-weighted mean box and keypoints.
fn weighted_nms(mut palms: Vec<Palm>, iou: f32) -> Vec<Palm> {
    palms.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::new();
    while let Some(best) = palms.first().cloned() {
        let (cluster, rest): (Vec<Palm>, Vec<Palm>) =
            palms.into_iter().partition(|p| super::boxes::iou(&p.bbox, &best.bbox) > iou || *p == best);
        palms = rest;
        let total: f32 = cluster.iter().map(|p| p.score).sum();
        let mean = |f: &dyn Fn(&Palm) -> f32| cluster.iter().map(|p| f(p) * p.score).sum::<f32>() / total;
        out.push(Palm {
            bbox: std::array::from_fn(|i| mean(&|p| p.bbox[i])),
            score: best.score,
            keypoints: std::array::from_fn(|k| [mean(&|p| p.keypoints[k][0]), mean(&|p| p.keypoints[k][1])]),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn the_5x5_depthwise_kernel_is_candles_grouped_convolution() {
        for (c, h, w, stride) in [(3, 9, 7, 1), (4, 8, 8, 2), (2, 7, 10, 2), (1, 5, 5, 1)] {
            let wt = Tensor::randn(0f32, 1.0, (c, 1, 5, 5), &Device::Cpu).unwrap();
            let b = Tensor::randn(0f32, 1.0, c, &Device::Cpu).unwrap();
            let dw = Depthwise5 {
                weight: wt.flatten_all().unwrap().to_vec1().unwrap(),
                bias: b.to_vec1().unwrap(),
                stride,
                generic: (wt.clone(), b.reshape((1, c, 1, 1)).unwrap()),
            };
            let x = Tensor::randn(0f32, 1.0, (2, c, h, w), &Device::Cpu).unwrap();
            let fast = dw.forward(&x).unwrap();
            let (t, bo, ho) = same_5(h, stride);
            let (l, r, wo) = same_5(w, stride);
            let xp = x.pad_with_zeros(2, t, bo).unwrap().pad_with_zeros(3, l, r).unwrap();
            let slow = xp.conv2d(&wt, 0, stride, 1, c).unwrap().broadcast_add(&dw.generic.1).unwrap();
            assert_eq!(fast.dims(), &[2, c, ho, wo]);
            let d: f32 = (fast - slow).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap();
            assert!(d < 1e-4, "{c}x{h}x{w} stride {stride}: {d}");
        }
    }

    #[test]
    fn same_padding_puts_the_extra_row_after_at_stride_two() {
        assert_eq!(same_5(192, 2), (1, 2, 96));
        assert_eq!(same_5(96, 1), (2, 2, 96));
        assert_eq!(same_5(7, 2), (2, 2, 4));
    }

    #[test]
    fn bilinear_upsampling_takes_three_quarters_of_the_near_pixel() {
        let x = Tensor::new(&[[[[0f32, 4.0], [8.0, 12.0]]]], &Device::Cpu).unwrap();
        let y: Vec<Vec<f32>> = upsample2x(&x).unwrap().squeeze(0).unwrap().squeeze(0).unwrap().to_vec2().unwrap();
        assert_eq!(y[0], vec![0.0, 1.0, 3.0, 4.0]);
        assert_eq!(y[1], vec![2.0, 3.0, 5.0, 6.0]);
        assert_eq!(y[3], vec![8.0, 9.0, 11.0, 12.0]);
    }

    #[test]
    fn overlapping_palms_merge_into_their_weighted_mean() {
        let palm = |x: f32, score: f32| Palm { bbox: [x, 0.0, x + 10.0, 10.0], score, keypoints: [[x, 0.0]; NUM_KEYPOINTS] };
        let merged = weighted_nms(vec![palm(0.0, 0.6), palm(2.0, 0.9), palm(50.0, 0.7)], 0.3);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].score, 0.9);
        assert!((merged[0].bbox[0] - 1.2).abs() < 1e-5, "{:?}", merged[0].bbox);
        assert_eq!(merged[1].bbox[0], 50.0);
        assert_eq!(anchors().len(), NUM_ANCHORS);
    }

    #[test]
    fn a_palm_points_from_the_wrist_to_the_fingers() {
        let mut p = Palm { bbox: [0.0; 4], score: 1.0, keypoints: [[0.0, 0.0]; NUM_KEYPOINTS] };
        p.keypoints[0] = [10.0, 20.0];
        p.keypoints[2] = [13.0, 16.0];
        assert_eq!(p.towards_fingers(), [0.6, -0.8]);
        p.keypoints[2] = p.keypoints[0];
        assert_eq!(p.towards_fingers(), [0.0, -1.0]);
    }
}
