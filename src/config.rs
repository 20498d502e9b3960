//! Configuration: analysis rates, event thresholds and the scoring policy.
//!
//! Every value has a default; a `proctor.toml` overrides any subset of them.
//! `proctor config` prints the full default file.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::kinds::{background_noise, gaze_away, loud_audio, EventKind};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub analysis: AnalysisConfig,
    pub events: EventConfig,
    pub objects: ObjectConfig,
    pub policy: Policy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalysisConfig {
    /// Frames analysed per second of media (faces, pose, gaze, eyes).
    pub fps: f64,
    /// Frames per second given to the (slower) object detector.
    pub object_fps: f64,
    /// Face detector runs per second of media. In between, faces are tracked:
    /// each frame's face mesh is placed from the previous frame's landmarks,
    /// and the detector runs again as soon as a face is lost. A face that
    /// comes into view is found within `1 / face_detect_fps` seconds. Equal
    /// to `fps`: the detector looks at every analysed frame.
    pub face_detect_fps: f64,
    /// Decoded frames are scaled down to at most this many pixels on the long side.
    pub max_side: u32,
    /// Audio level window around each analysed frame, in seconds.
    pub audio_window_s: f64,
    /// Analyse the audio (levels and speech); off: loud_audio and voices are
    /// reported as not checked.
    pub audio: bool,
    /// Face descriptors per second of media for identity (0: identity off).
    pub identity_fps: f64,
    /// When the face detector and the object detector run on the frames of
    /// their rates (`face_detect_fps`, `object_fps`): `"changes"`, only where
    /// the picture they look at changed since they last ran, and at least
    /// every `schedule_floor_s`; `"clock"`, on every one of those frames.
    pub schedule: Schedule,
    /// With `schedule = "changes"`: every detector runs at least this often
    /// (seconds of media), however still the picture.
    pub schedule_floor_s: f64,
    /// With `schedule = "changes"`: the picture changed where a cell of its
    /// grey thumbnail (32 cells on the long side) differs by more than this
    /// many grey levels (0-255) from the frame where the detector last ran,
    /// moved by up to 4 pixels in 640 (see [`crate::schedule`]).
    pub change_level: f64,
    /// With `schedule = "changes"`: after a change, the object detector runs
    /// on every frame of its rate for this many seconds of media (a video
    /// encoder sharpens a new picture over several frames: what the first
    /// frames of a change hide, later ones show), also across the segments of
    /// the floor. The face detector runs once more after a change.
    pub settle_s: f64,
}

/// When the detectors run: see [`AnalysisConfig::schedule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    Changes,
    Clock,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            fps: 4.0,
            object_fps: 1.0,
            face_detect_fps: 1.0,
            max_side: 640,
            audio_window_s: 0.5,
            audio: true,
            identity_fps: 0.5,
            schedule: Schedule::Changes,
            schedule_floor_s: 5.0,
            change_level: 20.0,
            settle_s: 4.0,
        }
    }
}

