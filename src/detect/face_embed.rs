//! Face identity embeddings with dlib's ResNet face descriptor
//! (`dlib_face_recognition_resnet_model_v1`, Davis King, CC0), ported to candle, plus the
//! face alignment that feeds it.
//!
//! **Network** (dlib's `anet_type`, weights converted by `models/convert_dlib.py`, which
//! parses dlib's own serialization and folds each `affine` layer into the convolution
//! before it):
//!
//! - input `[B, 3, 150, 150]` RGB: `(u8 - mean) / 256` with dlib's
//!   `input_rgb_image_sized` means R 122.782, G 117.001, B 104.298 (read from the file);
//! - stem: conv 7x7 stride 2, no padding (150 → 72), ReLU, max pool 3x3 stride 2 (→ 35);
//! - 14 residual blocks (filters 32 x3, 64 x4, 128 x3, 256 x4); each is
//!   `relu(skip + conv3x3(relu(conv3x3(x))))`. In the four downsampling blocks the first
//!   convolution has stride 2 and no padding and the skip is a 2x2 stride-2 average pool
//!   of `x`, otherwise stride 1, padding 1 and the skip is `x`. dlib adds tensors of
//!   different shapes by zero-padding both to the larger one (at the end of each
//!   dimension): this covers the channel growth (the pooled skip has fewer channels) and
//!   the one place where the spatial sizes differ (8x8 input: conv branch 3x3, pooled
//!   skip 4x4; sizes go 35 → 17 → 8 → 4 → 2);
//! - global average pool (256), then a 128x256 fully connected layer without bias.
//!
//! The output is **not** normalised (dlib's vectors have length ≈ 1 anyway). Two faces are
//! the same person when the Euclidean distance is below [`SAME_PERSON_THRESHOLD`] (0.6,
//! dlib's `loss_metric` distance threshold, stored in the model file).
//!
//! **Alignment** ([`align_chip`]). dlib's own pipeline maps its 5-point shape predictor's
//! landmarks (both corners of each eye, base of the nose) onto a fixed template with
//! `get_face_chip_details(shape, 150, 0.25)`. proctor has different five points (eye
//! centres, nose tip, mouth corners, see [`FivePoints`]), so [`TEMPLATE`] places those
//! points where dlib's template face has them: dlib's mean 68-point face shape (the one
//! `get_face_chip_details` uses for 68-point input, normalised so the face spans [0, 1])
//! gives eye centre = mean of the six eye-contour points (36-41, 42-47), nose tip = point
//! 30, mouth corners = points 48 and 54; a normalised point `p` lands at chip pixel
//! `(0.25 + p) / 1.5 * 150 = 25 + 100 p`, as in dlib. On that mean shape dlib's own 5-point
//! template agrees (eye-corner midpoints within 0.6 chip px of these eye centres).
//! A similarity transform `T` (rotation, uniform scale `s`, translation) is fitted by least
//! squares (Umeyama) from the template to the image points. Sampling then follows dlib's
//! `chip_details`/`extract_image_chip`: the chip covers the square of side `150 s` centred
//! on `T(75, 75)`, with chip pixel centres 0 and 149 on its edges, so chip pixel `(c, r)`
//! samples the image at `T(75, 75) + R (150 s - 1) / 149 ((c, r) - 74.5)` (`R` = the
//! rotation), bilinearly (coordinates clamped to the picture), truncated to u8. With dlib's
//! landmarks and dlib's template this reproduces dlib's chip of `fixtures/face.jpg` to
//! within the JPEG decoders' differences (mean 0.2 levels). When the face is more than
//! twice the chip's size (`s > 2`) dlib samples from a level of a 2x image pyramid (`L`
//! halvings, `L = ceil(log2 s) - 1`); here each chip pixel instead averages an `n x n`
//! grid of bilinear samples, `n = 2^L`, so only such chips differ from dlib's a little.
//!
//! Checked against dlib 20 (the `dlib-bin` wheel): the network on dlib's own chips in
//! `fixtures/reference/dlib_resnet.safetensors` (tests/model_face_embed.rs).

use anyhow::{ensure, Context, Result};
use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{conv2d, linear_no_bias, Conv2d, Conv2dConfig, Linear, VarBuilder};

