//! What the detectors saw in one analysed frame.

use serde::{Deserialize, Serialize};

/// One face found in a frame, with the geometry derived from its landmarks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceObs {
    /// [x0, y0, x1, y1] in pixels of the upright frame.
    pub bbox: [f32; 4],
    pub score: f32,
    /// Five detector keypoints (YuNet): right eye, left eye, nose tip, right and
    /// left mouth corner (the subject's right/left), pixels.
    pub keypoints: Vec<[f32; 2]>,
    /// Head pose in degrees; `None` when the landmark model did not run.
    pub yaw: Option<f32>,
    pub pitch: Option<f32>,
    pub roll: Option<f32>,
    pub ear_left: Option<f32>,
    pub ear_right: Option<f32>,
    pub gaze_x: Option<f32>,
    pub gaze_y: Option<f32>,
    /// Lip opening (inner-lip gap over mouth width) from the mesh.
    #[serde(default)]
    pub mouth_open: Option<f32>,
}

impl FaceObs {
    pub fn area(&self) -> f32 {
        (self.bbox[2] - self.bbox[0]).max(0.0) * (self.bbox[3] - self.bbox[1]).max(0.0)
    }

    /// Distance in pixels between the eye keypoints (the first two), or 0.4
    /// of the box width when the keypoints are missing.
    pub fn eye_distance(&self) -> f32 {
        match self.keypoints.as_slice() {
            [a, b, ..] => ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt(),
            _ => 0.4 * (self.bbox[2] - self.bbox[0]).max(0.0),
        }
    }

    /// Mean eye aspect ratio of the two eyes, when both are known.
    pub fn ear(&self) -> Option<f32> {
        Some((self.ear_left? + self.ear_right?) / 2.0)
    }
}

/// One object found in a frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectObs {
    /// Detector class name (COCO), e.g. "cell phone".
    pub class: String,
    /// Proctoring category: phone, book, device or person.
    pub category: String,
    pub score: f32,
    pub bbox: [f32; 4],
    /// Whether the box overlaps a palm the palm detector found in the same
    /// picture (`objects.hand_crop`): held in a hand.
    #[serde(default)]
    pub in_hand: bool,
    /// Which of the subject's hands holds it (`"left"` or `"right"`), where the
    /// hand landmark model was sure of the hand it touches (`None` otherwise,
    /// and in files written before it was looked for).
    #[serde(default)]
    pub hand: Option<String>,
    /// The best other class the detector gave the same box, with its score
    /// (`None` in files written before it was kept).
    #[serde(default)]
    pub runner_up: Option<(String, f32)>,
}

/// The face descriptor of one face of a frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaceEmbedding {
    /// Index of the face in [`Observation::faces`] (largest first).
    pub face: usize,
    pub descriptor: Vec<f32>,
    /// Distance to the reference photo or the enrolled candidate, once
    /// compared (`None` when nobody was enrolled).
    pub distance: Option<f32>,
}

