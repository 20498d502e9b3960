//! Detectors: what looks at pictures. The networks live in their own files
//! (`yunet`, `facemesh` and `iris` with `landmarks` around them, `yolox`,
//! `palm` for the hands, `face_embed`); the pre- and post-processing they share is written once
//! (`letterbox`, `boxes`: the box type, IoU and NMS; `ops`: the 1x1, depthwise
//! and 3x3 layers and their CPU kernels); this module holds the interfaces the
//! pipeline calls, so that a model can be swapped without touching the rest.

pub mod boxes;
pub mod face_embed;
pub mod facemesh;
pub mod faces;
pub mod hand;
pub mod iris;
pub mod landmarks;
pub mod letterbox;
pub mod ops;
pub mod palm;
pub mod simd;
mod tflite_ops;
pub mod models;
pub mod objects;
pub mod yolox;
pub mod yunet;

use image::RgbImage;

pub use objects::{ObjectDetection, ObjectModel, COCO_LABELS};


/// Finds faces (and their landmarks, pose, eyes and gaze) in a batch of
/// pictures. One call is one batch through each network.
pub trait FaceAnalyzer: Send + Sync {
    /// Per picture, the faces found: raw detections with their landmarks.
    fn analyze(&self, images: &[&RgbImage]) -> anyhow::Result<Vec<Vec<FaceFound>>>;

    /// The faces of `previous` (the frame before, in time order) followed into
    /// `image` by their landmarks, without running the detector: each face's
    /// mesh is placed where its previous landmarks were. `None` when tracking
    /// cannot answer for this frame (no face to follow, a face without
    /// landmarks, a face lost, two tracks on one face): the caller runs
    /// [`FaceAnalyzer::analyze`] instead. A tracker sees only the faces it was
    /// given, so the caller still runs the detector on a schedule.
    fn track(&self, _image: &RgbImage, _previous: &[FaceFound]) -> anyhow::Result<Option<Vec<FaceFound>>> {
        Ok(None)
    }

    /// Floor on the detector's face score (the config's `face_min_score`):
    /// weaker faces are not reported at all.
    fn set_min_score(&mut self, min_score: f32);

    /// Floor on the detector's score for a detection the landmark model does
    /// not confirm as a face (the config's `face_unconfirmed_min_score`).
    fn set_unconfirmed_min_score(&mut self, _min_score: f32) {}

    /// Faces narrower than this many pixels of the analysed picture are not
    /// reported at all, confirmed by the mesh or not (the config's `face_min_px`).
    fn set_min_width_px(&mut self, _min_px: f32) {}
}

/// One face as the detectors saw it: the detector's box, score and keypoints
/// (pixels of the picture), and the mesh and iris landmarks when the landmark
/// model found a face there (presence at least 0.5).
#[derive(Debug, Clone, PartialEq)]
pub struct FaceFound {
    pub bbox: [f32; 4],
    pub score: f32,
    pub keypoints: Vec<[f32; 2]>,
    pub landmarks: Option<landmarks::FaceLandmarks>,
}

pub use crate::records::Provenance;

/// The detectors a run uses. Either may be absent (for example when the
/// models were not built in), in which case those observations stay empty.
#[derive(Default)]
pub struct Models {
    pub faces: Option<Box<dyn FaceAnalyzer>>,
    pub objects: Option<Box<dyn ObjectModel>>,
    /// Palm detection, for the crops around hands (loaded with the objects,
    /// unless `objects.hand_crop` is off).
    pub hands: Option<palm::PalmDetector>,
    /// Hand landmarks, for which hand holds a phone or book (loaded with the palms).
    pub hand_landmarks: Option<hand::HandLandmarker>,
    /// Speech detection (Silero VAD) over the audio.
    pub speech: Option<crate::audio::SileroVad>,
    /// Speaker embedding (Resemblyzer) of speech segments: whose voice.
    pub speaker: Option<crate::audio::SpeakerEncoder>,
    /// Face descriptor (dlib ResNet) for identity.
    pub identity: Option<face_embed::FaceEmbedder>,
    pub provenance: Vec<Provenance>,
}