use super::ops::{Conv3x3, Padding};
use image::{Rgb, RgbImage};

/// Side of the aligned face chip the network takes, in pixels.
pub const CHIP_SIZE: usize = 150;
/// dlib's padding around the template face (a quarter of the face size on each side).
pub const CHIP_PADDING: f32 = 0.25;
/// Length of an embedding.
pub const EMBEDDING_DIM: usize = 128;
/// dlib's decision threshold: Euclidean distance below this = same person.
pub const SAME_PERSON_THRESHOLD: f32 = 0.6;

/// One face embedding.
pub type Embedding = [f32; EMBEDDING_DIM];

/// Five facial points in image pixels, in this order: the subject's right eye centre,
/// left eye centre, nose tip, right mouth corner, left mouth corner (YuNet's order; for a
/// frontal face the subject's right eye is on the image's left).
pub type FivePoints = [[f32; 2]; 5];

/// Where [`FivePoints`] go in the 150x150 chip (see the module doc for their derivation
/// from dlib's mean face shape, padding 0.25).
pub const TEMPLATE: FivePoints = [
    [47.549, 46.599],  // right eye centre
    [100.476, 46.599], // left eye centre
    [74.013, 76.563],  // nose tip
    [50.415, 103.023], // right mouth corner
    [97.610, 103.023], // left mouth corner
];

/// Face-mesh (mediapipe, 468 points) indices of the subject's right and left eye contours,
/// nose tip and mouth corners, for [`five_points_from_mesh`].
const MESH_RIGHT_EYE: [usize; 16] = [33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173];
const MESH_LEFT_EYE: [usize; 16] = [263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398];
const MESH_NOSE_TIP: usize = 1;
const MESH_RIGHT_MOUTH: usize = 61;
const MESH_LEFT_MOUTH: usize = 291;

/// The five points from a 468-point face mesh (pixels): eye centres as the mean of the 16
/// eye-contour points, nose tip (1), mouth corners (61, 291).
pub fn five_points_from_mesh(mesh: &[[f32; 3]]) -> Result<FivePoints> {
    ensure!(mesh.len() >= 468, "face mesh has {} points, expected 468", mesh.len());
    let mean = |idx: &[usize]| {
        let n = idx.len() as f32;
        let s = idx.iter().fold([0f32; 2], |a, &i| [a[0] + mesh[i][0], a[1] + mesh[i][1]]);
        [s[0] / n, s[1] / n]
    };
    let p = |i: usize| [mesh[i][0], mesh[i][1]];
    Ok([mean(&MESH_RIGHT_EYE), mean(&MESH_LEFT_EYE), p(MESH_NOSE_TIP), p(MESH_RIGHT_MOUTH), p(MESH_LEFT_MOUTH)])
}

/// A similarity transform `x' = a x - b y + tx`, `y' = b x + a y + ty`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f64,
    pub b: f64,
    pub tx: f64,
    pub ty: f64,
}

impl Similarity {
    /// Least-squares similarity mapping `from[i]` onto `to[i]` (Umeyama 1991, no
    /// reflection). Needs at least two distinct points.
    pub fn fit(from: &[[f32; 2]], to: &[[f32; 2]]) -> Result<Self> {
        ensure!(from.len() == to.len() && from.len() >= 2, "need matching point lists of length >= 2");
        let n = from.len() as f64;
        let mean = |p: &[[f32; 2]]| {
            let s = p.iter().fold([0f64; 2], |a, q| [a[0] + q[0] as f64, a[1] + q[1] as f64]);
            [s[0] / n, s[1] / n]
        };
        let (mf, mt) = (mean(from), mean(to));
        // With complex numbers z = x + iy the best similarity is t = s z: s = Σ conj(f) t / Σ |f|².
        let (mut re, mut im, mut var) = (0f64, 0f64, 0f64);
        for (f, t) in from.iter().zip(to) {
            let (fx, fy) = (f[0] as f64 - mf[0], f[1] as f64 - mf[1]);
            let (tx, ty) = (t[0] as f64 - mt[0], t[1] as f64 - mt[1]);
            re += fx * tx + fy * ty;
            im += fx * ty - fy * tx;
            var += fx * fx + fy * fy;
        }
        ensure!(var > 1e-9, "points coincide");
        let (a, b) = (re / var, im / var);
        Ok(Similarity { a, b, tx: mt[0] - (a * mf[0] - b * mf[1]), ty: mt[1] - (b * mf[0] + a * mf[1]) })
    }

