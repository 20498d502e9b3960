//! `looking_away`: the head turned away from the screen.
//!
//! This kind's home: its thresholds (`[rules.looking_away]` in proctor.toml),
//! its per-frame test, the wording of its rule and of its events' detail,
//! and its deduction.

use serde::{Deserialize, Serialize};

/// Points deducted per event under the default policy.
pub const DEDUCTION: f64 = 5.0;

/// Why the deduction is what it is, for docs/rules.md.
pub const WHY: &str = "people look away to think; a long turn is worth a look, not a verdict";

/// How far the head must turn from the candidate's usual pose, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Degrees of yaw from the candidate's median (or absolute, without the baseline).
    pub yaw_deg: f64,
    /// Degrees of pitch from the candidate's median.
    pub pitch_deg: f64,
    /// Seconds the head must be seen turned.
    pub min_s: f64,
}

pub const DEFAULTS: Thresholds = Thresholds { yaw_deg: 25.0, pitch_deg: 20.0, min_s: 5.0 };

/// The keys of earlier proctor.toml files that set these, and the field each is now.
pub const LEGACY: &[(&str, &str)] = &[
    ("events.looking_away_yaw_deg", "yaw_deg"),
    ("events.looking_away_pitch_deg", "pitch_deg"),
    ("events.looking_away_min_s", "min_s"),
];

/// Why an event of this kind is raised, in words for the report.
pub fn rule(t: &Thresholds) -> String {
    format!(
        "head turned more than {} deg (yaw) or {} deg (pitch) from the candidate's usual pose for at least {} s",
        t.yaw_deg, t.pitch_deg, t.min_s
    )
}

/// How strongly a lone face at `yaw`, `pitch` is turned from the usual pose
/// (0..1), or `None` when it is not past either threshold.
pub fn strength(yaw: f32, pitch: f32, usual_yaw: f32, usual_pitch: f32, t: &Thresholds) -> Option<f32> {
    let dy = (yaw - usual_yaw).abs() / (t.yaw_deg as f32);
    let dp = (pitch - usual_pitch).abs() / (t.pitch_deg as f32);
    Some(dy.max(dp)).filter(|d| *d > 1.0).map(|d| (d / 2.0).min(1.0))
}

/// An event's detail: the median pose over it against the usual one.
pub fn detail(median_yaw: f32, median_pitch: f32, usual_yaw: f32, usual_pitch: f32) -> String {
    format!("median yaw {median_yaw:+.0} deg, pitch {median_pitch:+.0} deg (usual pose: yaw {usual_yaw:+.0}, pitch {usual_pitch:+.0})")
}
