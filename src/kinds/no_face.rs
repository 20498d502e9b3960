//! `no_face`: nobody in view.
//!
//! This kind's home: its thresholds (`[rules.no_face]` in proctor.toml), the
//! wording of its rule and of its events' detail, and its deduction.

use serde::{Deserialize, Serialize};

/// Points deducted per event under the default policy: an absence costs its
/// share of them up to [`FULL_AT_S`], all of them from there on.
pub const DEDUCTION: f64 = 15.0;

/// An absence this long (seconds) or longer costs the whole deduction.
pub const FULL_AT_S: f64 = 10.0;

/// Why the deduction is what it is, for docs/rules.md.
pub const WHY: &str = "a candidate out of view cannot be seen doing anything else: as grave as a phone, \
scaled by how long they were away, so a 5 s step out costs half of a 10 s one";

/// How long nobody must be in view.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Seconds without a counted face.
    pub min_s: f64,
    /// Stretches without a face at least this long are drawn on the report's
    /// timeline, also when shorter than `min_s`.
    pub absence_mark_s: f64,
}

pub const DEFAULTS: Thresholds = Thresholds { min_s: 5.0, absence_mark_s: 2.0 };

/// The keys of earlier proctor.toml files that set these, and the field each is now.
pub const LEGACY: &[(&str, &str)] = &[("events.no_face_min_s", "min_s"), ("events.absence_mark_s", "absence_mark_s")];

/// Why an event of this kind is raised, in words for the report.
pub fn rule(t: &Thresholds) -> String {
    format!("no face found for at least {} s (absences from {} s are drawn on the timeline)", t.min_s, t.absence_mark_s)
}

/// An event's detail.
pub fn detail(hits: usize, samples: usize) -> String {
    format!("no face in {hits} of {samples} analysed frames")
}
