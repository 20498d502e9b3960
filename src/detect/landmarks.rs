//! Face mesh + iris pipeline around `facemesh.rs` and `iris.rs`, matching mediapipe's
//! graphs (`face_detection_front_detection_to_roi`, `face_landmark_cpu`,
//! `iris_landmark_landmarks_to_roi`, `iris_landmark_cpu`):
//!
//! 1. Face ROI from a detection: centre = bbox centre, rotation = angle of the vector
//!    keypoint 0 → keypoint 1 (the two eyes; target angle 0), side = 1.5 × the longer
//!    bbox side (square in pixels).
//! 2. The rotated square ROI is warped to 192×192 (bilinear, border replicate, RGB in
//!    `[0, 1]`): output pixel `u` samples the ROI-local point `u·side/192 − side/2`, the
//!    convention of mediapipe's `ImageToTensorCalculator` (ROI corners map to the output
//!    pixel edges 0 and 192).
//! 3. All faces of all images run through the mesh as one batch; the 468 points are
//!    projected back (`LandmarkProjectionCalculator`: `p = centre + R·(raw/192 − ½)·side`,
//!    z scaled by `side/192`).
//! 4. Each eye ROI comes from two mesh points (33→133 and 362→263): centre = midpoint,
//!    rotation = their angle, side = 2.3 × the longer side of their bounding box. The eye
//!    at 362/263 (the subject's left eye) is mirrored horizontally before the model, and
//!    its x outputs are mirrored back as `64 − x` (mediapipe's convention).
//! 5. All eyes run through the iris model as one batch and are projected back.
//!
//! Differences from mediapipe: the eye crop is warped straight to 64×64 in one bilinear
//! step (mediapipe crops at full resolution, then resizes); the face crop is identical
//! in construction: against mediapipe's own `solutions.face_mesh` on the same image and
//! detection this code agrees to 0.06 px (max over 468 points, 512×512 portrait).
//!
//! "Left"/"right" are the subject's: `right_*` = mesh points 33/133 (on the image's left
//! for an unmirrored frontal face), `left_*` = 362/263.

use anyhow::{ensure, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use image::RgbImage;

use super::facemesh::{self, FaceMesh};
use super::iris::{self, Iris};
use super::simd::wide_fn;

/// Default faces per forward pass (eyes: twice that); larger inputs are split.
pub const DEFAULT_MAX_BATCH: usize = 32;

/// A face detection in pixels: `bbox` = `[x0, y0, x1, y1]`; `keypoints` in mediapipe's
/// BlazeFace order: 0 = right eye, 1 = left eye (subject's), 2 = nose tip, 3 = mouth
/// centre, 4 = right ear tragion, 5 = left ear tragion. Only 0 and 1 are used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceBox {
    pub bbox: [f32; 4],
    pub keypoints: [[f32; 2]; 6],
}

/// Landmarks of one face, all in pixels of the original image.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceLandmarks {
    /// 468 mesh points `(x, y, z)`; z is depth relative to the face centre, in the same
    /// pixel scale as x (smaller = closer to the camera).
    pub mesh: Vec<[f32; 3]>,
    /// Face presence probability (sigmoid of the model's logit; mediapipe keeps > 0.5).
    pub presence: f32,
    /// Iris of the subject's left eye (mesh 362/263 side): centre, then 4 edge points.
    pub left_iris: [[f32; 2]; 5],
    /// Iris of the subject's right eye (mesh 33/133 side): centre, then 4 edge points.
    pub right_iris: [[f32; 2]; 5],
    /// 71 eye-contour + brow points of the left eye, empty unless
    /// [`LandmarkModels::with_eye_contours`]. The first 16 refine mesh points
    /// 263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398.
    pub left_eye_contour: Vec<[f32; 2]>,
    /// 71 eye-contour + brow points of the right eye (empty unless asked, as the left's).
    /// The first 16 refine mesh points
    /// 33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173.
    pub right_eye_contour: Vec<[f32; 2]>,
}

