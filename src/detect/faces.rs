//! The face path: YuNet boxes → face mesh → iris → geometry, for a batch of
//! pictures, producing the per-face observations.
//!
//! The mesh's ROI is built from a BlazeFace-like box and keypoints derived from
//! YuNet's ([`YuFace::blazeface_box`], [`YuFace::blazeface_keypoints`]: a square
//! box on the eyes and mouth; eyes as they are, and only the eyes are used).
//! `FaceObs` keeps YuNet's own box and five points.

use image::RgbImage;

use super::landmarks::{FaceBox, LandmarkModels};
use super::yunet::{YuFace, YuNetDetector};
use super::FaceAnalyzer;
use crate::analysis::geometry::{eye_aspect_ratio, gaze, head_pose, mouth_opening, Eye};
use crate::observation::FaceObs;

/// Faces whose mesh presence is below this get no landmark-derived values.
pub const MIN_PRESENCE: f32 = 0.5;

pub struct FacePipeline {
    pub detector: YuNetDetector,
    pub landmarks: LandmarkModels,
}

fn face_box(d: &YuFace) -> FaceBox {
    FaceBox { bbox: d.blazeface_box(), keypoints: d.blazeface_keypoints() }
}

impl FaceAnalyzer for FacePipeline {
    fn set_min_score(&mut self, min_score: f32) {
        self.detector.min_score = min_score;
    }

    fn analyze(&self, images: &[&RgbImage]) -> anyhow::Result<Vec<Vec<FaceObs>>> {
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
            let mut faces: Vec<FaceObs> = ds
                .into_iter()
                .map(|d| {
                    let lm = marks.next().filter(|m| m.presence >= MIN_PRESENCE);
                    let pose = lm.as_ref().and_then(|m| head_pose(&m.mesh));
                    let g = lm.as_ref().and_then(|m| gaze(&m.mesh, m.right_iris[0], m.left_iris[0]));
                    FaceObs {
                        bbox: d.bbox,
                        score: d.score,
                        keypoints: d.keypoints.to_vec(),
                        yaw: pose.map(|p| p.yaw),
                        pitch: pose.map(|p| p.pitch),
                        roll: pose.map(|p| p.roll),
                        ear_left: lm.as_ref().map(|m| eye_aspect_ratio(&m.mesh, Eye::Left)),
                        ear_right: lm.as_ref().map(|m| eye_aspect_ratio(&m.mesh, Eye::Right)),
                        gaze_x: g.map(|g| g.x),
                        gaze_y: g.map(|g| g.y),
                        mouth_open: lm.as_ref().map(|m| mouth_opening(&m.mesh)),
                    }
                })
                .collect();
            faces.sort_by(|a, b| b.area().total_cmp(&a.area()));
            out.push(faces);
        }
        Ok(out)
    }
}