    pub fn apply(&self, p: [f64; 2]) -> [f64; 2] {
        [self.a * p[0] - self.b * p[1] + self.tx, self.b * p[0] + self.a * p[1] + self.ty]
    }

    /// The uniform scale factor.
    pub fn scale(&self) -> f64 {
        self.a.hypot(self.b)
    }
}

/// Bilinear sample of `img` at `(x, y)` (pixel centres at integers), coordinates clamped
/// to the image.
fn bilinear(img: &RgbImage, x: f64, y: f64) -> [f64; 3] {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let x = x.clamp(0.0, (w - 1) as f64);
    let y = y.clamp(0.0, (h - 1) as f64);
    let (x0, y0) = (x.floor() as i64, y.floor() as i64);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    let px = |xx: i64, yy: i64| img.get_pixel(xx as u32, yy as u32).0;
    let (p00, p10, p01, p11) = (px(x0, y0), px(x1, y0), px(x0, y1), px(x1, y1));
    let mut out = [0f64; 3];
    for c in 0..3 {
        let top = p00[c] as f64 * (1.0 - fx) + p10[c] as f64 * fx;
        let bot = p01[c] as f64 * (1.0 - fx) + p11[c] as f64 * fx;
        out[c] = top * (1.0 - fy) + bot * fy;
    }
    out
}

/// Warps `image` so that the points `from_chip` (chip pixels) land on `to_image` (image
/// pixels), the way dlib's `get_face_chip` does (see the module doc).
pub fn align_chip_with(image: &RgbImage, to_image: &[[f32; 2]], from_chip: &[[f32; 2]]) -> Result<RgbImage> {
    ensure!(image.width() > 0 && image.height() > 0, "empty picture");
    let t = Similarity::fit(from_chip, to_image)?;
    let size = CHIP_SIZE as f64;
    // dlib's chip_details: a square of side size * scale centred on t(size/2, size/2) whose
    // corners are the chip's corner pixel centres (0 and size - 1).
    let centre = t.apply([size / 2.0, size / 2.0]);
    let k = ((size * t.scale() - 1.0) / (size - 1.0)).max(0.0) / t.scale();
    let (a, b) = (t.a * k, t.b * k);
    let mid = (size - 1.0) / 2.0;
    let map = |c: f64, r: f64| [centre[0] + a * (c - mid) - b * (r - mid), centre[1] + b * (c - mid) + a * (r - mid)];
    let levels = if t.scale() > 2.0 { t.scale().log2().ceil() as i32 - 1 } else { 0 };
    let n = 1usize << levels.clamp(0, 6);
    let mut chip = RgbImage::new(CHIP_SIZE as u32, CHIP_SIZE as u32);
    for r in 0..CHIP_SIZE {
        for c in 0..CHIP_SIZE {
            let mut acc = [0f64; 3];
            for sy in 0..n {
                for sx in 0..n {
                    // sub-sample offsets centred on the chip pixel: n = 1 gives (c, r) itself
                    let dx = (sx as f64 + 0.5) / n as f64 - 0.5;
                    let dy = (sy as f64 + 0.5) / n as f64 - 0.5;
                    let [x, y] = map(c as f64 + dx, r as f64 + dy);
                    let v = bilinear(image, x, y);
                    for k in 0..3 {
                        acc[k] += v[k];
                    }
                }
            }
            let m = (n * n) as f64;
            // dlib converts the interpolated value to u8 by truncation
            let px = [0, 1, 2].map(|k| (acc[k] / m).clamp(0.0, 255.0) as u8);
            chip.put_pixel(c as u32, r as u32, Rgb(px));
        }
    }
    Ok(chip)
}

/// The 150x150 aligned face chip for `points` (see [`FivePoints`] and [`TEMPLATE`]).
pub fn align_chip(image: &RgbImage, points: &FivePoints) -> Result<RgbImage> {
    align_chip_with(image, points, &TEMPLATE)
}

