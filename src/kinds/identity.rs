//! `identity`: the lone face is not the person of the reference photo.
//!
//! This kind's home: its thresholds (`[rules.identity]` in proctor.toml),
//! the wording of its rule, and its deduction. The distances it reads were
//! measured with the frames (`[events] identity_max_distance` is the same
//! person's limit there too).

use serde::{Deserialize, Serialize};

/// Points deducted per event under the default policy.
pub const DEDUCTION: f64 = 40.0;

/// Why the deduction is what it is, for docs/rules.md.
pub const WHY: &str = "someone else sitting the exam voids it: the gravest flag, and one a reviewer must confirm \
by looking at the two faces side by side";

/// How long the face must not match.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Seconds of lone-face samples that do not match.
    pub min_s: f64,
}

pub const DEFAULTS: Thresholds = Thresholds { min_s: 4.0 };

impl Default for Thresholds {
    fn default() -> Self {
        DEFAULTS
    }
}

/// The keys of earlier proctor.toml files that set these, and the field each is now.
pub const LEGACY: &[(&str, &str)] = &[("events.identity_min_s", "min_s")];

/// Why an event of this kind is raised, in words for the report.
pub fn rule(t: &Thresholds, max_distance: f64) -> String {
    format!(
        "the lone face does not match the reference photo (face-descriptor distance above {max_distance}) for at least {} s",
        t.min_s
    )
}
