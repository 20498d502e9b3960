//! Events and the baseline they were judged against.

use serde::{Deserialize, Serialize};

use crate::kinds::EventKind;

/// One flagged interval, for a human to review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    pub start_s: f64,
    pub end_s: f64,
    /// 0..1: how sure the detectors were, times how much of the interval
    /// actually showed the violation.
    pub confidence: f32,
    /// What was seen, in words (object class, face count, mean angle, ...).
    pub detail: String,
    /// Time of the most telling frame, shown as evidence.
    pub evidence_t: f64,
}

impl Event {
    pub fn duration_s(&self) -> f64 {
        self.end_s - self.start_s
    }
}

/// The candidate's typical head pose and gaze over the session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub yaw: f32,
    pub pitch: f32,
    pub gaze_x: f32,
    pub gaze_y: f32,
    /// The candidate's open-eye aspect ratio: the upper quartile over the
    /// session (0 when never measured). Not the median: a candidate who spends
    /// much of a short session looking down at the desk pulls the median toward
    /// the very closing it is the yardstick for (devset E10: median 0.268, eyes
    /// open 0.31-0.38, eyes cast down 0.18-0.22).
    #[serde(default)]
    pub ear: f32,
}

