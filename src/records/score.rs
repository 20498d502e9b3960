//! The integrity score and its explanation.

use serde::{Deserialize, Serialize};

use crate::kinds::EventKind;

/// Risk band of a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Low,
    Medium,
    High,
}

impl Band {
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Low => "low",
            Band::Medium => "medium",
            Band::High => "high",
        }
    }
}

/// One line of the explanation: what a kind of event cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreLine {
    pub kind: EventKind,
    pub count: usize,
    pub total_s: f64,
    pub per_event: f64,
    pub cap: Option<f64>,
    pub deduction: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// max(0, 100 - total deduction)
    pub value: f64,
    pub band: Band,
    /// One line per kind that occurred, in the order of [`EventKind::ALL`].
    pub lines: Vec<ScoreLine>,
}

impl Score {
    pub fn total_deduction(&self) -> f64 {
        self.lines.iter().map(|l| l.deduction).sum()
    }
}

