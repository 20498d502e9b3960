//! Accuracy against hand-labelled ground truth (`proctor eval`).
//!
//! Ground truth is a JSON file (the format of `fixtures/sample.truth.json`):
//!
//! ```json
//! {"version": 1, "clips": {"<id>": {
//!     "duration": 20.0,
//!     "face_count": [[0, 6, 1], [6, 12, 0], [12, 18, 2]],
//!     "events": [{"kind": "no_face", "start": 6, "end": 12}]}}}
//! ```
//!
//! `<id>` is the recording's file name up to its first dot, so one label set
//! serves `E01.mp4`, `E01.vp9.webm` and `E01.vp8.webm`. A `face_count` whose
//! count is not a whole number (a string such as `">=2"`) is left out of the
//! frame-level accuracy. Event kinds that proctor does not raise (for example
//! `head_turned` or `blink_or_wink`, labelled as too short to flag) are left
//! out of the event scores: a prediction over them counts as a false alarm.
//!
//! An event matches a labelled interval of the same kind when they overlap by
//! at least half of the shorter of the two, after widening the label by the
//! boundary tolerance on each side; matching is one-to-one, greedy by overlap.

use std::collections::BTreeMap;
use std::path::Path;

/// The labels of a clip are found by its file name up to the first dot
/// (`E01_talking.vp9.webm` -> `E01_talking`), so one label set serves every
/// encoding of a clip. (Output ids keep everything but the extension; see
/// [`crate::ids`].)
pub fn clip_id(path: &std::path::Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match name.split_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem.to_string(),
        _ => name,
    }
}

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::events::{Event, EventKind};
use crate::observation::Observation;

#[derive(Debug, Clone, Deserialize)]
pub struct Truth {
    pub clips: BTreeMap<String, ClipTruth>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ClipTruth {
    #[serde(default)]
    pub duration: Option<f64>,
    #[serde(default)]
    pub face_count: Vec<(f64, f64, serde_json::Value)>,
    #[serde(default)]
    pub events: Vec<TruthEvent>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TruthEvent {
    pub kind: String,
    pub start: f64,
    pub end: f64,
}

pub fn load_truth(path: &Path) -> Result<Truth> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::new(path, ErrorKind::Unreadable(e)))?;
    serde_json::from_str(&text).map_err(|e| Error::new(path, ErrorKind::Config(format!("not a ground-truth file: {e}"))))
}

/// Matching counts for one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
}

impl Counts {
    pub fn add(&mut self, o: Counts) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
    }
    pub fn precision(&self) -> Option<f64> {
        let d = self.tp + self.fp;
        (d > 0).then(|| self.tp as f64 / d as f64)
    }
    pub fn recall(&self) -> Option<f64> {
        let d = self.tp + self.fn_;
        (d > 0).then(|| self.tp as f64 / d as f64)
    }
    pub fn f1(&self) -> Option<f64> {
        let d = 2 * self.tp + self.fp + self.fn_;
        (d > 0).then(|| 2.0 * self.tp as f64 / d as f64)
    }
}

fn overlap(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.1.min(b.1) - a.0.max(b.0)).max(0.0)
}

/// Match predicted events of one kind against labelled intervals.
pub fn match_events(pred: &[(f64, f64)], truth: &[(f64, f64)], tolerance: f64) -> Counts {
    let tp = matched(pred, truth, tolerance).into_iter().filter(|m| *m).count();
    Counts { tp, fp: pred.len() - tp, fn_: truth.len() - tp }
}

