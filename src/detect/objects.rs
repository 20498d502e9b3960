//! Object detection (COCO 80 classes): the `ObjectModel` trait the pipeline calls (YOLOX-nano,
//! `yolox.rs`, is the implementation), the steps after the network common to any detector
//! (per-class NMS, the best `max`, boxes back to the picture's pixels through its
//! [`Letterbox`]), and the proctoring-specific second looks:
//!
//! `face_crop` and `merge_crop` are the second look at the region around a face,
//! where a held phone is too small for the whole-frame pass (used by
//! `crate::analyze` when `objects.face_crop` is on). `join_large_phones` makes one
//! phone of a phone held up close that the model scores half as `cell phone`, half
//! as `remote` (`objects.large_phone_min_area`).
use candle_core::{Device, Tensor};
use image::RgbImage;

use super::boxes::{self, iou, Scored};
use super::letterbox::Letterbox;

/// COCO class names in the order of the 80 contiguous class ids the models output.
#[rustfmt::skip]
pub const COCO_LABELS: [&str; 80] = [
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
    "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
];

/// One detected object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectDetection {
    /// Index into `COCO_LABELS`.
    pub class_id: usize,
    pub class_name: &'static str,
    /// Class confidence in [0, 1].
    pub score: f32,
    /// `[x1, y1, x2, y2]` in pixels of the image given to the model.
    pub bbox: [f32; 4],
    /// The best other class the detector gave the same box, and its score (the
    /// confusion a reviewer may want to see: a phone up close called a laptop).
    pub runner_up: Option<(&'static str, f32)>,
}

impl Scored for ObjectDetection {
    fn score(&self) -> f32 {
        self.score
    }
    fn bbox(&self) -> &boxes::BBox {
        &self.bbox
    }
}

/// An object detector. Implementations run all `images` as one batch.
pub trait ObjectModel: Send + Sync {
    fn name(&self) -> &str;
    /// One `Vec` per input image, best score first; detections below `min_score` are dropped.
    fn detect_batch(
        &self,
        images: &[&RgbImage],
        min_score: f32,
    ) -> anyhow::Result<Vec<Vec<ObjectDetection>>>;
}

/// Greedy per-class NMS ([`boxes::nms_by`]): a box is dropped when it overlaps a
/// higher-scoring box of the SAME class with IoU > `iou_threshold`. Returns survivors sorted
/// by score (stable for ties).
pub fn nms_per_class(dets: Vec<ObjectDetection>, iou_threshold: f32) -> Vec<ObjectDetection> {
    boxes::nms_by(dets, iou_threshold, |a, b| a.class_id == b.class_id)
}

/// A `[B, cells, values]` network output, copied to the CPU once, as one
/// flat vector per image.
pub fn per_image(y: &Tensor) -> anyhow::Result<Vec<Vec<f32>>> {
    let y = y.to_device(&Device::Cpu)?;
    let (b, _, _) = y.dims3()?;
    let flat = y.flatten_all()?.to_vec1::<f32>()?;
    Ok(flat.chunks(flat.len() / b.max(1)).map(<[f32]>::to_vec).collect())
}

/// Decoded candidates -> per-class NMS -> the best `max` -> original pixels.
pub fn finish(candidates: Vec<ObjectDetection>, lb: &Letterbox, iou: f32, max: usize) -> Vec<ObjectDetection> {
    let mut dets = nms_per_class(candidates, iou);
    dets.truncate(max);
    for d in &mut dets {
        d.bbox = lb.to_original(d.bbox);
    }
    dets
}

/// A second look near a face. A phone at the ear or in a hand by the face is a
/// few dozen pixels in a whole 640×480 frame, and YOLOX-nano sees the frame at
/// 416: E05's phones at the ear score 0.15–0.28 there. Cut out the region where
/// a held phone would be (around the face, reaching down to the hands and out
/// past the ears) and run the detector again on it, magnified.
///
/// The region is `FACE_CROP_WIDTH` face widths wide and `FACE_CROP_HEIGHT`
/// face heights tall, centred `FACE_CROP_DROP` face heights below the face's
/// centre, at least `FACE_CROP_MIN_SIDE` pixels on each side (so a tiny face
/// is not blown up into a blur), clipped to the frame. Chosen on devset E05's
/// three stills: it lifts the phones at the ear from 0.15 and 0.28 to 0.41
/// and 0.55 (README, Held phones), and raises no event on the other clips.
pub const FACE_CROP_WIDTH: f32 = 4.0;
pub const FACE_CROP_HEIGHT: f32 = 3.0;
pub const FACE_CROP_DROP: f32 = 0.3;
pub const FACE_CROP_MIN_SIDE: f32 = 200.0;
/// The crop must magnify by at least this much over the whole frame, else the
/// second pass would only see the frame again (a face that fills the picture).
pub const FACE_CROP_MIN_ZOOM: f32 = 1.2;