/// Thresholds that turn per-frame observations into events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventConfig {
    /// Violations separated by a shorter gap are one event.
    pub merge_gap_s: f64,
    /// Minimum detector score for a face to count.
    pub face_min_score: f64,
    /// A detection the face mesh does not confirm as a face (presence under
    /// 0.5) counts only at this detector score or above.
    pub face_unconfirmed_min_score: f64,
    /// A face narrower than this many pixels of the analysed picture (long
    /// side at most `analysis.max_side`; YuNet's box) is not counted, confirmed
    /// by the face mesh or not: halfway between a poster's faces far behind
    /// (8.5-9.0 px) and the smallest real faces of the tuning half (12-13 px in
    /// `bus.jpg` at 320, 17 px in the crowd behind devset E05's man).
    pub face_min_px: f64,
    pub no_face_min_s: f64,
    /// Stretches without a face at least this long are drawn on the report's
    /// timeline, also when shorter than `no_face_min_s`.
    pub absence_mark_s: f64,
    pub multiple_faces_min_s: f64,
    /// Head turned more than this (degrees, relative to the candidate's median).
    pub looking_away_yaw_deg: f64,
    pub looking_away_pitch_deg: f64,
    pub looking_away_min_s: f64,
    /// Horizontal iris offset from the eye centre, as a fraction of half the
    /// eye width, relative to the candidate's median.
    pub gaze_away_ratio: f64,
    /// Gaze is only judged while the head is within this many degrees of the
    /// candidate's usual yaw (a turned head is looking_away's business).
    pub gaze_max_head_yaw_deg: f64,
    pub gaze_away_min_s: f64,
    /// Eye aspect ratio below which eyes count as closed ...
    pub eyes_closed_ear: f64,
    /// ... and below this fraction of the candidate's own open-eye aspect
    /// ratio (the upper quartile over the session; the lower of the two is the
    /// threshold), so narrow eyes are not flagged as closed.
    pub eyes_closed_ratio: f64,
    pub eyes_closed_min_s: f64,
    /// Once eyes count as closed they stay closed until the eye aspect ratio
    /// rises this far above the threshold: a per-frame measurement hovering at
    /// the threshold does not chop one closing into runs too short to count.
    pub eyes_closed_hysteresis: f64,
    /// Eyes and gaze are judged only on faces whose eyes are at least this
    /// many pixels apart: on smaller faces the mesh cannot measure them
    /// (the face still counts for no_face and multiple_faces).
    pub eye_min_distance_px: f64,
    /// An object must be seen in `object_min_hits` of `object_window`
    /// consecutive object samples.
    pub object_window: usize,
    pub object_min_hits: usize,
    /// A person counts for `person` only when their box is at least this
    /// fraction of the frame's height (near the camera, not a crowd behind).
    pub person_min_height: f64,
    /// Audio louder than this (RMS dBFS over each frame's level window,
    /// `analysis.audio_window_s`) ...
    pub loud_audio_db: f64,
    /// ... seen for at least this long is a loud_audio event (see
    /// [`loud_audio`]: one frame at 4 fps is half a second over the ceiling).
    pub loud_audio_min_s: f64,
    /// Under the candidate's own speech, loud_audio also asks this many dB
    /// over the candidate's speech level (the median level of the frames
    /// with the candidate's speech): the voice itself never fires it.
    pub loud_audio_speech_over_db: f64,
    /// background_noise: sound with no speech near it at least this many dB
    /// above the room's noise floor (10th percentile of the levels) ...
    pub background_noise_db: f64,
    /// ... and louder than this (dBFS), ...
    pub background_noise_min_dbfs: f64,
    /// ... for at least this long, ...
    pub background_noise_min_s: f64,
    /// ... or this long when it peaks this many dB above the floor (a slam).
    pub background_noise_transient_s: f64,
    pub background_noise_transient_db: f64,
    /// An impulse (a slam) is a sound whose loudest 32 ms stand this many dB
    /// over its loudest half second: it is judged by its loudest 32 ms
    /// against `background_noise_transient_db`.
    pub background_noise_impulse_db: f64,
    /// Speech probability (Silero VAD) from which audio counts as speech.
    pub speech_min: f64,
    /// Lips whose opening varies less than this (standard deviation over
    /// 1 s) are still: speech heard meanwhile is someone else's.
    pub mouth_still: f64,
    /// Another voice (speech with no face in view, or with the candidate's
    /// lips still, or in a voice unlike the candidate's) heard for at least
    /// this long is a voices event.
    pub voices_min_s: f64,
    /// Speech whose voice is less similar than this (cosine of Resemblyzer
    /// embeddings) to the candidate's enrolled voice is another voice ...
    pub voice_other_max: f64,
    /// ... and at least this similar, the candidate's own (it then overrides
    /// still lips or an empty picture). In between, the picture decides.
    pub voice_same_min: f64,
    /// Face descriptors farther apart than this (Euclidean, dlib's scale) are
    /// different people.
    pub identity_max_distance: f64,
    /// A lone face that does not match for at least this long is an identity
    /// (or candidate_changed) event.
    pub identity_min_s: f64,
    /// The candidate is enrolled from this many lone-face descriptors at the
    /// opening of the session (the first that hold one identity; at least 3).
    pub identity_enrol_samples: usize,
    /// When the descriptors enrolled from start later than this (seconds),
    /// the analysis warns that the opening showed no usable face.
    pub identity_opening_s: f64,
    /// Clustering, the second identity signal: groups of lone-face
    /// descriptors (within 0.5 of their centre) whose centres lie at least
    /// this far apart are different people.
    pub identity_cluster_gap: f64,
    /// ... when each group holds at least this many seconds of lone-face
    /// samples (samples times the sampling interval).
    pub identity_cluster_min_s: f64,
    /// Judge head pose and gaze relative to the candidate's own median.
    pub baseline: bool,
}

