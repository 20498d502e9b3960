//! `gaze_away`: the eyes turned sideways while the head faces the screen.
//!
//! This kind's home: its thresholds (`[rules.gaze_away]` in proctor.toml),
//! its per-frame test, the wording of its rule and of its events' detail,
//! and its deduction. The events stage folds the per-frame test into events.

use serde::{Deserialize, Serialize};

/// Points deducted per event under the default policy.
pub const DEDUCTION: f64 = 5.0;

/// Why the deduction is what it is, for docs/rules.md.
pub const WHY: &str = "eyes on something beside the screen may be notes, or thought: as looking_away";

/// What makes a frame look away, and for how long it must.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Horizontal iris offset from the eye centre, as a fraction of half the
    /// eye width, relative to the candidate's usual gaze.
    pub ratio: f64,
    /// Gaze is judged only while the head is within this many degrees of
    /// the candidate's usual yaw (a turned head is `looking_away`'s business).
    pub max_head_yaw_deg: f64,
    /// Seconds the gaze must be seen away.
    pub min_s: f64,
}

pub const DEFAULTS: Thresholds = Thresholds { ratio: 0.22, max_head_yaw_deg: 15.0, min_s: 3.0 };

/// The keys of earlier proctor.toml files that set these, and the field each is now.
pub const LEGACY: &[(&str, &str)] =
    &[("events.gaze_away_ratio", "ratio"), ("events.gaze_max_head_yaw_deg", "max_head_yaw_deg"), ("events.gaze_away_min_s", "min_s")];

/// Why an event of this kind is raised, in words for the report.
pub fn rule(t: &Thresholds) -> String {
    format!(
        "eyes turned sideways by more than {} of half the eye width from the candidate's usual gaze, \
         head facing the screen (within {} deg), for at least {} s",
        t.ratio, t.max_head_yaw_deg, t.min_s
    )
}

/// How strongly one frame's lone face looks away (0..1), or `None` when it
/// does not: its horizontal gaze `gaze_x` against the candidate's usual
/// `usual_gaze_x`, judged only while its yaw is near the usual yaw.
/// (Vertical gaze is left out: on the devset it moved as much in plain
/// talking as when looking away.)
pub fn strength(yaw: f32, gaze_x: f32, usual_yaw: f32, usual_gaze_x: f32, t: &Thresholds) -> Option<f32> {
    if (yaw - usual_yaw).abs() >= t.max_head_yaw_deg as f32 {
        return None;
    }
    let d = (gaze_x - usual_gaze_x).abs() / (t.ratio as f32);
    Some(d).filter(|d| *d > 1.0).map(|d| (d / 2.0).min(1.0))
}

/// An event's detail: the median gaze over it against the usual one.
pub fn detail(median_gaze_x: f32, usual_gaze_x: f32) -> String {
    format!("median horizontal gaze {median_gaze_x:+.2} (usual {usual_gaze_x:+.2})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaze_counts_only_past_the_ratio_and_with_the_head_to_the_screen() {
        let t = DEFAULTS;
        assert_eq!(strength(0.0, 0.20, 0.0, 0.0, &t), None, "within the ratio");
        assert!(strength(0.0, 0.23, 0.0, 0.0, &t).is_some(), "just past the ratio");
        assert!(strength(0.0, 0.30, 0.0, 0.0, &t).is_some_and(|s| s > 0.5 && s < 0.7));
        assert_eq!(strength(0.0, 1.0, 0.0, 0.0, &t), Some(1.0), "clamped");
        assert_eq!(strength(20.0, 1.0, 0.0, 0.0, &t), None, "head turned: looking_away's business");
        assert!(strength(20.0, 1.1, 18.0, 0.1, &t).is_some(), "relative to the usual pose");
    }
}
