//! Configuration: analysis rates, event thresholds and the scoring policy.
//!
//! Every value has a default; a `proctor.toml` overrides any subset of them.
//! `proctor config` prints the full default file.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::kinds::{EventKind, Rules};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub analysis: AnalysisConfig,
    pub events: EventConfig,
    pub objects: ObjectConfig,
    /// Each kind's thresholds: `[rules.<kind>]`.
    pub rules: Rules,
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

/// The settings the rules share, and those that shape what is observed of
/// faces and voices before any rule runs (each kind's own thresholds are its
/// `[rules.<kind>]` section: [`crate::kinds`]).
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
    /// Eyes and gaze are judged only on faces whose eyes are at least this
    /// many pixels apart: on smaller faces the mesh cannot measure them
    /// (the face still counts for no_face and multiple_faces).
    pub eye_min_distance_px: f64,
    /// Speech probability (Silero VAD) from which audio counts as speech.
    pub speech_min: f64,
    /// Lips whose opening varies less than this (standard deviation over
    /// 1 s) are still: speech heard meanwhile is someone else's.
    pub mouth_still: f64,
    /// Speech whose voice is less similar than this (cosine of Resemblyzer
    /// embeddings) to the candidate's enrolled voice is another voice ...
    pub voice_other_max: f64,
    /// ... and at least this similar, the candidate's own (it then overrides
    /// still lips or an empty picture). In between, the picture decides.
    pub voice_same_min: f64,
    /// Face descriptors farther apart than this (Euclidean, dlib's scale) are
    /// different people.
    pub identity_max_distance: f64,
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
    /// What judged whose voice each frame's speech is, for `voices`' wording.
    pub fn whose_voice(&self) -> crate::kinds::voices::Whose {
        crate::kinds::voices::Whose {
            speech_min: self.speech_min,
            mouth_still: self.mouth_still,
            voice_other_max: self.voice_other_max,
            voice_same_min: self.voice_same_min,
        }
    }

    /// How the candidate was enrolled, for `candidate_changed`'s wording.
    pub fn enrolment(&self) -> crate::kinds::candidate_changed::Enrolment {
        crate::kinds::candidate_changed::Enrolment {
            samples: self.identity_enrol_samples,
            max_distance: self.identity_max_distance,
            cluster_min_s: self.identity_cluster_min_s,
            cluster_gap: self.identity_cluster_gap,
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
            eye_min_distance_px: 24.0,
            speech_min: 0.5,
            mouth_still: 0.035,
            voice_other_max: 0.7,
            voice_same_min: 0.8,
            identity_max_distance: 0.6,
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
/// category (named as its kind), and which detections are kept. The score each
/// kind must reach is its rule's (`[rules.<kind>] min_score`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectConfig {
    /// "yolox", the only one (the key may be left out).
    pub model: ObjectModelKind,
    #[serde(deserialize_with = "over_default_categories")]
    pub categories: BTreeMap<String, Vec<String>>,
    /// Detections of the categories scoring at least this are kept in the
    /// detections table, whatever the rules ask: a rule's `min_score` can be
    /// changed on a saved analysis (`proctor rescore`) down to this.
    pub keep_min_score: f64,
    /// On frames with a face, look again at a magnified crop around the largest
    /// face (where a phone at the ear or in a hand is) and add the phones found
    /// there. A second object-detector pass on those frames.
    pub face_crop: bool,
    /// Find the hands (MediaPipe's palm detector) on each object sample and
    /// look again at a magnified crop around each, adding the phones and books
    /// found there that touch the hand; a phone or book touching a hand (its
    /// palm widened by a quarter of its side, `detect::objects::hand_reach`) is
    /// marked held. A palm-detector pass and a second object-detector pass.
    pub hand_crop: bool,
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

impl Default for ObjectConfig {
    fn default() -> Self {
        ObjectConfig {
            model: ObjectModelKind::default(),
            categories: crate::kinds::object_classes()
                .into_iter()
                .map(|(k, classes)| (k.as_str().to_string(), classes.iter().map(|c| c.to_string()).collect()))
                .collect(),
            keep_min_score: 0.1,
            face_crop: true,
            hand_crop: true,
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
        Policy {
            deductions: EventKind::ALL.into_iter().map(|k| (k, crate::kinds::deduction(k).0)).collect(),
            caps: BTreeMap::new(),
            full_at_s: EventKind::ALL.into_iter().filter_map(|k| Some((k, crate::kinds::full_at_s(k)?))).collect(),
            low_risk_min: 85.0,
            medium_risk_min: 70.0,
        }
    }
}

impl Config {
    /// Read a `proctor.toml`; keys it leaves out keep their defaults. Keys of
    /// earlier versions are moved to their places now, with a warning naming
    /// the new place ([`migrate`]).
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::new(path, ErrorKind::Unreadable(e)))?;
        let (cfg, moved) = parse(&text).map_err(|why| Error::new(path, ErrorKind::Config(why)))?;
        for m in moved {
            crate::warn!("proctor: warning: {}: {m}", path.display());
        }
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
        // no threshold is infinite or not a number (a rule compares with it, a plot draws it)
        if let Some((key, v)) = flat(self).into_iter().find(|(_, v)| v.parse::<f64>().is_ok_and(|x| !x.is_finite())) {
            return Err(format!("{key} must be a finite number, not {v}"));
        }
        self.rules.validate()?;
        let keep = self.objects.keep_min_score;
        if !(0.0..=1.0).contains(&keep) {
            return Err(format!("objects.keep_min_score must be in [0, 1], not {keep}"));
        }
        if let Some((k, t)) = crate::kinds::object_classes().into_iter().find_map(|(k, _)| Some((k, self.rules.sighting(k)?)).filter(|(_, t)| t.min_score < keep)) {
            return Err(format!(
                "rules.{k}.min_score {} is under objects.keep_min_score {keep}, the score from which detections are kept: lower that too",
                t.min_score
            ));
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

/// The settings that shape what is *seen* (decoding, the detectors, the
/// observations derived before any rule runs: face counting, whose voice,
/// the candidate's enrolment) rather than the rules run on it. Changing one
/// of these means analysing the recording again; every other key can be
/// applied to a saved analysis ([`Config::perception_changes`]). A dotted
/// prefix: `analysis.` is the whole section.
pub const PERCEPTION_KEYS: &[&str] = &[
    "analysis.",
    "objects.model",
    "objects.categories",
    "objects.keep_min_score",
    "objects.face_crop",
    "objects.hand_crop",
    "objects.large_phone_min_area",
    "events.face_min_score",
    "events.face_unconfirmed_min_score",
    "events.face_min_px",
    "events.mouth_still",
    "events.speech_min",
    "events.voice_other_max",
    "events.voice_same_min",
    "events.identity_max_distance",
    "events.identity_enrol_samples",
    "events.identity_opening_s",
    "events.identity_cluster_gap",
    "events.identity_cluster_min_s",
];

impl Config {
    /// The perception settings ([`PERCEPTION_KEYS`]) in which `other` differs
    /// from `self`, as `key = old -> new`: what rules alone cannot apply.
    pub fn perception_changes(&self, other: &Config) -> Vec<String> {
        let (a, b) = (flat(self), flat(other));
        let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        keys.into_iter()
            .filter(|k| PERCEPTION_KEYS.iter().any(|p| if p.ends_with('.') { k.starts_with(p) } else { *k == p || k.starts_with(&format!("{p}.")) }))
            .filter(|k| a.get(*k) != b.get(*k))
            .map(|k| {
                let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "(none)".into());
                format!("{k} = {} -> {}", show(a.get(k)), show(b.get(k)))
            })
            .collect()
    }
}

/// A configuration as dotted keys and their TOML values.
fn flat(cfg: &Config) -> BTreeMap<String, String> {
    fn walk(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    walk(&if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, v, out);
                }
            }
            other => {
                out.insert(prefix.to_string(), other.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", &toml::Value::try_from(cfg).expect("config serialises"), &mut out);
    out
}

/// A policy file for `proctor report --policy`: either a whole proctor.toml or
/// just the `[policy]` table's keys at top level.
pub fn load_policy(path: &Path) -> Result<Policy> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::new(path, ErrorKind::Unreadable(e)))?;
    if let Ok((cfg, _)) = parse(&text) {
        if text.contains("[policy") {
            return Ok(cfg.policy);
        }
    }
    toml::from_str::<Policy>(&text).map_err(|e| Error::new(path, ErrorKind::Config(one_line(&text, &e))))
}

/// A configuration file's text, and what [`migrate`] moved in it. Errors are
/// one line, with the line and column where the file says where.
fn parse(text: &str) -> std::result::Result<(Config, Vec<String>), String> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| one_line(text, &e))?;
    let moved = migrate(&mut table);
    if moved.is_empty() {
        return Ok((toml::from_str(text).map_err(|e| one_line(text, &e))?, moved));
    }
    let cfg = Config::deserialize(toml::Value::Table(table)).map_err(|e| e.message().split_whitespace().collect::<Vec<_>>().join(" "))?;
    Ok((cfg, moved))
}