impl EventConfig {
    /// The thresholds of [`gaze_away`].
    pub fn gaze_away(&self) -> gaze_away::Thresholds {
        gaze_away::Thresholds { ratio: self.gaze_away_ratio, max_head_yaw_deg: self.gaze_max_head_yaw_deg, min_s: self.gaze_away_min_s }
    }

    /// The thresholds of [`loud_audio`].
    pub fn loud_audio(&self) -> loud_audio::Thresholds {
        loud_audio::Thresholds { db: self.loud_audio_db, min_s: self.loud_audio_min_s, speech_over_db: self.loud_audio_speech_over_db }
    }

    /// The thresholds of [`background_noise`].
    pub fn background_noise(&self) -> background_noise::Thresholds {
        background_noise::Thresholds {
            above_floor_db: self.background_noise_db,
            min_dbfs: self.background_noise_min_dbfs,
            min_s: self.background_noise_min_s,
            transient_s: self.background_noise_transient_s,
            transient_db: self.background_noise_transient_db,
            impulse_db: self.background_noise_impulse_db,
            speech_min: self.speech_min,
        }
    }
}

impl Default for EventConfig {
    fn default() -> Self {
        EventConfig {
            merge_gap_s: 1.5,
            face_min_score: 0.5,
            face_unconfirmed_min_score: 0.75,
            face_min_px: 10.5,
            no_face_min_s: 5.0,
            absence_mark_s: 2.0,
            multiple_faces_min_s: 2.0,
            looking_away_yaw_deg: 25.0,
            looking_away_pitch_deg: 20.0,
            looking_away_min_s: 5.0,
            gaze_away_ratio: gaze_away::DEFAULTS.ratio,
            gaze_max_head_yaw_deg: gaze_away::DEFAULTS.max_head_yaw_deg,
            gaze_away_min_s: gaze_away::DEFAULTS.min_s,
            eyes_closed_ear: 0.21,
            eyes_closed_ratio: 0.7,
            eyes_closed_min_s: 3.0,
            eyes_closed_hysteresis: 0.02,
            eye_min_distance_px: 24.0,
            object_window: 3,
            object_min_hits: 2,
            person_min_height: 0.3,
            loud_audio_db: loud_audio::DEFAULTS.db,
            loud_audio_min_s: loud_audio::DEFAULTS.min_s,
            loud_audio_speech_over_db: loud_audio::DEFAULTS.speech_over_db,
            background_noise_db: background_noise::DEFAULTS.above_floor_db,
            background_noise_min_dbfs: background_noise::DEFAULTS.min_dbfs,
            background_noise_min_s: background_noise::DEFAULTS.min_s,
            background_noise_transient_s: background_noise::DEFAULTS.transient_s,
            background_noise_transient_db: background_noise::DEFAULTS.transient_db,
            background_noise_impulse_db: background_noise::DEFAULTS.impulse_db,
            speech_min: 0.5,
            mouth_still: 0.035,
            voices_min_s: 2.0,
            voice_other_max: 0.7,
            voice_same_min: 0.8,
            identity_max_distance: 0.6,
            identity_min_s: 4.0,
            identity_enrol_samples: 5,
            identity_opening_s: 30.0,
            identity_cluster_gap: 0.7,
            identity_cluster_min_s: 8.0,
            baseline: true,
        }
    }
}