/// The region `[x0, y0, x1, y1]` (whole pixels, `x1`/`y1` exclusive) of a
/// `width` × `height` frame to look at again around the face `face`
/// (`[x0, y0, x1, y1]` pixels), or `None` when it would not magnify by
/// `FACE_CROP_MIN_ZOOM` or the face box is degenerate.
pub fn face_crop(face: [f32; 4], width: u32, height: u32) -> Option<[u32; 4]> {
    let (fw, fh) = (face[2] - face[0], face[3] - face[1]);
    if !(fw > 0.0 && fh > 0.0) || width == 0 || height == 0 {
        return None;
    }
    let cx = (face[0] + face[2]) / 2.0;
    let cy = (face[1] + face[3]) / 2.0 + FACE_CROP_DROP * fh;
    let half_w = (FACE_CROP_WIDTH * fw).max(FACE_CROP_MIN_SIDE) / 2.0;
    let half_h = (FACE_CROP_HEIGHT * fh).max(FACE_CROP_MIN_SIDE) / 2.0;
    crop_around([cx, cy], [half_w, half_h], width, height)
}

/// Side of the crop around a palm, in palm sides ([`hand_crop`]).
pub const HAND_CROP_SIDE: f32 = 3.0;
/// How far the crop's centre is moved from the palm's towards the fingers, in palm sides.
pub const HAND_CROP_REACH: f32 = 0.5;
/// The crop around a palm is at least this many pixels a side.
pub const HAND_CROP_MIN_SIDE: f32 = 160.0;

/// The crop of a `width` x `height` picture where what a hand holds would be:
/// a square of [`HAND_CROP_SIDE`] palm sides (at least [`HAND_CROP_MIN_SIDE`]
/// pixels), centred [`HAND_CROP_REACH`] palm sides from the palm's centre
/// towards the fingers (`towards`, a unit vector), clamped to the picture;
/// `None` when it would not magnify by [`FACE_CROP_MIN_ZOOM`].
pub fn hand_crop(palm: [f32; 4], towards: [f32; 2], width: u32, height: u32) -> Option<[u32; 4]> {
    let side = (palm[2] - palm[0]).max(palm[3] - palm[1]);
    if !(side > 0.0) || width == 0 || height == 0 {
        return None;
    }
    let cx = (palm[0] + palm[2]) / 2.0 + HAND_CROP_REACH * side * towards[0];
    let cy = (palm[1] + palm[3]) / 2.0 + HAND_CROP_REACH * side * towards[1];
    let half = (HAND_CROP_SIDE * side).max(HAND_CROP_MIN_SIDE) / 2.0;
    crop_around([cx, cy], [half, half], width, height)
}

/// How far a hand reaches: its palm box widened by a quarter of its side each
/// way. A phone or book touching it is held ([`touches`]): a drawn palm under a
/// phone whose fingers close over its edge touches the phone's box only there.
pub fn hand_reach(palm: [f32; 4]) -> [f32; 4] {
    let m = 0.25 * (palm[2] - palm[0]).max(palm[3] - palm[1]);
    [palm[0] - m, palm[1] - m, palm[2] + m, palm[3] + m]
}

/// Whether two boxes overlap (by a positive area).
pub fn touches(a: &[f32; 4], b: &[f32; 4]) -> bool {
    let (w, h) = boxes::overlap(a, b);
    w > 0.0 && h > 0.0
}

/// The box of half-sides `half` around `centre`, clamped to the picture, in
/// whole pixels; `None` when its long side would not be magnified by at
/// least [`FACE_CROP_MIN_ZOOM`] (the detector scales the long side to its input).
fn crop_around(centre: [f32; 2], half: [f32; 2], width: u32, height: u32) -> Option<[u32; 4]> {
    let ([cx, cy], [half_w, half_h]) = (centre, half);
    let (w, h) = (width as f32, height as f32);
    let x0 = (cx - half_w).clamp(0.0, w).floor();
    let y0 = (cy - half_h).clamp(0.0, h).floor();
    let x1 = (cx + half_w).clamp(0.0, w).ceil();
    let y1 = (cy + half_h).clamp(0.0, h).ceil();
    let side = (x1 - x0).max(y1 - y0);
    // the detector scales the long side to its input: the zoom is the ratio of long sides
    if side < 1.0 || w.max(h) / side < FACE_CROP_MIN_ZOOM {
        return None;
    }
    Some([x0 as u32, y0 as u32, x1 as u32, y1 as u32])
}

