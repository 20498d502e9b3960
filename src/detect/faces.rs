//! The face path: YuNet boxes → face mesh → iris, for a batch of pictures,
//! producing raw faces ([`FaceFound`]: box, score, keypoints, landmarks). The
//! geometry (pose, eyes, gaze, lips) is the observation step's
//! ([`crate::observation::observe_face`]).
//!
//! The mesh's ROI is built from a BlazeFace-like box and keypoints derived from
//! YuNet's ([`YuFace::blazeface_box`], [`YuFace::blazeface_keypoints`]: a square
//! box on the eyes and mouth; eyes as they are, and only the eyes are used).
//! `FaceObs` keeps YuNet's own box and five points.
//!
//! Tracking ([`FaceAnalyzer::track`]) follows mediapipe's face-mesh graph: on
//! a frame after one whose faces all have landmarks, each face's ROI is built
//! from its previous landmarks instead of a new detection. The five points
//! come from the mesh (eye centres = the middle of the corners 33/133 and
//! 362/263, nose tip 1, mouth corners 61 and 291), and the YuNet box is moved
//! and scaled with those points. A tracked face keeps its detection score.

use image::RgbImage;

use super::boxes::iou;
use super::landmarks::{FaceBox, LandmarkModels};
use super::yunet::{YuFace, YuNetDetector};
use super::{FaceAnalyzer, FaceFound};

/// Faces whose mesh presence is below this get no landmark-derived values.
pub const MIN_PRESENCE: f32 = 0.5;

pub struct FacePipeline {
    pub detector: YuNetDetector,
    pub landmarks: LandmarkModels,
    /// A detection the face mesh does not confirm (presence under
    /// [`MIN_PRESENCE`]) is kept only at this detector score or above.
    pub unconfirmed_min_score: f32,
    /// A face narrower than this (pixels of the analysed picture) is dropped,
    /// even when the mesh confirms it: the mesh confirms some 9 px faces of a
    /// poster far behind, and a face that small is no one in the room.
    pub min_width_px: f32,
}

impl FacePipeline {
    /// Whether a face found in the picture counts: wide enough, and confirmed
    /// by the mesh or scored high enough by the detector.
    fn counts(&self, f: &FaceFound) -> bool {
        f.bbox[2] - f.bbox[0] >= self.min_width_px && (f.landmarks.is_some() || f.score >= self.unconfirmed_min_score)
    }
}

fn face_box(d: &YuFace) -> FaceBox {
    FaceBox { bbox: d.blazeface_box(), keypoints: d.blazeface_keypoints() }
}

/// Tracks whose boxes overlap more than this are taken to have merged onto one
/// face: the detector decides.
const MAX_TRACK_IOU: f32 = 0.5;

/// YuNet's five points (right eye, left eye, nose tip, right and left mouth
/// corner) read off a face mesh.
fn mesh_keypoints(mesh: &[[f32; 3]]) -> [[f32; 2]; 5] {
    let p = |k: usize| [mesh[k][0], mesh[k][1]];
    let mid = |a: usize, b: usize| [(mesh[a][0] + mesh[b][0]) / 2.0, (mesh[a][1] + mesh[b][1]) / 2.0];
    [mid(33, 133), mid(362, 263), p(1), p(61), p(291)]
}

/// Centre and mean spread of a set of points.
fn centre_spread(points: &[[f32; 2]]) -> ([f32; 2], f32) {
    let n = points.len() as f32;
    let c = [points.iter().map(|p| p[0]).sum::<f32>() / n, points.iter().map(|p| p[1]).sum::<f32>() / n];
    let s = points.iter().map(|p| ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)).sqrt()).sum::<f32>() / n;
    (c, s)
}

/// `bbox` moved and scaled as the points moved from `from` to `to`, clipped to
/// a `w`×`h` picture.
fn follow(bbox: [f32; 4], from: &[[f32; 2]], to: &[[f32; 2]], w: f32, h: f32) -> [f32; 4] {
    let (c0, s0) = centre_spread(from);
    let (c1, s1) = centre_spread(to);
    let k = if s0 > 1e-3 { s1 / s0 } else { 1.0 };
    let x = |v: f32| (c1[0] + k * (v - c0[0])).clamp(0.0, w);
    let y = |v: f32| (c1[1] + k * (v - c0[1])).clamp(0.0, h);
    [x(bbox[0]), y(bbox[1]), x(bbox[2]), y(bbox[3])]
}