/// The object detector (COCO 80 classes): YOLOX-nano, the only one built in. The key
/// `[objects] model` stays so that configuration files naming it keep loading (and the
/// configuration's TOML and fingerprint stay as they were); NanoDet-g, the other value it
/// once took, was retired (models/README.md), and `model = "nanodet"` is an error naming
/// the key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectModelKind {
    /// YOLOX-nano: 1.05 GFLOPs a frame, COCO AP 25.8.
    #[default]
    Yolox,
}

impl<'de> Deserialize<'de> for ObjectModelKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        match name.as_str() {
            "yolox" => Ok(ObjectModelKind::Yolox),
            "nanodet" => Err(serde::de::Error::custom(
                "objects.model = \"nanodet\": NanoDet-g was retired; the only object model is \"yolox\" (remove the key or set it to \"yolox\")",
            )),
            other => Err(serde::de::Error::custom(format!("objects.model = {other:?}: the only object model is \"yolox\""))),
        }
    }
}

/// Which object detector runs, which detector classes make up each proctoring
/// category, and the score each must reach.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectConfig {
    /// "yolox", the only one (the key may be left out).
    pub model: ObjectModelKind,
    #[serde(deserialize_with = "over_default_categories")]
    pub categories: BTreeMap<String, Vec<String>>,
    #[serde(deserialize_with = "over_default_min_score")]
    pub min_score: BTreeMap<String, f64>,
    /// On frames with a face, look again at a magnified crop around the largest
    /// face (where a phone at the ear or in a hand is) and add the phones found
    /// there. A second object-detector pass on those frames.
    pub face_crop: bool,
    /// A `cell phone` box covering at least this fraction of the picture gets the
    /// score of a `remote` box on the same object added (a phone held up close is
    /// scored half as one, half as the other; `detect::objects::join_large_phones`).
    /// A value above 1 turns this off.
    pub large_phone_min_area: f64,
}

/// A table given in the file is laid over the default table, key by key.
fn over_default<'de, D, K, V>(d: D, mut base: BTreeMap<K, V>) -> std::result::Result<BTreeMap<K, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    K: Ord + Deserialize<'de>,
    V: Deserialize<'de>,
{
    base.extend(BTreeMap::<K, V>::deserialize(d)?);
    Ok(base)
}

fn over_default_deductions<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<BTreeMap<EventKind, f64>, D::Error> {
    over_default(d, Policy::default().deductions)
}

fn over_default_full_at_s<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<BTreeMap<EventKind, f64>, D::Error> {
    over_default(d, Policy::default().full_at_s)
}

fn over_default_categories<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<BTreeMap<String, Vec<String>>, D::Error> {
    over_default(d, ObjectConfig::default().categories)
}

fn over_default_min_score<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<BTreeMap<String, f64>, D::Error> {
    over_default(d, ObjectConfig::default().min_score)
}

impl Default for ObjectConfig {
    fn default() -> Self {
        let cat = |c: &str, v: &[&str]| (c.to_string(), v.iter().map(|s| s.to_string()).collect());
        ObjectConfig {
            model: ObjectModelKind::default(),
            categories: BTreeMap::from([
                cat("phone", &["cell phone"]),
                cat("book", &["book"]),
                cat("device", &["laptop", "tv", "keyboard", "mouse", "remote"]),
                cat("person", &["person"]),
            ]),
            // Chosen for YOLOX-nano's obj x cls scores on ../shared/devset (README, Accuracy):
            // phones at the ear score 0.15-0.28, a fist 0.59 in one frame only.
            min_score: BTreeMap::from([
                ("phone".into(), 0.25),
                ("book".into(), 0.35),
                ("device".into(), 0.60),
                ("person".into(), 0.50),
            ]),
            face_crop: true,
            // the devset's phones (on a desk, at the ear) are under 3% of the picture
            large_phone_min_area: 0.05,
        }
    }
}