/// Move the keys of earlier configuration files to their places now (each
/// kind's `[rules.<kind>]`; [`crate::kinds::legacy`]): `[events]
/// gaze_away_ratio` is `[rules.gaze_away] ratio`. A key given in both places
/// keeps the new place's value. Returns what moved, in words.
pub fn migrate(t: &mut toml::Table) -> Vec<String> {
    let mut moved: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for k in EventKind::ALL {
        for (old, field) in crate::kinds::legacy(k) {
            let Some(v) = get(t, old).cloned() else { continue };
            let rules = t.entry("rules").or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let Some(section) = rules.as_table_mut().map(|r| r.entry(k.as_str()).or_insert_with(|| toml::Value::Table(toml::Table::new()))) {
                if let Some(section) = section.as_table_mut() {
                    section.entry(*field).or_insert(v);
                }
            }
            moved.entry(old).or_default().push(format!("rules.{k}.{field}"));
        }
    }
    for old in moved.keys() {
        let (parent, key) = old.rsplit_once('.').expect("a dotted key");
        if let Some(table) = get_mut(t, parent).and_then(|v| v.as_table_mut()) {
            table.remove(key);
            if table.is_empty() && parent.contains('.') {
                let (grand, name) = parent.rsplit_once('.').expect("dotted");
                if let Some(g) = get_mut(t, grand).and_then(|v| v.as_table_mut()) {
                    g.remove(name);
                }
            }
        }
    }
    moved.into_iter().map(|(old, new)| format!("{old} is now {} (the old key still works)", new.join(", "))).collect()
}

