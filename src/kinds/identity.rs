//! `identity`: the lone face is not the person of the reference photo.
//!
//! This kind's home: its thresholds (`[rules.identity]` in proctor.toml),
//! the wording of its rule, and its deduction. The distances it reads were
//! measured with the frames (`[events] identity_max_distance` is the same
//! person's limit there too).

/// Points deducted per event under the default policy.
pub const DEDUCTION: f64 = 40.0;

/// Why the deduction is what it is, for docs/rules.md.
pub const WHY: &str = "someone else sitting the exam voids it: the gravest flag, and one a reviewer must confirm \
by looking at the two faces side by side";

pub type Thresholds = super::Lasting;

pub const DEFAULTS: Thresholds = super::Lasting { min_s: 4.0 };

/// The keys of earlier proctor.toml files that set these, and the field each is now.
pub const LEGACY: &[(&str, &str)] = &[("events.identity_min_s", "min_s")];

/// Why an event of this kind is raised, in words for the report.
pub fn rule(t: &Thresholds, max_distance: f64) -> String {
    format!(
        "the lone face does not match the reference photo (face-descriptor distance above {max_distance}) for at least {} s",
        t.min_s
    )
}