/// Everything observed at one analysis time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Sample index k: the frame analysed at t = k / fps.
    pub index: usize,
    /// Analysis time in seconds.
    pub t: f64,
    /// Timestamp of the decoded frame shown at `t`.
    pub pts: f64,
    pub width: u32,
    pub height: u32,
    /// Mean luma (BT.601, 0-255) of the frame: a cheap check for black or
    /// covered cameras.
    pub mean_luma: f32,
    /// Audio level (RMS dBFS) around `t`; `None` without audio.
    pub audio_db: Option<f32>,
    /// Level (RMS dBFS) of the loudest 32 ms window of the same audio around
    /// `t`: a short sound (a slam, a knock) is this loud, while `audio_db`
    /// averages it with the half second around it; `None` without audio (and
    /// in files saved before it was kept).
    #[serde(default)]
    pub audio_peak_db: Option<f32>,
    /// Faces, largest first; `None` when face detection did not run.
    pub faces: Option<Vec<FaceObs>>,
    /// Objects; `None` when the object detector did not run on this frame
    /// (it runs on a slower schedule than faces).
    pub objects: Option<Vec<ObjectObs>>,
    /// Whether the face detector ran on this frame (elsewhere the faces were
    /// tracked from the frame before by their landmarks, or none was in view
    /// to follow).
    #[serde(default)]
    pub faces_detected: bool,
    /// Whether the faces of this frame were described for identity (face
    /// descriptors computed: the frame was sampled for identity). Saved
    /// (the descriptors are not), so the rules read it from the tables.
    #[serde(default)]
    pub faces_described: bool,
    /// Whether the object detector ran on this frame. `objects` is `Some`
    /// without it on the frames of the object rate where the picture had not
    /// changed since the detector last ran (`analysis.schedule = "changes"`):
    /// they carry that run's objects.
    #[serde(default)]
    pub objects_detected: bool,
    /// Highest speech probability (Silero VAD) of the audio around `t`;
    /// `None` without audio or when speech detection did not run.
    #[serde(default)]
    pub speech: Option<f32>,
    /// How much the lone face's lips moved around `t` (standard deviation of
    /// its lip opening over the frames within 0.5 s); `None` without a lone
    /// face measured in at least 3 of those frames.
    #[serde(default)]
    pub mouth_motion: Option<f32>,
    /// Cosine similarity of the voice of the speech segment around `t`
    /// (Resemblyzer embedding) to the candidate's voice enrolled from the
    /// session; `None` without a speech segment there or without an enrolment.
    #[serde(default)]
    pub voice_similarity: Option<f32>,
    /// Speech that is not the candidate's, by the picture (no face in view,
    /// or the lone face's lips still) and by the voice (unlike the enrolled
    /// candidate's): the speech probability when both say so, times
    /// [`ONE_SIGNAL`] when one says so and the other cannot tell, else 0;
    /// `None` when speech was not checked.
    #[serde(default)]
    pub other_voice: Option<f32>,
    /// Face descriptors (dlib ResNet, 128-d) on the frames sampled for
    /// identity, one for every face with landmarks. Kept in memory; written
    /// only with `--save-embeddings`.
    #[serde(skip)]
    pub embeddings: Vec<FaceEmbedding>,
    /// Distance of that descriptor to the candidate enrolled from the session.
    #[serde(default)]
    pub identity_distance: Option<f32>,
    /// Distance of that descriptor to the reference photo (`--reference`).
    #[serde(default)]
    pub reference_distance: Option<f32>,
    /// Which face (index into `faces`) is the candidate's, on the frames
    /// sampled for identity: the judgeable face closest to the reference or
    /// the enrolled candidate, when under the same-person threshold.
    #[serde(default)]
    pub candidate_face: Option<u32>,
    /// That face's descriptor distance to the candidate.
    #[serde(default)]
    pub candidate_distance: Option<f32>,
    /// Clustering (the second identity signal, without a reference photo):
    /// on a sampled frame whose lone face belongs to an identity of the
    /// recording (a group of descriptors holding enough seconds of samples),
    /// the distance from that identity's centre to the centre of the first
    /// identity seen (0 for the first identity's own samples); `None` where
    /// the face belongs to no such identity or clustering did not run.
    #[serde(default)]
    pub cluster_distance: Option<f32>,
}

impl Observation {
    /// A frame (`width` x `height`, analysed at `t`, sample `index`) in which
    /// faces were looked for and `faces` found, and nothing else observed:
    /// what tests and tools build their observations from.
    pub fn with_faces(index: usize, t: f64, (width, height): (u32, u32), faces: Vec<FaceObs>) -> Observation {
        Observation { index, t, pts: t, width, height, faces: Some(faces), ..Default::default() }
    }

    pub fn face_count(&self) -> Option<usize> {
        self.faces.as_ref().map(|f| f.len())
    }

    /// The largest face: taken to be the candidate's.
    pub fn primary_face(&self) -> Option<&FaceObs> {
        self.faces.as_ref().and_then(|f| f.first())
    }

    /// The faces that count (detector score at least `min_score`), largest
    /// first; `None` when face detection did not run.
    pub fn faces_above(&self, min_score: f32) -> Option<impl Iterator<Item = &FaceObs> + '_> {
        self.faces.as_ref().map(|f| f.iter().filter(move |x| x.score >= min_score))
    }

    /// The face when it is the only one that counts. Pose and gaze are the
    /// candidate's only while they are alone in the frame: with several faces
    /// the largest one need not be theirs.
    pub fn solo_face(&self, min_score: f32) -> Option<&FaceObs> {
        let mut counted = self.faces_above(min_score)?;
        let first = counted.next()?;
        counted.next().is_none().then_some(first)
    }
}