/// Which predicted events match a labelled interval (one-to-one, the
/// largest overlaps first): those are the true positives of
/// [`match_events`], the events a reviewer holding the labels would confirm.
pub fn matched(pred: &[(f64, f64)], truth: &[(f64, f64)], tolerance: f64) -> Vec<bool> {
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (i, p) in pred.iter().enumerate() {
        for (j, t) in truth.iter().enumerate() {
            let widened = (t.0 - tolerance, t.1 + tolerance);
            let shorter = (p.1 - p.0).min(t.1 - t.0).max(1e-9);
            let ov = overlap(*p, widened).min(shorter);
            if ov >= 0.5 * shorter {
                pairs.push((ov, i, j));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut used_p, mut used_t) = (vec![false; pred.len()], vec![false; truth.len()]);
    for (_, i, j) in pairs {
        if !used_p[i] && !used_t[j] {
            used_p[i] = true;
            used_t[j] = true;
        }
    }
    used_p
}

/// The result for one clip.
#[derive(Debug, Clone, Serialize)]
pub struct ClipResult {
    pub clip: String,
    pub file: String,
    /// Frames with a whole-number label, and how many the face count got right.
    pub frames_labelled: usize,
    pub frames_correct: usize,
    pub per_kind: BTreeMap<EventKind, Counts>,
    pub predicted: Vec<(EventKind, f64, f64)>,
}

impl ClipResult {
    pub fn face_count_accuracy(&self) -> Option<f64> {
        (self.frames_labelled > 0).then(|| self.frames_correct as f64 / self.frames_labelled as f64)
    }
}

/// Score one analysed clip against its labels.
pub fn evaluate_clip(
    clip: &str,
    file: &str,
    truth: &ClipTruth,
    obs: &[Observation],
    events: &[Event],
    face_min_score: f32,
    tolerance: f64,
) -> ClipResult {
    let mut labelled = 0;
    let mut correct = 0;
    for o in obs {
        let Some(faces) = o.faces_above(face_min_score) else { continue };
        let Some((_, _, c)) = truth.face_count.iter().find(|(s, e, _)| o.t >= *s && o.t < *e) else { continue };
        let Some(want) = c.as_u64() else { continue };
        labelled += 1;
        let got = faces.count() as u64;
        correct += usize::from(got == want);
    }
    let mut per_kind = BTreeMap::new();
    for kind in EventKind::ALL {
        let pred: Vec<(f64, f64)> = events.iter().filter(|e| e.kind == kind).map(|e| (e.start_s, e.end_s)).collect();
        let want: Vec<(f64, f64)> =
            truth.events.iter().filter(|e| e.kind == kind.as_str()).map(|e| (e.start, e.end)).collect();
        if !pred.is_empty() || !want.is_empty() {
            per_kind.insert(kind, match_events(&pred, &want, tolerance));
        }
    }
    ClipResult {
        clip: clip.to_string(),
        file: file.to_string(),
        frames_labelled: labelled,
        frames_correct: correct,
        per_kind,
        predicted: events.iter().map(|e| (e.kind, e.start_s, e.end_s)).collect(),
    }
}

/// Totals over clips.
#[derive(Debug, Clone, Serialize)]
pub struct EvalSummary {
    pub clips: Vec<ClipResult>,
    pub per_kind: BTreeMap<EventKind, Counts>,
    pub overall: Counts,
    pub frames_labelled: usize,
    pub frames_correct: usize,
}

impl EvalSummary {
    pub fn from_clips(clips: Vec<ClipResult>) -> EvalSummary {
        let mut per_kind: BTreeMap<EventKind, Counts> = BTreeMap::new();
        let mut overall = Counts::default();
        for c in &clips {
            for (k, n) in &c.per_kind {
                per_kind.entry(*k).or_default().add(*n);
                overall.add(*n);
            }
        }
        let frames_labelled = clips.iter().map(|c| c.frames_labelled).sum();
        let frames_correct = clips.iter().map(|c| c.frames_correct).sum();
        EvalSummary { clips, per_kind, overall, frames_labelled, frames_correct }
    }

    pub fn face_count_accuracy(&self) -> Option<f64> {
        (self.frames_labelled > 0).then(|| self.frames_correct as f64 / self.frames_labelled as f64)
    }

    /// The tables as Markdown, for the terminal and the README.
    pub fn to_markdown(&self) -> String {
        let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.0}%", v * 100.0));
        let num = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        let mut s = String::from("| clip | file | face count accuracy | events (predicted) |\n|---|---|---|---|\n");
        for c in &self.clips {
            let ev: Vec<String> = c.predicted.iter().map(|(k, a, b)| format!("{k} {a:.1}-{b:.1}")).collect();
            s += &format!(
                "| {} | {} | {} ({}/{}) | {} |\n",
                c.clip,
                c.file,
                pct(c.face_count_accuracy()),
                c.frames_correct,
                c.frames_labelled,
                if ev.is_empty() { "none".into() } else { ev.join(", ") }
            );
        }
        s += &format!(
            "\nFrame-level face-count accuracy over all clips: {} ({}/{})\n\n",
            pct(self.face_count_accuracy()),
            self.frames_correct,
            self.frames_labelled
        );
        s += "| kind | TP | FP | FN | precision | recall | F1 |\n|---|---|---|---|---|---|---|\n";
        for (k, c) in &self.per_kind {
            s += &format!("| {k} | {} | {} | {} | {} | {} | {} |\n", c.tp, c.fp, c.fn_, num(c.precision()), num(c.recall()), num(c.f1()));
        }
        let o = &self.overall;
        s += &format!(
            "| **all** | {} | {} | {} | {} | {} | {} |\n",
            o.tp,
            o.fp,
            o.fn_,
            num(o.precision()),
            num(o.recall()),
            num(o.f1())
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_needs_half_the_shorter_interval() {
        // 4-8 labelled; 6-12 predicted overlaps 2 s of the shorter 4 s: a match
        assert_eq!(match_events(&[(6.0, 12.0)], &[(4.0, 8.0)], 0.0), Counts { tp: 1, fp: 0, fn_: 0 });
        // 7-12 overlaps 1 s of 4 s: no match, without tolerance ...
        assert_eq!(match_events(&[(7.0, 12.0)], &[(4.0, 8.0)], 0.0), Counts { tp: 0, fp: 1, fn_: 1 });
        // ... but with 1 s of boundary tolerance it does
        assert_eq!(match_events(&[(7.0, 12.0)], &[(4.0, 8.0)], 1.0).tp, 1);
        // one-to-one: two predictions over one label give one TP and one FP
        assert_eq!(match_events(&[(4.0, 6.0), (6.5, 8.0)], &[(4.0, 8.0)], 0.0), Counts { tp: 1, fp: 1, fn_: 0 });
        let c = Counts { tp: 3, fp: 1, fn_: 2 };
        assert_eq!((c.precision(), c.recall()), (Some(0.75), Some(0.6)));
        assert!((c.f1().unwrap() - 6.0 / 9.0).abs() < 1e-12);
        assert_eq!(Counts::default().f1(), None);
    }
}