fn get<'a>(t: &'a toml::Table, dotted: &str) -> Option<&'a toml::Value> {
    let mut parts = dotted.split('.');
    let mut v = t.get(parts.next()?)?;
    for p in parts {
        v = v.as_table()?.get(p)?;
    }
    Some(v)
}

fn get_mut<'a>(t: &'a mut toml::Table, dotted: &str) -> Option<&'a mut toml::Value> {
    let mut parts = dotted.split('.');
    let mut v = t.get_mut(parts.next()?)?;
    for p in parts {
        v = v.as_table_mut()?.get_mut(p)?;
    }
    Some(v)
}

/// A configuration saved by any version (a summary's `config`), its keys of
/// earlier versions moved ([`migrate`]).
pub fn any_version<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Config, D::Error> {
    let mut t = toml::Table::deserialize(d)?;
    migrate(&mut t);
    Config::deserialize(toml::Value::Table(t)).map_err(serde::de::Error::custom)
}

/// The `[events]` settings saved by any version (a summary's `thresholds`):
/// the keys now in `[rules]` are left out (the summary's `config` has them).
pub fn events_any_version<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<EventConfig, D::Error> {
    let events = toml::Table::deserialize(d)?;
    let mut t = toml::Table::from_iter([("events".to_string(), toml::Value::Table(events))]);
    migrate(&mut t);
    let events = t.remove("events").unwrap_or_else(|| toml::Value::Table(toml::Table::new()));
    EventConfig::deserialize(events).map_err(serde::de::Error::custom)
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
