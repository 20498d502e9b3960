//! The face path: YuNet boxes → face mesh → iris, for a batch of pictures,
//! producing raw faces ([`FaceFound`]: box, score, keypoints, landmarks). The
//! geometry (pose, eyes, gaze, lips) is the observation step's
//! ([`crate::observation::observe_face`]).
//!
//! The mesh's ROI is built from a BlazeFace-like box and keypoints derived from
//! YuNet's ([`YuFace::blazeface_box`], [`YuFace::blazeface_keypoints`]: a square
//! box on the eyes and mouth; eyes as they are, and only the eyes are used).
//! `FaceObs` keeps YuNet's own box and five points.

use image::RgbImage;

use super::landmarks::{FaceBox, LandmarkModels};
use super::yunet::{YuFace, YuNetDetector};
use super::{FaceAnalyzer, FaceFound};

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
            let faces: Vec<FaceFound> = ds
                .into_iter()
                .map(|d| FaceFound {
                    bbox: d.bbox,
                    score: d.score,
                    keypoints: d.keypoints.to_vec(),
                    landmarks: marks.next().filter(|m| m.presence >= MIN_PRESENCE),
                })
                .collect();
            out.push(faces);
        }
        Ok(out)
    }
}