impl ObjectConfig {
    /// The category of a detector class, if it is one proctor cares about.
    pub fn category_of(&self, class: &str) -> Option<&str> {
        self.categories.iter().find(|(_, v)| v.iter().any(|c| c == class)).map(|(k, _)| k.as_str())
    }

    pub fn min_score_of(&self, category: &str) -> f32 {
        self.min_score.get(category).copied().unwrap_or(0.5) as f32
    }
}

/// How events turn into the integrity score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Points deducted per event of each kind (kinds left out keep their
    /// default; set 0 to ignore a kind).
    #[serde(deserialize_with = "over_default_deductions")]
    pub deductions: BTreeMap<EventKind, f64>,
    /// Optional maximum total deduction per kind.
    pub caps: BTreeMap<EventKind, f64>,
    /// Kinds whose deduction scales with the event's duration: an event this
    /// long (seconds) or longer costs the whole deduction, a shorter one its
    /// share (no_face: a 5 s absence costs half of a 10 s one).
    #[serde(deserialize_with = "over_default_full_at_s")]
    pub full_at_s: BTreeMap<EventKind, f64>,
    /// Score at or above which the risk is low.
    pub low_risk_min: f64,
    /// Score at or above which the risk is medium (below: high).
    pub medium_risk_min: f64,
}

impl Default for Policy {
    fn default() -> Self {
        use EventKind::*;
        Policy {
            deductions: BTreeMap::from([
                (MultipleFaces, 20.0),
                (NoFace, 15.0),
                (Phone, 15.0),
                (Book, 10.0),
                (Device, 10.0),
                (Person, 15.0),
                (LookingAway, 5.0),
                (GazeAway, gaze_away::DEDUCTION),
                (EyesClosed, 5.0),
                (LoudAudio, loud_audio::DEDUCTION),
                (BackgroundNoise, background_noise::DEDUCTION),
                (Voices, 2.0),
                (Identity, 40.0),
                (CandidateChanged, 40.0),
            ]),
            caps: BTreeMap::new(),
            full_at_s: BTreeMap::from([(NoFace, 10.0)]),
            low_risk_min: 85.0,
            medium_risk_min: 70.0,
        }
    }
}

