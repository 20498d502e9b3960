//! Face detection with MediaPipe's BlazeFace full-range model: the pre- and
//! post-processing of mediapipe's `FaceDetectionFullRange` graph around the
//! network in `blazeface.rs`.
//!
//! - Letterbox (ImageToTensorCalculator, keep_aspect_ratio, BORDER_ZERO): the
//!   square region centred on the picture whose side is the longer picture side
//!   is mapped corner-to-corner onto 192x192; tensor pixel `u` samples picture
//!   pixel `x0 + u * side / 192` bilinearly (outside the picture counts as
//!   black), rounded to u8 like OpenCV's warp (1/32-pixel sub-pixel steps), then
//!   scaled to [-1, 1].
//! - Anchors (SsdAnchorsCalculator): num_layers 1, stride 4, 48x48 cells, one
//!   anchor per cell (interpolated_scale_aspect_ratio 0), fixed size 1x1,
//!   centres at ((x + 0.5) / 48, (y + 0.5) / 48): 2304 anchors.
//! - Decoding (TensorsToDetectionsCalculator): x/y/w/h scale 192, box as
//!   (x centre, y centre, w, h) then 6 keypoints (x, y); score = sigmoid of the
//!   logit clipped to [-100, 100]; scores below `min_score` (mediapipe's Python
//!   default 0.5) and boxes with negative size are dropped.
//! - Weighted NMS (NonMaxSuppressionCalculator, WEIGHTED, IoU > 0.3): every
//!   box overlapping the best remaining one is merged into it, corners and
//!   keypoints averaged with score weights; the merged face keeps the best score.
//! - Results are mapped back to the picture's pixels.
//!
//! Checked against mediapipe==0.10.21's own `FaceDetection(model_selection=1)`
//! on the fixtures in `fixtures/reference/`.

use anyhow::{ensure, Context};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use image::RgbImage;

use super::blazeface::{BlazeFaceFull, INPUT_SIZE, NUM_ANCHORS, NUM_COORDS};

/// mediapipe's default `min_detection_confidence`.
pub const DEFAULT_MIN_SCORE: f32 = 0.5;
/// mediapipe's `min_suppression_threshold` for face detection.
pub const DEFAULT_NMS_IOU: f32 = 0.3;
const NUM_KEYPOINTS: usize = 6;
const SCORE_CLIP: f32 = 100.0;

/// One face, in the original picture's pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceDetection {
    /// [x0, y0, x1, y1] in pixels.
    pub bbox: [f32; 4],
    /// Probability in (0, 1).
    pub score: f32,
    /// Right eye, left eye, nose tip, mouth centre, right ear tragion, left ear
    /// tragion (the subject's right/left), [x, y] in pixels.
    pub keypoints: [[f32; 2]; NUM_KEYPOINTS],
}

impl FaceDetection {
    pub fn area(&self) -> f32 {
        (self.bbox[2] - self.bbox[0]).max(0.0) * (self.bbox[3] - self.bbox[1]).max(0.0)
    }

    /// Intersection over union of the two boxes (0 when they do not overlap).
    pub fn iou(&self, other: &FaceDetection) -> f32 {
        iou(&self.bbox, &other.bbox)
    }
}

/// Intersection over union of two [x0, y0, x1, y1] boxes, as mediapipe computes it.
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = a[2].min(b[2]) - a[0].max(b[0]);
    let ih = a[3].min(b[3]) - a[1].max(b[1]);
    if iw <= 0.0 || ih <= 0.0 {
        return 0.0;
    }
    let inter = iw * ih;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// The letterbox transform of one picture: tensor coordinates normalised to
/// [0, 1] map to picture pixels as `x0 + t * side`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub x0: f32,
    pub y0: f32,
    /// Side of the square picture region covered by the tensor, in pixels.
    pub side: f32,
}

impl Letterbox {
    pub fn new(width: u32, height: u32) -> Self {
        let (w, h) = (width as f32, height as f32);
        let side = w.max(h);
        Letterbox {
            x0: w / 2.0 - side / 2.0,
            y0: h / 2.0 - side / 2.0,
            side,
        }
    }

    /// Normalised tensor coordinates ([0, 1] across the 192 pixels) to picture pixels.
    pub fn to_image(&self, p: [f32; 2]) -> [f32; 2] {
        [self.x0 + p[0] * self.side, self.y0 + p[1] * self.side]
    }

    /// Picture pixels to normalised tensor coordinates.
    pub fn to_tensor(&self, p: [f32; 2]) -> [f32; 2] {
        [(p[0] - self.x0) / self.side, (p[1] - self.y0) / self.side]
    }

    fn project(&self, d: &FaceDetection) -> FaceDetection {
        let a = self.to_image([d.bbox[0], d.bbox[1]]);
        let b = self.to_image([d.bbox[2], d.bbox[3]]);
        let mut keypoints = d.keypoints;
        for k in keypoints.iter_mut() {
            *k = self.to_image(*k);
        }
        FaceDetection {
            bbox: [a[0], a[1], b[0], b[1]],
            score: d.score,
            keypoints,
        }
    }
}

