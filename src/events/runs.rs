//! Runs of violating frames become intervals: the fold every kind's rule goes through (merge window, seen time, strength), and the candidate's usual pose.

use crate::kinds::{median, EventKind};
use crate::observation::Observation;
use crate::records::{Baseline, Event};

/// One violating sample: its time and how strongly it violates (0..1).
#[derive(Debug, Clone, Copy)]
pub(super) struct Hit {
    pub(super) t: f64,
    pub(super) strength: f32,
}

/// An interval folded from hits, with the samples it spans.
#[derive(Debug, Clone)]
pub(super) struct Run {
    pub(super) start: f64,
    pub(super) end: f64,
    pub(super) hits: Vec<Hit>,
    /// Number of samples (violating or not) inside [start, end).
    pub(super) samples: usize,
}

/// Fold a time-ordered signal (one entry per sample, `Some(strength)` where
/// the sample violates) into events. Each sample covers `[t, t + step)`.
///
/// 1. Runs: consecutive violating samples; one missing sample inside a run
///    (a detector dropout) does not break it.
/// 2. A run is a violation when it was seen for at least `min_duration`
///    (violating samples x `step`).
/// 3. Violations separated by less than `merge_gap` are joined into one.
///    Runs too short to count never join or extend anything.
pub(super) fn fold(signal: &[(f64, Option<f32>)], step: f64, merge_gap: f64, min_duration: f64) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    let mut last_hit = f64::NEG_INFINITY;
    for &(t, s) in signal {
        let Some(strength) = s else { continue };
        let hit = Hit { t, strength };
        match runs.last_mut() {
            Some(r) if t - last_hit <= 2.0 * step + 1e-9 => {
                r.end = t + step;
                r.hits.push(hit);
            }
            _ => runs.push(Run { start: t, end: t + step, hits: vec![hit], samples: 0 }),
        }
        last_hit = t;
    }
    // the time the violation was seen
    runs.retain(|r| r.hits.len() as f64 * step >= min_duration - 1e-9);
    let mut joined: Vec<Run> = Vec::with_capacity(runs.len());
    for r in runs {
        match joined.last_mut() {
            Some(prev) if r.start - prev.end < merge_gap - 1e-9 => {
                prev.end = r.end;
                prev.hits.extend(r.hits);
            }
            _ => joined.push(r),
        }
    }
    for r in &mut joined {
        r.samples = signal.iter().filter(|(t, _)| *t >= r.start - 1e-9 && *t < r.end - 1e-9).count();
    }
    joined
}

impl Run {
    pub(super) fn coverage(&self) -> f32 {
        self.hits.len() as f32 / self.samples.max(1) as f32
    }

    pub(super) fn mean_strength(&self) -> f32 {
        self.hits.iter().map(|h| h.strength).sum::<f32>() / self.hits.len().max(1) as f32
    }

    /// The strongest hit (the earliest of equals).
    pub(super) fn peak(&self) -> Hit {
        *self
            .hits
            .iter()
            .fold(None::<&Hit>, |best, h| match best {
                Some(b) if b.strength >= h.strength => Some(b),
                _ => Some(h),
            })
            .expect("a run has at least one hit")
    }

    pub(super) fn into_event(self, kind: EventKind, detail: String) -> Event {
        let peak = self.peak();
        Event {
            kind,
            start_s: self.start,
            end_s: self.end,
            confidence: (self.coverage() * self.mean_strength()).clamp(0.0, 1.0),
            detail,
            evidence_t: peak.t,
        }
    }
}

/// The value a quarter of the samples lie above (linear between ranks).
pub(super) fn upper_quartile(mut v: Vec<f32>) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let k = 0.75 * (v.len() - 1) as f32;
    let (i, f) = (k.floor() as usize, k.fract());
    Some(v[i] + (v[(i + 1).min(v.len() - 1)] - v[i]) * f)
}

/// Everything the folding produced: the events and the baseline it used.
#[derive(Debug, Clone)]
pub struct Folded {
    pub events: Vec<Event>,
    pub baseline: Baseline,
}

impl Baseline {
    /// Medians over the frames with exactly one face (the candidate alone);
    /// eyes and gaze only from faces large enough to measure them.
    pub fn from_observations(obs: &[Observation], eye_min_px: f32) -> Baseline {
        let solo = || obs.iter().filter(|o| o.face_count() == Some(1)).filter_map(|o| o.primary_face());
        let eyes = || solo().filter(|f| f.eye_distance() >= eye_min_px);
        Baseline {
            yaw: median(solo().filter_map(|f| f.yaw).collect()).unwrap_or(0.0),
            pitch: median(solo().filter_map(|f| f.pitch).collect()).unwrap_or(0.0),
            gaze_x: median(eyes().filter_map(|f| f.gaze_x).collect()).unwrap_or(0.0),
            gaze_y: median(eyes().filter_map(|f| f.gaze_y).collect()).unwrap_or(0.0),
            ear: upper_quartile(eyes().filter_map(|f| f.ear()).collect()).unwrap_or(0.0),
        }
    }
}