/// A rotated square region of interest in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Roi {
    pub center: [f32; 2],
    /// Side length in pixels.
    pub size: f32,
    /// Rotation in radians, image coordinates (y down): positive = clockwise on screen.
    pub angle: f32,
}

impl Roi {
    /// mediapipe's `DetectionsToRectsCalculator` (rotation from `p0` → `p1`, target
    /// angle 0) followed by `RectTransformationCalculator { scale, square_long }`.
    pub fn from_points(p0: [f32; 2], p1: [f32; 2], bbox: [f32; 4], scale: f32) -> Roi {
        let center = [(bbox[0] + bbox[2]) * 0.5, (bbox[1] + bbox[3]) * 0.5];
        let angle = (p1[1] - p0[1]).atan2(p1[0] - p0[0]);
        let size = (bbox[2] - bbox[0]).max(bbox[3] - bbox[1]) * scale;
        Roi { center, size, angle }
    }

    /// Face ROI from a detection (1.5× the longer bbox side, rotated by the eyes).
    pub fn face(face: &FaceBox) -> Roi {
        Roi::from_points(face.keypoints[0], face.keypoints[1], face.bbox, 1.5)
    }

    /// Eye ROI from the two eye-corner mesh points (2.3× their bounding box).
    pub fn eye(p0: [f32; 2], p1: [f32; 2]) -> Roi {
        let bbox = [p0[0].min(p1[0]), p0[1].min(p1[1]), p0[0].max(p1[0]), p0[1].max(p1[1])];
        Roi::from_points(p0, p1, bbox, 2.3)
    }

    /// Maps a point given in model-input pixels (`0..out`) back to the image.
    /// With `flip`, the model input was mirrored (x → `out − x`).
    pub fn project(&self, x: f32, y: f32, out: usize, flip: bool) -> [f32; 2] {
        let n = out as f32;
        let mut u = x / n;
        if flip {
            u = 1.0 - u;
        }
        let (u, v) = ((u - 0.5) * self.size, (y / n - 0.5) * self.size);
        let (s, c) = self.angle.sin_cos();
        [self.center[0] + c * u - s * v, self.center[1] + s * u + c * v]
    }
}

/// Warps `roi` of `img` to an `out`×`out` CHW f32 tensor in `[0, 1]` appended to `dst`
/// (`3·out·out` values, planes R, G, B). Bilinear, border replicate. With `flip` the
/// result is mirrored horizontally.
///
/// Output pixel `(u, v)` samples `centre + R·(lx, ly)` with `lx = u·step − side/2` (mirrored
/// with `flip`) and `ly = v·step − side/2`. The column terms `centre + (c·lx, s·lx)` are
/// computed once per column and the row terms `(s·ly, c·ly)` once per row, in the same
/// order of operations as the per-pixel formula, so the result is bit-identical to it; the
/// sample point is clamped into the picture, so `as usize` is its floor (no libm `floorf`
/// call per pixel on baseline x86-64).
pub fn warp_roi(img: &RgbImage, roi: &Roi, out: usize, flip: bool, dst: &mut Vec<f32>) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let step = roi.size / out as f32;
    let half = roi.size * 0.5;
    let (s, c) = roi.angle.sin_cos();
    let (ax, ay): (Vec<f32>, Vec<f32>) = (0..out)
        .map(|u| {
            let su = if flip { out - 1 - u } else { u };
            let lx = su as f32 * step - half;
            (roi.center[0] + c * lx, roi.center[1] + s * lx)
        })
        .unzip();
    let rows: Vec<[f32; 2]> = (0..out)
        .map(|v| {
            let ly = v as f32 * step - half;
            [s * ly, c * ly]
        })
        .collect();
    let base = dst.len();
    dst.resize(base + 3 * out * out, 0.0);
    warp_kernel(img.as_raw(), w, h, &ax, &ay, &rows, &mut dst[base..]);
}

