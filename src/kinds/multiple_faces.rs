//! `multiple_faces`: more than one face in view.
//!
//! This kind's home: its thresholds (`[rules.multiple_faces]` in
//! proctor.toml), the wording of its rule and of its events' detail, and its
//! deduction.

/// Points deducted per event under the default policy.
pub const DEDUCTION: f64 = 20.0;

/// Why the deduction is what it is, for docs/rules.md.
pub const WHY: &str = "a second face in view is someone who can help: graver than any object, \
short of proof that the candidate is someone else";

pub type Thresholds = super::Lasting;

pub const DEFAULTS: Thresholds = super::Lasting { min_s: 2.0 };

/// The keys of earlier proctor.toml files that set these, and the field each is now.
pub const LEGACY: &[(&str, &str)] = &[("events.multiple_faces_min_s", "min_s")];

/// Why an event of this kind is raised, in words for the report.
pub fn rule(t: &Thresholds) -> String {
    format!("two or more faces for at least {} s", t.min_s)
}

/// An event's detail: the most faces seen at once, and (when identity ran)
/// which of them is the candidate's.
pub fn detail(most: usize, hits: usize, samples: usize, which: Option<&str>) -> String {
    let mut d = format!("{most} faces at most, in {hits} of {samples} frames");
    if let Some(which) = which {
        d.push_str(&format!("; {which}"));
    }
    d
}