impl FaceAnalyzer for FacePipeline {
    fn set_min_score(&mut self, min_score: f32) {
        self.detector.min_score = min_score;
    }

    fn set_unconfirmed_min_score(&mut self, min_score: f32) {
        self.unconfirmed_min_score = min_score;
    }

    fn set_min_width_px(&mut self, min_px: f32) {
        self.min_width_px = min_px;
    }

    fn track(&self, image: &RgbImage, previous: &[FaceFound]) -> anyhow::Result<Option<Vec<FaceFound>>> {
        if previous.is_empty() {
            return Ok(None);
        }
        let mut seeds = Vec::with_capacity(previous.len());
        for f in previous {
            let Some(lm) = &f.landmarks else { return Ok(None) };
            seeds.push(YuFace { bbox: f.bbox, score: f.score, keypoints: mesh_keypoints(&lm.mesh) });
        }
        let items: Vec<(&RgbImage, FaceBox)> = seeds.iter().map(|d| (image, face_box(d))).collect();
        let marks = self.landmarks.run(&items)?;
        let (w, h) = (image.width() as f32, image.height() as f32);
        let mut out: Vec<FaceFound> = Vec::with_capacity(seeds.len());
        for (seed, m) in seeds.iter().zip(marks) {
            if m.presence < MIN_PRESENCE {
                return Ok(None);
            }
            let keypoints = mesh_keypoints(&m.mesh);
            let bbox = follow(seed.bbox, &seed.keypoints, &keypoints, w, h);
            if out.iter().any(|o| iou(&o.bbox, &bbox) > MAX_TRACK_IOU) {
                return Ok(None);
            }
            out.push(FaceFound { bbox, score: seed.score, keypoints: keypoints.to_vec(), landmarks: Some(m) });
        }
        // a followed face that shrank under the size floor is left to the detector
        if out.iter().any(|f| !self.counts(f)) {
            return Ok(None);
        }
        Ok(Some(out))
    }

    fn analyze(&self, images: &[&RgbImage]) -> anyhow::Result<Vec<Vec<FaceFound>>> {
        let dets = self.detector.detect_batch(images)?;
        // every face of every picture through the mesh and iris as one batch
        let items: Vec<(&RgbImage, FaceBox)> = dets
            .iter()
            .enumerate()
            .flat_map(|(i, ds)| ds.iter().map(move |d| (images[i], face_box(d))))
            .collect();
        let marks = if items.is_empty() { Vec::new() } else { self.landmarks.run(&items)? };
        let mut marks = marks.into_iter();
        let mut out = Vec::with_capacity(images.len());
        for ds in dets {
            // a face is wide enough, and one the mesh confirms or the detector is very sure of
            let faces: Vec<FaceFound> = ds
                .into_iter()
                .map(|d| FaceFound {
                    bbox: d.bbox,
                    score: d.score,
                    keypoints: d.keypoints.to_vec(),
                    landmarks: marks.next().filter(|m| m.presence >= MIN_PRESENCE),
                })
                .filter(|f| self.counts(f))
                .collect();
            out.push(faces);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_follows_its_points() {
        let from = [[10.0, 10.0], [30.0, 10.0], [20.0, 20.0], [12.0, 30.0], [28.0, 30.0]];
        // the same points moved by (5, -2) and twice as large about their centre
        let (c, _) = centre_spread(&from);
        let to: Vec<[f32; 2]> = from.iter().map(|p| [c[0] + 5.0 + 2.0 * (p[0] - c[0]), c[1] - 2.0 + 2.0 * (p[1] - c[1])]).collect();
        let b = follow([0.0, 0.0, 40.0, 40.0], &from, &to, 1000.0, 1000.0);
        let want = [c[0] + 5.0 - 2.0 * c[0], c[1] - 2.0 - 2.0 * c[1], c[0] + 5.0 + 2.0 * (40.0 - c[0]), c[1] - 2.0 + 2.0 * (40.0 - c[1])];
        for (g, w) in b.iter().zip(want) {
            assert!((g - w.max(0.0)).abs() < 1e-3, "{b:?} vs {want:?}");
        }
        // clipped to the picture
        let b = follow([0.0, 0.0, 40.0, 40.0], &from, &to, 30.0, 30.0);
        assert!(b.iter().all(|v| (0.0..=30.0).contains(v)), "{b:?}");
    }
}