/// Bilinear mix of the four neighbours `[top left, top right, bottom left, bottom right]`,
/// scaled to `[0, 1]`. A function, not a closure, so that it is inlined into the wide
/// build of [`warp_kernel`] (a closure there was called per channel and pixel).
#[inline(always)]
fn bilerp([p00, p10, p01, p11]: [u8; 4], fx: f32, fy: f32) -> f32 {
    let top = p00 as f32 * (1.0 - fx) + p10 as f32 * fx;
    let bot = p01 as f32 * (1.0 - fx) + p11 as f32 * fx;
    (top * (1.0 - fy) + bot * fy) * (1.0 / 255.0)
}

wide_fn! {
    /// The sampling loop of [`warp_roi`]: pixel `(u, v)` at `(ax[u] − rows[v][0],
    /// ay[u] + rows[v][1])`, written to the three planes of `planes`.
    fn warp_kernel(raw: &[u8], w: usize, h: usize, ax: &[f32], ay: &[f32], rows: &[[f32; 2]], planes: &mut [f32]) {
        let out = ax.len();
        let (r, gb) = planes.split_at_mut(out * out);
        let (g, b) = gb.split_at_mut(out * out);
        let (wmax, hmax) = ((w - 1) as f32, (h - 1) as f32);
        for (v, &[sly, cly]) in rows.iter().enumerate() {
            let o = v * out;
            let (r, g, b) = (&mut r[o..o + out], &mut g[o..o + out], &mut b[o..o + out]);
            for u in 0..out {
                let sx = (ax[u] - sly).clamp(0.0, wmax);
                let sy = (ay[u] + cly).clamp(0.0, hmax);
                let (x0, y0) = (sx as usize, sy as usize);
                let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
                let dx = if x0 + 1 < w { 3 } else { 0 };
                let dy = if y0 + 1 < h { 3 * w } else { 0 };
                let i = (y0 * w + x0) * 3;
                let (p00, p10) = (&raw[i..i + 3], &raw[i + dx..i + dx + 3]);
                let (p01, p11) = (&raw[i + dy..i + dy + 3], &raw[i + dy + dx..i + dy + dx + 3]);
                r[u] = bilerp([p00[0], p10[0], p01[0], p11[0]], fx, fy);
                g[u] = bilerp([p00[1], p10[1], p01[1], p11[1]], fx, fy);
                b[u] = bilerp([p00[2], p10[2], p01[2], p11[2]], fx, fy);
            }
        }
    }
}

/// Face mesh + iris models, loaded once.
pub struct LandmarkModels {
    mesh: FaceMesh,
    iris: Iris,
    device: Device,
    max_batch: usize,
    eye_contours: bool,
}

impl LandmarkModels {
    /// From the bytes of `face_landmark.safetensors` and `iris_landmark.safetensors`.
    pub fn from_bytes(mesh: &[u8], iris: &[u8], device: &Device) -> Result<Self> {
        let vb = VarBuilder::from_slice_safetensors(mesh, DType::F32, device)?;
        let mesh = FaceMesh::load(vb).context("loading face mesh weights")?;
        let vb = VarBuilder::from_slice_safetensors(iris, DType::F32, device)?;
        let iris = Iris::load(vb).context("loading iris weights")?;
        Ok(Self { mesh, iris, device: device.clone(), max_batch: DEFAULT_MAX_BATCH, eye_contours: false })
    }

    /// Also run the iris net's eye-contour branch and fill `*_eye_contour` (off by default:
    /// nothing in the analysis reads them, and the branch is a third of the net's layers).
    pub fn with_eye_contours(mut self, on: bool) -> Self {
        self.eye_contours = on;
        self
    }

    /// Caps the faces per forward pass (on a loaded 2-core CPU the cost per face was
    /// lowest at batch 1–2; a GPU wants large batches).
    pub fn with_max_batch(mut self, n: usize) -> Self {
        self.max_batch = n.max(1);
        self
    }

