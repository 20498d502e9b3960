//! The kinds of event proctor raises. Depends on nothing of the project.
//!
//! Each kind has a home here, `src/kinds/<kind>.rs`: its thresholds (the
//! `[rules.<kind>]` section of proctor.toml, with their defaults and their
//! documentation), its per-frame test where it has one, the wording of its
//! rule and of its events' detail, its deduction and why, and the keys of
//! earlier configuration files that set its thresholds. This file is the
//! list: the kinds' names, what each needs to be checked, its colour (one
//! palette for the PDF, the review page, the index and the evidence
//! pictures), the thresholds worth sweeping, and [`Rules`], every kind's
//! section. The events stage ([`crate::events`]) folds each kind's test over
//! the frames.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub mod background_noise;
pub mod book;
pub mod candidate_changed;
pub mod device;
pub mod eyes_closed;
pub mod gaze_away;
pub mod identity;
pub mod looking_away;
pub mod loud_audio;
pub mod multiple_faces;
pub mod no_face;
pub mod objects;
pub mod person;
pub mod phone;
pub mod voices;

/// The colour each kind is drawn in: one palette for the PDF report, the
/// review page and the archive's index (a kind looks the same everywhere).
pub fn colour(k: EventKind) -> &'static str {
    use EventKind::*;
    match k {
        NoFace => "#7f7f7f",
        MultipleFaces => "#d62728",
        LookingAway => "#ff7f0e",
        GazeAway => "#bcbd22",
        EyesClosed => "#9467bd",
        Phone => "#e377c2",
        Book => "#8c564b",
        Device => "#17becf",
        Person => "#b2182b",
        LoudAudio => "#1f77b4",
        Voices => "#2ca02c",
        Identity => "#000000",
        CandidateChanged => "#393b79",
        BackgroundNoise => "#9ecae1",
    }
}

/// What a kind needs to be checked: the detectors that see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// The face detector and mesh.
    Faces,
    /// The object detector.
    Objects,
    /// An audio stream.
    Audio,
    /// Speech detection on the audio, with the face models (they tell whose speech it is).
    Speech,
    /// Face descriptors compared with a reference photo.
    Reference,
    /// Face descriptors compared with the candidate enrolled from the session.
    Enrolment,
}

/// What `k` needs to be checked.
pub fn needs(k: EventKind) -> Needs {
    use EventKind::*;
    match k {
        NoFace | MultipleFaces | LookingAway | GazeAway | EyesClosed => Needs::Faces,
        Phone | Book | Device | Person => Needs::Objects,
        LoudAudio | BackgroundNoise => Needs::Audio,
        Voices => Needs::Speech,
        Identity => Needs::Reference,
        CandidateChanged => Needs::Enrolment,
    }
}

/// Points `k` deducts per event under the default policy, and why.
pub fn deduction(k: EventKind) -> (f64, &'static str) {
    use EventKind::*;
    match k {
        NoFace => (no_face::DEDUCTION, no_face::WHY),
        MultipleFaces => (multiple_faces::DEDUCTION, multiple_faces::WHY),
        LookingAway => (looking_away::DEDUCTION, looking_away::WHY),
        GazeAway => (gaze_away::DEDUCTION, gaze_away::WHY),
        EyesClosed => (eyes_closed::DEDUCTION, eyes_closed::WHY),
        Phone => (phone::DEDUCTION, phone::WHY),
        Book => (book::DEDUCTION, book::WHY),
        Device => (device::DEDUCTION, device::WHY),
        Person => (person::DEDUCTION, person::WHY),
        LoudAudio => (loud_audio::DEDUCTION, loud_audio::WHY),
        Voices => (voices::DEDUCTION, voices::WHY),
        Identity => (identity::DEDUCTION, identity::WHY),
        CandidateChanged => (candidate_changed::DEDUCTION, candidate_changed::WHY),
        BackgroundNoise => (background_noise::DEDUCTION, background_noise::WHY),
    }
}

/// Kinds whose deduction scales with the event's duration by default: an
/// event this long (seconds) or longer costs all of it, a shorter one its share.
pub fn full_at_s(k: EventKind) -> Option<f64> {
    (k == EventKind::NoFace).then_some(no_face::FULL_AT_S)
}

/// The object detector's classes of each object kind (the default
/// `[objects.categories]`; a category is named as its kind).
pub fn object_classes() -> [(EventKind, &'static [&'static str]); 4] {
    [
        (EventKind::Phone, phone::CLASSES),
        (EventKind::Book, book::CLASSES),
        (EventKind::Device, device::CLASSES),
        (EventKind::Person, person::CLASSES),
    ]
}

