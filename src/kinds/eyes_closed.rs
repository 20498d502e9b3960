//! `eyes_closed`: drowsiness, from the eye aspect ratio.
//!
//! This kind's home: its thresholds (`[rules.eyes_closed]` in proctor.toml),
//! the threshold a session's eyes are judged by, the wording of its rule and
//! of its events' detail, and its deduction.

use serde::{Deserialize, Serialize};

/// Points deducted per event under the default policy.
pub const DEDUCTION: f64 = 5.0;

/// Why the deduction is what it is, for docs/rules.md.
pub const WHY: &str = "closed eyes say drowsy or unwell more than dishonest: worth a reviewer's look, \
little of the score";

/// What makes eyes closed, and for how long they must be.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Eye aspect ratio below which eyes count as closed ...
    pub ear: f64,
    /// ... and below this fraction of the candidate's own open-eye aspect
    /// ratio (the upper quartile over the session; the lower of the two is
    /// the threshold), so narrow eyes are not flagged as closed.
    pub ratio: f64,
    /// Seconds the eyes must be seen closed.
    pub min_s: f64,
    /// Once eyes count as closed they stay closed until the ratio rises this
    /// far above the threshold: a measurement hovering at the threshold does
    /// not chop one closing into runs too short to count.
    pub hysteresis: f64,
}

pub const DEFAULTS: Thresholds = Thresholds { ear: 0.21, ratio: 0.7, min_s: 3.0, hysteresis: 0.02 };

/// The keys of earlier proctor.toml files that set these, and the field each is now.
pub const LEGACY: &[(&str, &str)] = &[
    ("events.eyes_closed_ear", "ear"),
    ("events.eyes_closed_ratio", "ratio"),
    ("events.eyes_closed_min_s", "min_s"),
    ("events.eyes_closed_hysteresis", "hysteresis"),
];

impl Thresholds {
    /// The eye aspect ratio under which a session's eyes are closed: the
    /// lower of `ear` and `ratio` times its open eyes (`open_ear`; 0 when
    /// unknown leaves `ear`).
    pub fn closed_ear(&self, open_ear: f32) -> f32 {
        let abs = self.ear as f32;
        if open_ear > 0.0 {
            abs.min(open_ear * self.ratio as f32)
        } else {
            abs
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(self.hysteresis >= 0.0 && self.hysteresis < 0.2) {
            return Err(format!("rules.eyes_closed.hysteresis must be in [0, 0.2), not {}", self.hysteresis));
        }
        Ok(())
    }
}

/// Why an event of this kind is raised, in words for the report.
pub fn rule(t: &Thresholds, eye_min_distance_px: f64) -> String {
    format!(
        "eye aspect ratio below {} and below {} of the candidate's open eyes (upper quartile over the session) \
         for at least {} s, until it rises {} above that (judged on faces with eyes at least {} px apart)",
        t.ear, t.ratio, t.min_s, t.hysteresis, eye_min_distance_px
    )
}

/// An event's detail: the median ratio over it against the session's threshold.
pub fn detail(median_ear: f32, closed: f32, t: &Thresholds, open_ear: f32) -> String {
    format!(
        "median eye aspect ratio {median_ear:.3} (threshold {closed:.3}: the lower of {} and {} x the open-eye {open_ear:.3})",
        t.ear, t.ratio
    )
}