    /// The networks, for callers that build their own inputs.
    pub fn networks(&self) -> (&FaceMesh, &Iris) {
        (&self.mesh, &self.iris)
    }

    /// Runs mesh then iris for every `(image, face)` pair (faces of several images are
    /// batched together). Output order = input order.
    pub fn run(&self, items: &[(&RgbImage, FaceBox)]) -> Result<Vec<FaceLandmarks>> {
        let mut out = Vec::with_capacity(items.len());
        for chunk in items.chunks(self.max_batch) {
            out.extend(self.run_batch(chunk)?);
        }
        Ok(out)
    }

    fn run_batch(&self, items: &[(&RgbImage, FaceBox)]) -> Result<Vec<FaceLandmarks>> {
        let n = items.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        const S: usize = facemesh::INPUT_SIZE;
        let rois: Vec<Roi> = items.iter().map(|(_, f)| Roi::face(f)).collect();
        let mut buf = Vec::with_capacity(n * 3 * S * S);
        for ((img, _), roi) in items.iter().zip(&rois) {
            ensure!(img.width() > 0 && img.height() > 0, "empty image");
            warp_roi(img, roi, S, false, &mut buf);
        }
        let x = Tensor::from_vec(buf, (n, 3, S, S), &self.device)?;
        let (lm, logit) = self.mesh.forward(&x)?;
        let lm = lm.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        let logit = logit.to_dtype(DType::F32)?.to_vec2::<f32>()?;

        let mut faces: Vec<FaceLandmarks> = Vec::with_capacity(n);
        for i in 0..n {
            let roi = &rois[i];
            let zs = roi.size / S as f32;
            let mesh = lm[i]
                .chunks_exact(3)
                .map(|p| {
                    let [x, y] = roi.project(p[0], p[1], S, false);
                    [x, y, p[2] * zs]
                })
                .collect();
            faces.push(FaceLandmarks {
                mesh,
                presence: 1.0 / (1.0 + (-logit[i][0]).exp()),
                left_iris: [[0.0; 2]; 5],
                right_iris: [[0.0; 2]; 5],
                left_eye_contour: Vec::new(),
                right_eye_contour: Vec::new(),
            });
        }

        // Eyes: [right (33→133, as is), left (362→263, mirrored)] per face.
        const E: usize = iris::INPUT_SIZE;
        let mut eye_rois = Vec::with_capacity(2 * n);
        let mut buf = Vec::with_capacity(2 * n * 3 * E * E);
        for (i, f) in faces.iter().enumerate() {
            for (a, b, flip) in [(33, 133, false), (362, 263, true)] {
                let p = |k: usize| [f.mesh[k][0], f.mesh[k][1]];
                let roi = Roi::eye(p(a), p(b));
                warp_roi(items[i].0, &roi, E, flip, &mut buf);
                eye_rois.push((roi, flip));
            }
        }
        let x = Tensor::from_vec(buf, (2 * n, 3, E, E), &self.device)?;
        let (contour, iris) = if self.eye_contours {
            let (c, i) = self.iris.forward(&x)?;
            (Some(c.to_dtype(DType::F32)?.to_vec2::<f32>()?), i)
        } else {
            (None, self.iris.forward_iris(&x)?)
        };
        let iris = iris.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        let back = |k: usize, v: &[f32]| -> Vec<[f32; 2]> {
            let (roi, flip) = &eye_rois[k];
            v.chunks_exact(3).map(|p| roi.project(p[0], p[1], E, *flip)).collect()
        };
        for (i, f) in faces.iter_mut().enumerate() {
            let (r, l) = (2 * i, 2 * i + 1);
            if let Some(contour) = &contour {
                f.right_eye_contour = back(r, &contour[r]);
                f.left_eye_contour = back(l, &contour[l]);
            }
            f.right_iris.copy_from_slice(&back(r, &iris[r]));
            f.left_iris.copy_from_slice(&back(l, &iris[l]));
        }
        Ok(faces)
    }
}