/// Euclidean distance between two embeddings (dlib's measure; same person below 0.6).
pub fn distance(a: &Embedding, b: &Embedding) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt()
}

/// One residual block: two 3x3 convolutions (affine folded in) and the skip
/// path. The convolutions are the shared im2col + matmul kernel
/// ([`Conv3x3`]; candle's conv2d elsewhere than the CPU).
struct Block {
    conv1: Conv3x3,
    conv2: Conv3x3,
    down: bool,
}

impl Block {
    fn load(vb: VarBuilder, cin: usize, cout: usize, down: bool) -> Result<Self> {
        let conv = |vb: VarBuilder, cin: usize, stride: usize, padding: Padding| -> Result<Conv3x3> {
            let w = vb.get((cout, cin, 3, 3), "weight")?;
            Ok(Conv3x3::new(w, &vb.get(cout, "bias")?, stride, padding)?)
        };
        let (stride, padding) = if down { (2, Padding::Valid) } else { (1, Padding::Symmetric) };
        Ok(Block { conv1: conv(vb.pp("conv1"), cin, stride, padding)?, conv2: conv(vb.pp("conv2"), cout, 1, Padding::Symmetric)?, down })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.conv2.forward(&self.conv1.forward(x)?.relu()?)?;
        let skip = if self.down { x.avg_pool2d_with_stride(2, 2)? } else { x.clone() };
        Ok(add_padded(&y, &skip)?.relu()?)
    }
}

/// dlib's `tt::add` of two tensors of different shapes: both are zero-padded at the end of
/// each dimension to the larger shape, then added.
fn add_padded(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (da, db) = (a.dims().to_vec(), b.dims().to_vec());
    if da == db {
        return Ok((a + b)?);
    }
    let pad = |t: &Tensor, dims: &[usize]| -> Result<Tensor> {
        let mut t = t.clone();
        for (d, (&have, want)) in dims.iter().zip(da.iter().zip(&db).map(|(p, q)| *p.max(q))).enumerate() {
            if have < want {
                t = t.pad_with_zeros(d, 0, want - have)?;
            }
        }
        Ok(t)
    };
    Ok((pad(a, &da)? + pad(b, &db)?)?)
}

/// The network alone: `[B, 3, 150, 150]` normalised input → `[B, 128]`.
pub struct DlibResNet {
    stem: Conv2d,
    blocks: Vec<Block>,
    fc: Linear,
    /// dlib's input means, R G B.
    pub input_mean: [f32; 3],
}

/// (filters, downsampling) of the 14 residual blocks, input to output.
const BLOCKS: [(usize, bool); 14] = [
    (32, false), (32, false), (32, false),
    (64, true), (64, false), (64, false), (64, false),
    (128, true), (128, false), (128, false),
    (256, true), (256, false), (256, false), (256, true),
];

impl DlibResNet {
    /// Loads the tensors of `dlib_resnet.safetensors` (names: `stem`, `blocks.{i}.conv{1,2}`,
    /// `fc`, `input_mean`).
    pub fn load(vb: VarBuilder) -> Result<Self> {
        let stem = conv2d(3, 32, 7, Conv2dConfig { stride: 2, ..Default::default() }, vb.pp("stem"))?;
        let mut blocks = Vec::with_capacity(BLOCKS.len());
        let mut cin = 32;
        for (i, &(n, down)) in BLOCKS.iter().enumerate() {
            blocks.push(Block::load(vb.pp(format!("blocks.{i}")), cin, n, down)?);
            cin = n;
        }
        let fc = linear_no_bias(256, EMBEDDING_DIM, vb.pp("fc"))?;
        let m: Vec<f32> = vb.get(3, "input_mean")?.to_dtype(DType::F32)?.to_vec1()?;
        Ok(DlibResNet { stem, blocks, fc, input_mean: [m[0], m[1], m[2]] })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = self.stem.forward(x)?.relu()?.max_pool2d_with_stride(3, 2)?;
        for b in &self.blocks {
            x = b.forward(&x)?;
        }
        Ok(self.fc.forward(&x.mean(D::Minus1)?.mean(D::Minus1)?)?)
    }
}

