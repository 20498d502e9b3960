//! `book`: a book in view (the object detector's classes listed in [`CLASSES`]).
//!
//! This kind's home: its detector classes, its thresholds (`[rules.book]`
//! in proctor.toml; the rule and its wording are those every object kind
//! shares, [`super::objects`]), and its deduction.

use super::objects::Sighting;

/// Points deducted per event under the default policy.
pub const DEDUCTION: f64 = 10.0;

/// Why the deduction is what it is, for docs/rules.md.
pub const WHY: &str = "notes in reach are help, but a bookshelf behind the candidate is seen too: less than a phone";

/// The object detector's (COCO) classes that are this kind (`[objects.categories]`).
pub const CLASSES: &[&str] = &["book"];

pub type Thresholds = Sighting;

pub const DEFAULTS: Thresholds = Sighting::new(0.35);

/// The keys of earlier proctor.toml files that set these, and the field each is now.
pub const LEGACY: &[(&str, &str)] = &super::objects::legacy("objects.min_score.book");
