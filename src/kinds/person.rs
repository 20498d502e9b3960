//! `person`: a second person in the room whose face is not seen (their body
//! is: the object detector's `person` class).
//!
//! This kind's home: its thresholds (`[rules.person]` in proctor.toml), the
//! wording of its rule, and its deduction. Its per-sample test (which boxes
//! are people besides the candidate) is in the events stage.

use serde::{Deserialize, Serialize};

use super::objects::Sighting;

/// Points deducted per event under the default policy.
pub const DEDUCTION: f64 = 15.0;

/// Why the deduction is what it is, for docs/rules.md.
pub const WHY: &str = "someone else in the room can help even unseen: less than a second face, which is surer";

/// The object detector's (COCO) classes that are this kind (`[objects.categories]`).
pub const CLASSES: &[&str] = &["person"];

/// A sighting (as [`Sighting`]'s fields), and how near the camera the person must be.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub min_score: f64,
    pub window: usize,
    pub min_hits: usize,
    /// A person counts only when their box is at least this fraction of the
    /// frame's height (near the camera, not a crowd behind).
    pub min_height: f64,
}

pub const DEFAULTS: Thresholds = Thresholds { min_score: 0.50, window: 3, min_hits: 2, min_height: 0.3 };

impl Thresholds {
    /// The sighting part, as the other object kinds have it.
    pub fn seen(&self) -> Sighting {
        Sighting { min_score: self.min_score, window: self.window, min_hits: self.min_hits }
    }
}

/// The keys of earlier proctor.toml files that set these, and the field each is now.
pub const LEGACY: &[(&str, &str)] = &[
    ("objects.min_score.person", "min_score"),
    ("events.object_window", "window"),
    ("events.object_min_hits", "min_hits"),
    ("events.person_min_height", "min_height"),
];

/// Why an event of this kind is raised, in words for the report.
pub fn rule(t: &Thresholds) -> String {
    format!(
        "a person without a face in view besides the candidate, near the camera (box at least {} of the \
         frame's height), in at least {} of {} consecutive object samples (overlapping boxes are one \
         person; a box holding a face is that face's person; not raised where a multiple_faces event \
         already covers the time)",
        t.min_height, t.min_hits, t.window
    )
}