/// dlib's face descriptor: aligned 150x150 chips in, 128-d embeddings out.
pub struct FaceEmbedder {
    net: DlibResNet,
    device: Device,
}

impl FaceEmbedder {
    /// Loads `dlib_resnet.safetensors` (as written by `models/convert_dlib.py`) from memory;
    /// runs in f32 on `device`.
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Self> {
        let vb = VarBuilder::from_slice_safetensors(bytes, DType::F32, device).context("reading dlib ResNet safetensors")?;
        let net = DlibResNet::load(vb).context("loading dlib ResNet weights")?;
        Ok(FaceEmbedder { net, device: device.clone() })
    }

    pub fn network(&self) -> &DlibResNet {
        &self.net
    }

    /// The `[B, 3, 150, 150]` input tensor: `(u8 - mean) / 256` per channel, as dlib's
    /// `input_rgb_image_sized<150>`.
    pub fn preprocess(&self, chips: &[&RgbImage]) -> Result<Tensor> {
        let plane = CHIP_SIZE * CHIP_SIZE;
        let mut data = vec![0f32; chips.len() * 3 * plane];
        for (i, chip) in chips.iter().enumerate() {
            ensure!(
                chip.width() as usize == CHIP_SIZE && chip.height() as usize == CHIP_SIZE,
                "face chip is {}x{}, expected {CHIP_SIZE}x{CHIP_SIZE}",
                chip.width(),
                chip.height()
            );
            let dst = &mut data[i * 3 * plane..(i + 1) * 3 * plane];
            for (p, rgb) in chip.as_raw().chunks_exact(3).enumerate() {
                for c in 0..3 {
                    dst[c * plane + p] = (rgb[c] as f32 - self.net.input_mean[c]) / 256.0;
                }
            }
        }
        Ok(Tensor::from_vec(data, (chips.len(), 3, CHIP_SIZE, CHIP_SIZE), &self.device)?)
    }

    /// Embeds aligned chips (see [`align_chip`]); all go through the network as one batch.
    pub fn embed(&self, chips: &[&RgbImage]) -> Result<Vec<Embedding>> {
        if chips.is_empty() {
            return Ok(Vec::new());
        }
        let y = self.net.forward(&self.preprocess(chips)?)?;
        let flat: Vec<f32> = y.flatten_all()?.to_vec1()?;
        Ok(flat.chunks_exact(EMBEDDING_DIM).map(|c| c.try_into().expect("128 values")).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_fit_recovers_a_known_transform() {
        let t = Similarity { a: 1.7 * 0.3f64.cos(), b: 1.7 * 0.3f64.sin(), tx: 12.0, ty: -4.0 };
        let to: Vec<[f32; 2]> = TEMPLATE.iter().map(|p| t.apply([p[0] as f64, p[1] as f64]).map(|v| v as f32)).collect();
        let f = Similarity::fit(&TEMPLATE, &to).unwrap();
        for (x, y) in [(f.a, t.a), (f.b, t.b), (f.tx, t.tx), (f.ty, t.ty)] {
            assert!((x - y).abs() < 1e-3, "{f:?} vs {t:?}");
        }
    }

    #[test]
    fn align_with_template_points_is_dlibs_half_pixel_shift() {
        // Template points given as image points: scale 1, no rotation; dlib's convention
        // then samples chip pixel (c, r) at image (c + 0.5, r + 0.5). On a ramp of slope 1
        // (x) and 0.5 (y) that is exactly c + 0.5 and r/2 + 0.25, truncated.
        let img = RgbImage::from_fn(160, 160, |x, y| Rgb([x as u8, (y / 2) as u8, 7]));
        let chip = align_chip(&img, &TEMPLATE).unwrap();
        for (c, r, p) in chip.enumerate_pixels() {
            assert_eq!(p.0, [c as u8, (r / 2) as u8, 7], "pixel ({c}, {r})");
        }
    }

    #[test]
    fn distance_is_euclidean() {
        let mut a = [0f32; EMBEDDING_DIM];
        let mut b = [0f32; EMBEDDING_DIM];
        a[0] = 3.0;
        b[1] = 4.0;
        assert_eq!(distance(&a, &b), 5.0);
    }
}