/// The keys of earlier proctor.toml files (dotted) that set a threshold of
/// `k`, and the field of `[rules.<k>]` each is now.
pub fn legacy(k: EventKind) -> &'static [(&'static str, &'static str)] {
    use EventKind::*;
    match k {
        NoFace => no_face::LEGACY,
        MultipleFaces => multiple_faces::LEGACY,
        LookingAway => looking_away::LEGACY,
        GazeAway => gaze_away::LEGACY,
        EyesClosed => eyes_closed::LEGACY,
        Phone => phone::LEGACY,
        Book => book::LEGACY,
        Device => device::LEGACY,
        Person => person::LEGACY,
        LoudAudio => loud_audio::LEGACY,
        Voices => voices::LEGACY,
        Identity => identity::LEGACY,
        CandidateChanged => candidate_changed::LEGACY,
        BackgroundNoise => background_noise::LEGACY,
    }
}

/// The threshold of a kind that only asks how long: seconds the violation
/// must be seen (violating samples x their interval).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lasting {
    pub min_s: f64,
}

/// Every kind's thresholds: the `[rules.<kind>]` sections of proctor.toml.
/// A section given in part keeps the kind's defaults for the keys it leaves out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    #[serde(deserialize_with = "over::no_face")]
    pub no_face: no_face::Thresholds,
    #[serde(deserialize_with = "over::multiple_faces")]
    pub multiple_faces: multiple_faces::Thresholds,
    #[serde(deserialize_with = "over::looking_away")]
    pub looking_away: looking_away::Thresholds,
    #[serde(deserialize_with = "over::gaze_away")]
    pub gaze_away: gaze_away::Thresholds,
    #[serde(deserialize_with = "over::eyes_closed")]
    pub eyes_closed: eyes_closed::Thresholds,
    #[serde(deserialize_with = "over::phone")]
    pub phone: phone::Thresholds,
    #[serde(deserialize_with = "over::book")]
    pub book: book::Thresholds,
    #[serde(deserialize_with = "over::device")]
    pub device: device::Thresholds,
    #[serde(deserialize_with = "over::person")]
    pub person: person::Thresholds,
    #[serde(deserialize_with = "over::loud_audio")]
    pub loud_audio: loud_audio::Thresholds,
    #[serde(deserialize_with = "over::voices")]
    pub voices: voices::Thresholds,
    #[serde(deserialize_with = "over::identity")]
    pub identity: identity::Thresholds,
    #[serde(deserialize_with = "over::candidate_changed")]
    pub candidate_changed: candidate_changed::Thresholds,
    #[serde(deserialize_with = "over::background_noise")]
    pub background_noise: background_noise::Thresholds,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            no_face: no_face::DEFAULTS,
            multiple_faces: multiple_faces::DEFAULTS,
            looking_away: looking_away::DEFAULTS,
            gaze_away: gaze_away::DEFAULTS,
            eyes_closed: eyes_closed::DEFAULTS,
            phone: phone::DEFAULTS,
            book: book::DEFAULTS,
            device: device::DEFAULTS,
            person: person::DEFAULTS,
            loud_audio: loud_audio::DEFAULTS,
            voices: voices::DEFAULTS,
            identity: identity::DEFAULTS,
            candidate_changed: candidate_changed::DEFAULTS,
            background_noise: background_noise::DEFAULTS,
        }
    }
}

impl Rules {
    /// The sighting thresholds of an object kind (`None` for the others).
    pub fn sighting(&self, k: EventKind) -> Option<objects::Sighting> {
        match k {
            EventKind::Phone => Some(self.phone),
            EventKind::Book => Some(self.book),
            EventKind::Device => Some(self.device),
            EventKind::Person => Some(self.person.seen()),
            _ => None,
        }
    }

    /// Every threshold within its range; the first that is not, named.
    pub fn validate(&self) -> Result<(), String> {
        self.eyes_closed.validate()?;
        for (k, _) in object_classes() {
            self.sighting(k).expect("an object kind").validate(k.as_str())?;
        }
        Ok(())
    }
}

/// A section given in part, laid over the kind's defaults.
mod over {
    use serde::de::{DeserializeOwned, Error};
    use serde::{Deserialize, Deserializer, Serialize};

    fn over<'de, D: Deserializer<'de>, T: Serialize + DeserializeOwned>(d: D, base: T) -> Result<T, D::Error> {
        let given = toml::Table::deserialize(d)?;
        let mut merged = toml::Table::try_from(base).map_err(D::Error::custom)?;
        merged.extend(given);
        T::deserialize(toml::Value::Table(merged)).map_err(D::Error::custom)
    }

    macro_rules! over_defaults {
        ($($kind:ident),*) => {$(
            pub fn $kind<'de, D: Deserializer<'de>>(d: D) -> Result<super::$kind::Thresholds, D::Error> {
                over(d, super::$kind::DEFAULTS)
            }
        )*};
    }