impl Config {
    /// Read a `proctor.toml`; keys it leaves out keep their defaults.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::new(path, ErrorKind::Unreadable(e)))?;
        let cfg: Config = toml::from_str(&text).map_err(|e| Error::new(path, ErrorKind::Config(one_line(&text, &e))))?;
        cfg.validate().map_err(|why| Error::new(path, ErrorKind::Config(why)))?;
        Ok(cfg)
    }

    pub fn validate(&self) -> std::result::Result<(), String> {
        let a = &self.analysis;
        if !(a.fps > 0.0 && a.fps <= 60.0) {
            return Err(format!("analysis.fps must be in (0, 60], not {}", a.fps));
        }
        if !(a.object_fps > 0.0 && a.object_fps <= a.fps) {
            return Err(format!("analysis.object_fps must be in (0, fps], not {}", a.object_fps));
        }
        if !(a.face_detect_fps > 0.0 && a.face_detect_fps <= a.fps) {
            return Err(format!("analysis.face_detect_fps must be in (0, fps], not {}", a.face_detect_fps));
        }
        if !(a.identity_fps >= 0.0 && a.identity_fps <= a.fps) {
            return Err(format!("analysis.identity_fps must be in [0, fps], not {}", a.identity_fps));
        }
        if !(a.schedule_floor_s >= 1.0 / a.face_detect_fps.min(a.object_fps) && a.schedule_floor_s <= 60.0) {
            return Err(format!(
                "analysis.schedule_floor_s must be in [1 / min(face_detect_fps, object_fps), 60], not {}",
                a.schedule_floor_s
            ));
        }
        if !(a.change_level >= 0.0 && a.change_level <= 255.0) {
            return Err(format!("analysis.change_level must be in [0, 255], not {}", a.change_level));
        }
        if !(a.settle_s >= 0.0 && a.settle_s <= 60.0) {
            return Err(format!("analysis.settle_s must be in [0, 60], not {}", a.settle_s));
        }
        if a.max_side < 64 {
            return Err("analysis.max_side must be at least 64".into());
        }
        let e = &self.events;
        if !(e.eyes_closed_hysteresis >= 0.0 && e.eyes_closed_hysteresis < 0.2) {
            return Err(format!("events.eyes_closed_hysteresis must be in [0, 0.2), not {}", e.eyes_closed_hysteresis));
        }
        if e.object_min_hits == 0 || e.object_min_hits > e.object_window {
            return Err("events.object_min_hits must be in 1..=object_window".into());
        }
        if !(-1.0..=1.0).contains(&e.voice_other_max) || !(e.voice_other_max..=1.0).contains(&e.voice_same_min) {
            return Err(format!(
                "events.voice_other_max and voice_same_min are cosine similarities: need -1 <= voice_other_max <= voice_same_min <= 1, not {} and {}",
                e.voice_other_max, e.voice_same_min
            ));
        }
        if !(e.identity_cluster_gap > 0.0) || !(e.identity_cluster_min_s >= 0.0) {
            return Err(format!(
                "events.identity_cluster_gap must be above 0 and identity_cluster_min_s at least 0, not {} and {}",
                e.identity_cluster_gap, e.identity_cluster_min_s
            ));
        }
        if self.policy.medium_risk_min > self.policy.low_risk_min {
            return Err("policy.medium_risk_min must not exceed policy.low_risk_min".into());
        }
        // a score is 100 minus deductions: each one a finite number of points
        let p = &self.policy;
        for (table, values) in [("deductions", &p.deductions), ("caps", &p.caps), ("full_at_s", &p.full_at_s)] {
            if let Some((kind, v)) = values.iter().find(|(_, v)| !(v.is_finite() && **v >= 0.0 && **v <= 1e6)) {
                return Err(format!("policy.{table}.{kind} must be a number in [0, 1000000], not {v}"));
            }
        }
        Ok(())
    }

    /// The configuration as TOML, for `proctor config` and the report.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises")
    }

    /// A short stable hash of the configuration, for resumable batch runs.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let h = sha2::Sha256::digest(self.to_toml().as_bytes());
        h.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}

/// A policy file for `proctor report --policy`: either a whole proctor.toml or
/// just the `[policy]` table's keys at top level.
pub fn load_policy(path: &Path) -> Result<Policy> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::new(path, ErrorKind::Unreadable(e)))?;
    if let Ok(cfg) = toml::from_str::<Config>(&text) {
        if text.contains("[policy") {
            return Ok(cfg.policy);
        }
    }
    toml::from_str::<Policy>(&text).map_err(|e| Error::new(path, ErrorKind::Config(one_line(&text, &e))))
}

/// A TOML error of `text` on one line: where (line and column) and what, without the
/// excerpt of the file that the error's own text spreads over several lines.
fn one_line(text: &str, e: &toml::de::Error) -> String {
    let what = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    match e.span() {
        Some(span) => {
            let before = &text[..text.floor_char_boundary(span.start)];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!("line {line}, column {column}: {what}")
        }
        None => what,
    }
}

#[cfg(test)]
mod tests;
