//! The kinds of event proctor raises: the names every layer shares (the
//! tables, the configuration's deductions, the report). Depends on nothing.
//!
//! Each kind is moving to a home of its own here, holding its thresholds,
//! per-frame test, wording and deduction ([`gaze_away`], [`loud_audio`] and
//! [`background_noise`] have theirs); the others' rules are still in
//! [`crate::events`] and their thresholds in [`crate::config`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub mod background_noise;
pub mod gaze_away;
pub mod loud_audio;

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
    const fn knob(key: &'static str, values: &'static [f64]) -> Knob {
        Knob { key, values }
    }
    const MIN_S: &[f64] = &[1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0];
    match k {
        NoFace => const { &[knob("events.no_face_min_s", MIN_S)] },
        MultipleFaces => const { &[knob("events.multiple_faces_min_s", MIN_S)] },
        LookingAway => const { &[
            knob("events.looking_away_yaw_deg", &[15.0, 20.0, 25.0, 30.0, 35.0, 40.0]),
            knob("events.looking_away_min_s", MIN_S),
        ] },
        GazeAway => const { &[knob("events.gaze_away_ratio", &[0.14, 0.18, 0.22, 0.26, 0.30, 0.35]), knob("events.gaze_away_min_s", MIN_S)] },
        EyesClosed => const { &[knob("events.eyes_closed_ear", &[0.15, 0.17, 0.19, 0.21, 0.23, 0.25]), knob("events.eyes_closed_min_s", MIN_S)] },
        Phone => const { &[knob("objects.min_score.phone", &[0.15, 0.2, 0.25, 0.3, 0.35, 0.45])] },
        Book => const { &[knob("objects.min_score.book", &[0.2, 0.25, 0.3, 0.35, 0.45, 0.55])] },
        Device => const { &[knob("objects.min_score.device", &[0.4, 0.5, 0.6, 0.7, 0.8])] },
        Person => const { &[knob("objects.min_score.person", &[0.3, 0.4, 0.5, 0.6, 0.7])] },
        LoudAudio => const { &[knob("events.loud_audio_db", &[-20.0, -15.0, -12.0, -9.0, -6.0, -3.0]), knob("events.loud_audio_min_s", &[0.25, 0.5, 1.0, 2.0, 3.0])] },
        Voices => const { &[knob("events.voices_min_s", MIN_S)] },
        Identity | CandidateChanged => const { &[knob("events.identity_min_s", MIN_S)] },
        BackgroundNoise => const { &[knob("events.background_noise_db", &[10.0, 15.0, 20.0, 25.0, 30.0]), knob("events.background_noise_min_s", MIN_S)] },
    }
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

    pub fn as_str(self) -> &'static str {
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