/// Letterboxes `image` into a `size` x `size` RGB u8 picture, HWC order, as
/// mediapipe does (see the module docs). Returns the pixels and the transform.
pub fn letterbox_u8(image: &RgbImage, size: usize) -> (Vec<u8>, Letterbox) {
    let (w, h) = (image.width() as i64, image.height() as i64);
    let lb = Letterbox::new(image.width(), image.height());
    let step = lb.side as f64 / size as f64;
    let raw = image.as_raw();
    let px = |x: i64, y: i64, c: usize| -> f32 {
        if x < 0 || y < 0 || x >= w || y >= h {
            0.0
        } else {
            raw[((y * w + x) * 3) as usize + c] as f32
        }
    };
    // Source coordinate of tensor pixel u, in 1/32-pixel steps like OpenCV's warps.
    let fixed = |origin: f32, u: usize| -> (i64, f32) {
        let q = ((origin as f64 + u as f64 * step) * 32.0).round() as i64;
        (q.div_euclid(32), q.rem_euclid(32) as f32 / 32.0)
    };
    let cols: Vec<(i64, f32)> = (0..size).map(|u| fixed(lb.x0, u)).collect();
    let mut out = vec![0u8; size * size * 3];
    for v in 0..size {
        let (y, fy) = fixed(lb.y0, v);
        for (u, &(x, fx)) in cols.iter().enumerate() {
            for c in 0..3 {
                let top = px(x, y, c) * (1.0 - fx) + px(x + 1, y, c) * fx;
                let bottom = px(x, y + 1, c) * (1.0 - fx) + px(x + 1, y + 1, c) * fx;
                let value = top * (1.0 - fy) + bottom * fy;
                out[(v * size + u) * 3 + c] = value.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    (out, lb)
}

/// u8 -> network input value, the same IEEE operations as the Python reference.
#[inline]
pub fn normalize(v: u8) -> f32 {
    v as f32 * (2.0f32 / 255.0f32) - 1.0
}

/// SSD anchor centres for the full-range model, [x, y] normalised, row-major
/// over the 48x48 grid (same order as the network outputs).
pub fn ssd_anchors() -> Vec<[f32; 2]> {
    let n = INPUT_SIZE / 4;
    let mut anchors = Vec::with_capacity(n * n);
    for y in 0..n {
        for x in 0..n {
            anchors.push([(x as f32 + 0.5) / n as f32, (y as f32 + 0.5) / n as f32]);
        }
    }
    anchors
}

/// Decodes one picture's raw outputs (`regressors` as 2304 x 16 values,
/// `logits` as 2304 values) into detections in normalised tensor coordinates.
pub fn decode(
    regressors: &[f32],
    logits: &[f32],
    anchors: &[[f32; 2]],
    min_score: f32,
) -> Vec<FaceDetection> {
    let scale = INPUT_SIZE as f32;
    let mut out = Vec::new();
    for (i, (&logit, a)) in logits.iter().zip(anchors).enumerate() {
        let score = 1.0 / (1.0 + (-logit.clamp(-SCORE_CLIP, SCORE_CLIP)).exp());
        if score.is_nan() || score < min_score {
            continue;
        }
        let r = &regressors[i * NUM_COORDS..(i + 1) * NUM_COORDS];
        let (xc, yc) = (r[0] / scale + a[0], r[1] / scale + a[1]);
        let (w, h) = (r[2] / scale, r[3] / scale);
        if !(w >= 0.0 && h >= 0.0) {
            continue; // negative or NaN size, as mediapipe drops them
        }
        let mut keypoints = [[0.0f32; 2]; NUM_KEYPOINTS];
        for (k, kp) in keypoints.iter_mut().enumerate() {
            *kp = [r[4 + 2 * k] / scale + a[0], r[5 + 2 * k] / scale + a[1]];
        }
        out.push(FaceDetection {
            bbox: [xc - w / 2.0, yc - h / 2.0, xc + w / 2.0, yc + h / 2.0],
            score,
            keypoints,
        });
    }
    out
}

/// mediapipe's WEIGHTED non-maximum suppression. Takes the best remaining
/// detection, gathers every remaining one whose IoU with it is above
/// `iou_threshold` (itself included), and outputs their score-weighted mean
/// box and keypoints with the best score. Sorted by score, descending.
pub fn weighted_nms(mut detections: Vec<FaceDetection>, iou_threshold: f32) -> Vec<FaceDetection> {
    detections.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::new();
    while let Some(best) = detections.first().copied() {
        let (candidates, remained): (Vec<_>, Vec<_>) = detections
            .into_iter()
            .partition(|d| iou(&d.bbox, &best.bbox) > iou_threshold);
        let mut merged = best;
        if !candidates.is_empty() {
            let total: f32 = candidates.iter().map(|d| d.score).sum();
            let mut bbox = [0.0f32; 4];
            let mut keypoints = [[0.0f32; 2]; NUM_KEYPOINTS];
            for d in &candidates {
                for (acc, v) in bbox.iter_mut().zip(d.bbox) {
                    *acc += v * d.score;
                }
                for (acc, v) in keypoints.iter_mut().zip(d.keypoints) {
                    acc[0] += v[0] * d.score;
                    acc[1] += v[1] * d.score;
                }
            }
            merged.bbox = bbox.map(|v| v / total);
            merged.keypoints = keypoints.map(|[x, y]| [x / total, y / total]);
        } else {
            // A box that does not overlap itself (zero or NaN area): emit it alone
            // and drop it, as mediapipe's "no progress" exit would otherwise stop here.
            out.push(merged);
            detections = remained.into_iter().skip(1).collect();
            continue;
        }
        out.push(merged);
        detections = remained;
    }
    out
}

/// BlazeFace full-range face detector: network, anchors and thresholds.
pub struct FaceDetector {
    net: BlazeFaceFull,
    anchors: Vec<[f32; 2]>,
    device: Device,
    /// Minimum face probability (default 0.5, mediapipe's).
    pub min_score: f32,
    /// IoU above which boxes are merged (default 0.3, mediapipe's).
    pub nms_iou: f32,
}

impl FaceDetector {
    /// Loads `blazeface_full.safetensors` (as written by
    /// `models/convert_blazeface.py`) from memory; runs in f32 on `device`.
    pub fn from_bytes(bytes: &[u8], device: &Device) -> anyhow::Result<Self> {
        let vb = VarBuilder::from_slice_safetensors(bytes, DType::F32, device)
            .context("reading BlazeFace safetensors")?;
        let net = BlazeFaceFull::load(vb).context("loading BlazeFace full-range weights")?;
        Ok(Self::new(net, device))
    }

    pub fn new(net: BlazeFaceFull, device: &Device) -> Self {
        FaceDetector {
            net,
            anchors: ssd_anchors(),
            device: device.clone(),
            min_score: DEFAULT_MIN_SCORE,
            nms_iou: DEFAULT_NMS_IOU,
        }
    }

    pub fn network(&self) -> &BlazeFaceFull {
        &self.net
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Letterboxes the pictures into one `[B, 3, 192, 192]` input tensor on the device.
    pub fn preprocess(&self, images: &[&RgbImage]) -> anyhow::Result<(Tensor, Vec<Letterbox>)> {
        let plane = INPUT_SIZE * INPUT_SIZE;
        let mut data = vec![0f32; images.len() * 3 * plane];
        let mut boxes = Vec::with_capacity(images.len());
        for (i, image) in images.iter().enumerate() {
            ensure!(image.width() > 0 && image.height() > 0, "empty picture");
            let (u8s, lb) = letterbox_u8(image, INPUT_SIZE);
            let dst = &mut data[i * 3 * plane..(i + 1) * 3 * plane];
            for (p, rgb) in u8s.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    dst[c * plane + p] = normalize(rgb[c]);
                }
            }
            boxes.push(lb);
        }
        let x = Tensor::from_vec(
            data,
            (images.len(), 3, INPUT_SIZE, INPUT_SIZE),
            &self.device,
        )?;
        Ok((x, boxes))
    }

    /// Detects faces in every picture; all pictures go through the network as
    /// one batch and the outputs come back to the CPU once.
    pub fn detect_batch(&self, images: &[&RgbImage]) -> anyhow::Result<Vec<Vec<FaceDetection>>> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let (x, boxes) = self.preprocess(images)?;
        let (reg, cls) = self.net.forward(&x)?;
        // One transfer: [B, 2304, 17] = 16 regressors + 1 logit per anchor.
        let all: Vec<f32> = Tensor::cat(&[reg, cls], 2)?.flatten_all()?.to_vec1()?;
        let per_image = NUM_ANCHORS * (NUM_COORDS + 1);
        let mut out = Vec::with_capacity(images.len());
        let mut reg = vec![0f32; NUM_ANCHORS * NUM_COORDS];
        let mut logits = vec![0f32; NUM_ANCHORS];
        for (chunk, lb) in all.chunks_exact(per_image).zip(&boxes) {
            for (a, row) in chunk.chunks_exact(NUM_COORDS + 1).enumerate() {
                reg[a * NUM_COORDS..(a + 1) * NUM_COORDS].copy_from_slice(&row[..NUM_COORDS]);
                logits[a] = row[NUM_COORDS];
            }
            let dets = decode(&reg, &logits, &self.anchors, self.min_score);
            let dets = weighted_nms(dets, self.nms_iou);
            out.push(dets.iter().map(|d| lb.project(d)).collect());
        }
        Ok(out)
    }

    /// One picture.
    pub fn detect(&self, image: &RgbImage) -> anyhow::Result<Vec<FaceDetection>> {
        Ok(self.detect_batch(&[image])?.pop().unwrap_or_default())
    }
}
