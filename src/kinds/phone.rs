//! `phone`: a phone in view (the object detector's classes listed in [`CLASSES`]).
//!
//! This kind's home: its detector classes, its thresholds (`[rules.phone]`
//! in proctor.toml; the rule and its wording are those every object kind
//! shares, [`super::objects`]), and its deduction.

use super::objects::Sighting;

/// Points deducted per event under the default policy.
pub const DEDUCTION: f64 = 15.0;

/// Why the deduction is what it is, for docs/rules.md.
pub const WHY: &str = "a phone is the aid every exam rule names first: as grave as being out of view";

/// The object detector's (COCO) classes that are this kind (`[objects.categories]`).
pub const CLASSES: &[&str] = &["cell phone"];

pub type Thresholds = Sighting;

/// Chosen for YOLOX-nano's scores on ../shared/devset: phones at the ear score
/// 0.15-0.28, a fist 0.59 in one frame only.
pub const DEFAULTS: Thresholds = Sighting::new(0.25);

/// The keys of earlier proctor.toml files that set these, and the field each is now.
pub const LEGACY: &[(&str, &str)] = &super::objects::legacy("objects.min_score.phone");
