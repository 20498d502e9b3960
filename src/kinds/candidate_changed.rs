//! `candidate_changed`: the lone face is not the candidate enrolled from the
//! opening of the session (no reference photo given).
//!
//! This kind's home: its thresholds (`[rules.candidate_changed]` in
//! proctor.toml), the wording of its rule, and its deduction. The distances
//! it reads (to the enrolled candidate, and between the recording's
//! identities) were measured with the frames, under `[events]` `identity_*`.

/// Points deducted per event under the default policy.
pub const DEDUCTION: f64 = super::identity::DEDUCTION;

/// Why the deduction is what it is, for docs/rules.md.
pub const WHY: &str = "a swap mid-session is someone else sitting the exam, as `identity` is";

pub type Thresholds = super::Lasting;

pub const DEFAULTS: Thresholds = super::Lasting { min_s: 4.0 };

/// The keys of earlier proctor.toml files that set these, and the field each is now.
pub const LEGACY: &[(&str, &str)] = &[("events.identity_min_s", "min_s")];

/// How the candidate was enrolled and identities told apart (shared `[events]` settings).
pub struct Enrolment {
    pub samples: usize,
    pub max_distance: f64,
    pub cluster_min_s: f64,
    pub cluster_gap: f64,
}

/// Why an event of this kind is raised, in words for the report.
pub fn rule(t: &Thresholds, e: &Enrolment) -> String {
    format!(
        "the lone face does not match the candidate enrolled from the opening of this session (the first {} \
         lone frontal face descriptors that agree; face-descriptor distance above {}), or (clustering, a second \
         signal) it belongs to another identity of the recording than the first seen (groups of descriptors \
         holding at least {} s of samples, their centres at least {} apart), for at least {} s",
        e.samples, e.max_distance, e.cluster_min_s, e.cluster_gap, t.min_s
    )
}