    over_defaults!(
        no_face,
        multiple_faces,
        looking_away,
        gaze_away,
        eyes_closed,
        phone,
        book,
        device,
        person,
        loud_audio,
        voices,
        identity,
        candidate_changed,
        background_noise
    );
}

/// A threshold of a kind's rule that verdicts can tune (`proctor calibrate`):
/// its place in `proctor.toml` (a dotted path) and the values worth trying.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Knob {
    pub key: &'static str,
    pub values: &'static [f64],
}

/// The thresholds of `k`'s rule worth sweeping, the most telling first.
pub fn knobs(k: EventKind) -> &'static [Knob] {
    use EventKind::*;
    const MIN_S: &[f64] = &[1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0];
    match k {
        NoFace => &[Knob { key: "rules.no_face.min_s", values: MIN_S }],
        MultipleFaces => &[Knob { key: "rules.multiple_faces.min_s", values: MIN_S }],
        LookingAway => &[
            Knob { key: "rules.looking_away.yaw_deg", values: &[15.0, 20.0, 25.0, 30.0, 35.0, 40.0] },
            Knob { key: "rules.looking_away.min_s", values: MIN_S },
        ],
        GazeAway => &[Knob { key: "rules.gaze_away.ratio", values: &[0.14, 0.18, 0.22, 0.26, 0.30, 0.35] }, Knob { key: "rules.gaze_away.min_s", values: MIN_S }],
        EyesClosed => &[Knob { key: "rules.eyes_closed.ear", values: &[0.15, 0.17, 0.19, 0.21, 0.23, 0.25] }, Knob { key: "rules.eyes_closed.min_s", values: MIN_S }],
        Phone => &[Knob { key: "rules.phone.min_score", values: &[0.15, 0.2, 0.25, 0.3, 0.35, 0.45] }],
        Book => &[Knob { key: "rules.book.min_score", values: &[0.2, 0.25, 0.3, 0.35, 0.45, 0.55] }],
        Device => &[Knob { key: "rules.device.min_score", values: &[0.4, 0.5, 0.6, 0.7, 0.8] }],
        Person => &[Knob { key: "rules.person.min_score", values: &[0.3, 0.4, 0.5, 0.6, 0.7] }],
        LoudAudio => &[Knob { key: "rules.loud_audio.db", values: &[-20.0, -15.0, -12.0, -9.0, -6.0, -3.0] }, Knob { key: "rules.loud_audio.min_s", values: &[0.25, 0.5, 1.0, 2.0, 3.0] }],
        Voices => &[Knob { key: "rules.voices.min_s", values: MIN_S }],
        Identity => &[Knob { key: "rules.identity.min_s", values: MIN_S }],
        CandidateChanged => &[Knob { key: "rules.candidate_changed.min_s", values: MIN_S }],
        BackgroundNoise => &[Knob { key: "rules.background_noise.above_floor_db", values: &[10.0, 15.0, 20.0, 25.0, 30.0] }, Knob { key: "rules.background_noise.min_s", values: MIN_S }],
    }
}

/// [`colour`] as red, green and blue.
pub fn rgb(k: EventKind) -> [u8; 3] {
    let hex = colour(k).trim_start_matches('#');
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0);
    [byte(0), byte(2), byte(4)]
}

/// The kinds of event proctor raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    NoFace,
    MultipleFaces,
    LookingAway,
    GazeAway,
    EyesClosed,
    Phone,
    Book,
    Device,
    Person,
    LoudAudio,
    Voices,
    Identity,
    CandidateChanged,
    BackgroundNoise,
}

impl EventKind {
    pub const ALL: [EventKind; 14] = [
        EventKind::NoFace,
        EventKind::MultipleFaces,
        EventKind::LookingAway,
        EventKind::GazeAway,
        EventKind::EyesClosed,
        EventKind::Phone,
        EventKind::Book,
        EventKind::Device,
        EventKind::Person,
        EventKind::LoudAudio,
        EventKind::Voices,
        EventKind::Identity,
        EventKind::CandidateChanged,
        EventKind::BackgroundNoise,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::NoFace => "no_face",
            EventKind::MultipleFaces => "multiple_faces",
            EventKind::LookingAway => "looking_away",
            EventKind::GazeAway => "gaze_away",
            EventKind::EyesClosed => "eyes_closed",
            EventKind::Phone => "phone",
            EventKind::Book => "book",
            EventKind::Device => "device",
            EventKind::Person => "person",
            EventKind::LoudAudio => "loud_audio",
            EventKind::Voices => "voices",
            EventKind::Identity => "identity",
            EventKind::CandidateChanged => "candidate_changed",
            EventKind::BackgroundNoise => "background_noise",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown event kind '{s}'"))
    }
}

/// The middle value (the mean of the two middle ones for an even count);
/// `None` for no values. Shared by the rules' baselines and the room's levels.
pub(crate) fn median(mut v: Vec<f32>) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}