/// The whole frame's detections joined by those of a crop whose top-left corner
/// is at `origin`: the crop's boxes are moved into frame pixels, only those
/// `keep` accepts are added, and per-class NMS at `iou_threshold` keeps the
/// higher score where both passes saw the same object. Best score first.
pub fn merge_crop(
    full: Vec<ObjectDetection>,
    crop: Vec<ObjectDetection>,
    origin: (u32, u32),
    keep: impl Fn(&ObjectDetection) -> bool,
    iou_threshold: f32,
) -> Vec<ObjectDetection> {
    let (ox, oy) = (origin.0 as f32, origin.1 as f32);
    let moved = crop.into_iter().filter(|d| keep(d)).map(|mut d| {
        d.bbox = [d.bbox[0] + ox, d.bbox[1] + oy, d.bbox[2] + ox, d.bbox[3] + oy];
        d
    });
    nms_per_class(full.into_iter().chain(moved).collect(), iou_threshold)
}

/// Scores below the category thresholds that the object pass keeps for
/// [`join_large_phones`] (both halves of a split phone must reach it).
pub const LARGE_PHONE_FLOOR: f32 = 0.02;

/// A phone held up close to the camera, as one detection. YOLOX-nano splits such
/// a phone's score between `cell phone` and `remote` (COCO's two hand-held dark
/// rectangles, which the same box can be scored as): on the drawn phones of
/// `fixtures/make_phone_fixtures.py` filling half the frame or more, `remote`
/// 0.24-0.67 and `cell phone` 0.04-0.34, each under its category's threshold, on one
/// box. COCO labels one class per object, so the two scores of one object add up
/// (the chance that it is either). So a `cell phone` box of at least `min_area` of the
/// picture gets the score of the best `remote` box on the same object (IoU at least
/// 0.5) added, capped at 1, and that `remote` box is dropped (one object, one
/// event). Smaller boxes are left alone: on the devset's phones on a desk and at
/// the ear the two classes also overlap, but under 3% of the picture. Best score first.
pub fn join_large_phones(dets: Vec<ObjectDetection>, width: u32, height: u32, min_area: f32) -> Vec<ObjectDetection> {
    let frame = width as f32 * height as f32;
    let (mut out, mut remotes): (Vec<_>, Vec<_>) = dets.into_iter().partition(|d| d.class_name != "remote");
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    remotes.sort_by(|a, b| b.score.total_cmp(&a.score));
    for d in out.iter_mut().filter(|d| d.class_name == "cell phone") {
        if frame <= 0.0 || boxes::area(&d.bbox) / frame < min_area {
            continue;
        }
        if let Some(k) = remotes.iter().position(|r| iou(&r.bbox, &d.bbox) >= 0.5) {
            d.score = (d.score + remotes.remove(k).score).min(1.0);
        }
    }
    out.extend(remotes);
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

#[cfg(test)]
mod face_crop_tests {
    use super::*;

    pub(super) fn det(class_id: usize, score: f32, bbox: [f32; 4]) -> ObjectDetection {
        ObjectDetection { class_id, class_name: COCO_LABELS[class_id], score, bbox, runner_up: None }
    }

    #[test]
    fn crop_reaches_past_the_ears_and_down_to_the_hands() {
        // a 60x80 face in the middle of a 640x480 frame
        let c = face_crop([290.0, 150.0, 350.0, 230.0], 640, 480).unwrap();
        // 4 face widths (240) wide, 3 face heights (240) tall, centred 24 px below the face
        assert_eq!(c, [200, 94, 440, 334]);
        assert!(c[0] < 290 - 60 && c[2] > 350 + 60, "reaches a face width past each side: {c:?}");
        assert!(c[3] > 230 + 80, "reaches a face height below the chin: {c:?}");
    }

    #[test]
    fn crop_is_clipped_to_the_frame_and_small_faces_get_the_minimum() {
        // a 10x12 face at the top-left corner: 200 px minimum, clipped at 0
        let c = face_crop([0.0, 0.0, 10.0, 12.0], 640, 480).unwrap();
        assert_eq!(c[0], 0);
        assert_eq!(c[1], 0);
        assert!(c[2] <= 105 && c[2] >= 100, "{c:?}");
        assert!(c[3] <= 110 && c[3] >= 100, "{c:?}");
        // a face near the bottom-right edge stays inside the frame
        let c = face_crop([600.0, 440.0, 640.0, 480.0], 640, 480).unwrap();
        assert_eq!((c[2], c[3]), (640, 480));
    }

    #[test]
    fn no_crop_where_it_would_not_magnify() {
        // a face filling most of the frame: the crop is the frame
        assert_eq!(face_crop([150.0, 60.0, 490.0, 440.0], 640, 480), None);
        // degenerate boxes and frames
        assert_eq!(face_crop([10.0, 10.0, 10.0, 40.0], 640, 480), None);
        assert_eq!(face_crop([f32::NAN, 0.0, 10.0, 10.0], 640, 480), None);
        assert_eq!(face_crop([0.0, 0.0, 10.0, 10.0], 0, 0), None);
    }

    #[test]
    fn the_hand_crop_reaches_past_the_fingers() {
        // a 60 px palm at (300..360, 200..260), fingers pointing up: 180 px square
        // centred 30 px above the palm's centre
        assert_eq!(hand_crop([300.0, 200.0, 360.0, 260.0], [0.0, -1.0], 640, 480), Some([240, 110, 420, 290]));
        // fingers to the right: the crop moves right
        assert_eq!(hand_crop([300.0, 200.0, 360.0, 260.0], [1.0, 0.0], 640, 480), Some([270, 140, 450, 320]));
        // a small palm gets the minimum side, clipped to the frame at the corner
        assert_eq!(hand_crop([0.0, 0.0, 20.0, 20.0], [0.0, -1.0], 640, 480), Some([0, 0, 90, 80]));
        // a palm filling the frame: nothing to magnify; a degenerate palm: no crop
        assert_eq!(hand_crop([100.0, 0.0, 500.0, 400.0], [0.0, -1.0], 640, 480), None);
        assert_eq!(hand_crop([10.0, 10.0, 10.0, 10.0], [0.0, -1.0], 640, 480), None);
    }

    #[test]
    fn merge_moves_crop_boxes_keeps_only_accepted_classes_and_the_best_duplicate() {
        let phone = 67;
        let full = vec![det(0, 0.9, [100.0, 100.0, 300.0, 400.0]), det(phone, 0.2, [210.0, 120.0, 230.0, 160.0])];
        let crop = vec![
            det(phone, 0.6, [10.0, 20.0, 30.0, 60.0]), // the same phone, seen better
            det(phone, 0.4, [150.0, 150.0, 170.0, 190.0]), // another phone
            det(15, 0.8, [0.0, 0.0, 50.0, 50.0]), // a cat: not accepted from the crop
        ];
        let out = merge_crop(full, crop, (200, 100), |d| d.class_name == "cell phone", 0.45);
        let summary: Vec<(&str, f32, [f32; 4])> = out.iter().map(|d| (d.class_name, d.score, d.bbox)).collect();
        assert_eq!(
            summary,
            vec![
                ("person", 0.9, [100.0, 100.0, 300.0, 400.0]),
                ("cell phone", 0.6, [210.0, 120.0, 230.0, 160.0]),
                ("cell phone", 0.4, [350.0, 250.0, 370.0, 290.0]),
            ]
        );
    }
}

#[cfg(test)]
mod large_phone_tests {
    use super::face_crop_tests::det;
    use super::*;

    #[test]
    fn a_large_phone_split_between_phone_and_remote_is_one_phone() {
        // a phone held up to the camera: one box, 0.11 cell phone and 0.56 remote
        let box_ = [228.0, 60.0, 422.0, 452.0];
        let dets = vec![det(65, 0.56, [229.0, 60.0, 424.0, 455.0]), det(67, 0.11, box_), det(0, 0.6, [0.0, 0.0, 640.0, 480.0])];
        let out = join_large_phones(dets, 640, 480, 0.05);
        assert_eq!(out.len(), 2, "{out:?}");
        let phone = out.iter().find(|d| d.class_name == "cell phone").unwrap();
        assert!((phone.score - 0.67).abs() < 1e-6 && phone.bbox == box_, "{phone:?}");
        assert!(out.iter().all(|d| d.class_name != "remote"), "the remote is the phone: {out:?}");
        assert!(out[0].score >= out[1].score);
    }

    #[test]
    fn small_phones_and_separate_remotes_are_left_alone() {
        // a phone on a desk (2.7% of the picture) scored as both, as on the devset
        let small = vec![det(67, 0.45, [300.0, 200.0, 380.0, 300.0]), det(65, 0.04, [300.0, 201.0, 381.0, 300.0])];
        assert_eq!(join_large_phones(small.clone(), 640, 480, 0.05), small);
        // a large phone and a remote elsewhere in the picture
        let apart = vec![det(67, 0.2, [0.0, 0.0, 200.0, 300.0]), det(65, 0.5, [400.0, 100.0, 600.0, 400.0])];
        let out = join_large_phones(apart, 640, 480, 0.05);
        assert_eq!(out.iter().map(|d| (d.class_name, d.score)).collect::<Vec<_>>(), [("remote", 0.5), ("cell phone", 0.2)]);
        // a min_area above 1 turns it off
        let big = vec![det(67, 0.11, [228.0, 60.0, 422.0, 452.0]), det(65, 0.56, [229.0, 60.0, 424.0, 455.0])];
        let out = join_large_phones(big, 640, 480, 1.5);
        assert_eq!(out.len(), 2);
        assert!(out.iter().any(|d| d.class_name == "cell phone" && (d.score - 0.11).abs() < 1e-6));
    }
}
