//! How the verdicts and the flags agree: orphans set apart, per-kind confirmed/dismissed rates with Wilson intervals, disagreements, recall from missed marks, and the CSV.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::kinds::EventKind;

use super::*;

/// The events verdicts can be given on: per recording, the sha256 of the
/// recording analysed and the (kind, start ms, end ms) of each of its
/// current events. A recording with no outputs is absent.
#[derive(Debug, Clone, Default)]
pub struct Judgeable {
    pub recordings: BTreeMap<String, (String, BTreeSet<(EventKind, i64, i64)>)>,
}

impl Judgeable {
    /// Why `d` judges no current event (`None` when it does).
    pub fn orphan_why(&self, d: &Decision) -> Option<String> {
        let Some((sha, events)) = self.recordings.get(&d.recording) else {
            return Some(format!("recording '{}' has no outputs here any more", d.recording));
        };
        if !d.input_sha256.is_empty() && !sha.is_empty() && &d.input_sha256 != sha {
            return Some(format!("recording '{}' was replaced by another file and analysed again", d.recording));
        }
        if d.verdict == Verdict::Missed {
            // a mark of what proctor did not raise: it holds while the recording is the same
            return None;
        }
        let (_, kind, s, e) = d.event();
        (!events.contains(&(kind, s, e))).then(|| {
            format!("recording '{}' has no {} event at {:.1}-{:.1} s any more (analysed again?)", d.recording, kind.as_str(), d.start_s, d.end_s)
        })
    }
}

/// The verdicts that judge a current event, and the orphans with why.
pub fn split_orphans(ds: Vec<Decision>, judgeable: &Judgeable) -> (Vec<Decision>, Vec<(Decision, String)>) {
    let (mut live, mut orphans) = (Vec::new(), Vec::new());
    for d in ds {
        match judgeable.orphan_why(&d) {
            None => live.push(d),
            Some(why) => orphans.push((d, why)),
        }
    }
    (live, orphans)
}

/// Reviewed, confirmed and dismissed events of one kind (or all), and the
/// precision they measure.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Tally {
    pub reviewed: usize,
    pub confirmed: usize,
    pub dismissed: usize,
    /// Spans reviewers marked as events of this kind that proctor missed.
    pub missed: usize,
    /// confirmed / (confirmed + missed): the recall the marks measure, an
    /// upper bound (misses nobody marked are not counted); null while no
    /// reviewer has marked any miss in the directory.
    pub recall: Option<f64>,
    pub recall_low: Option<f64>,
    pub recall_high: Option<f64>,
    /// confirmed / reviewed (null when none was reviewed).
    pub precision: Option<f64>,
    /// Wilson 95% interval of the precision.
    pub precision_low: Option<f64>,
    pub precision_high: Option<f64>,
}

impl Tally {
    fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Confirmed => self.confirmed += 1,
            Verdict::Dismissed => self.dismissed += 1,
            Verdict::Cleared | Verdict::Missed => return,
        }
        self.reviewed += 1;
        self.precision = Some(self.confirmed as f64 / self.reviewed as f64);
        let (lo, hi) = wilson(self.confirmed, self.reviewed);
        self.precision_low = Some(lo);
        self.precision_high = Some(hi);
    }
}

/// The Wilson score interval (95%) of `k` successes in `n` trials.
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let (n, p) = (n as f64, k as f64 / n as f64);
    let denom = 1.0 + z * z / n;
    let center = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    ((center - half).max(0.0), (center + half).min(1.0))
}

/// The false-alarm report: per kind and in all.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DecisionsEval {
    pub recordings: usize,
    /// Events on which reviewers' latest verdicts differ (the verdict given
    /// last is the one counted).
    pub disagreements: usize,
    /// Verdicts whose event is no longer in its recording's outputs: not
    /// counted below.
    pub orphans: usize,
    pub kinds: BTreeMap<EventKind, Tally>,
    pub all: Tally,
}

/// Precision per kind from the verdicts on flags (per event, the verdict
/// given last among the reviewers; a cleared one leaves the event
/// unreviewed), and, once any miss has been marked, the recall the marks
/// measure.
pub fn evaluate(ds: &[Decision]) -> DecisionsEval {
    let mut out = DecisionsEval::default();
    let mut recs = BTreeSet::new();
    let mut by_event: BTreeMap<EventId, Vec<&Decision>> = BTreeMap::new();
    for d in ds {
        match d.verdict {
            Verdict::Cleared => continue,
            Verdict::Missed => {
                out.kinds.entry(d.kind).or_default().missed += 1;
                out.all.missed += 1;
            }
            _ => by_event.entry(d.event()).or_default().push(d),
        }
        recs.insert(d.recording.as_str());
    }
    for vs in by_event.values() {
        let last = vs.iter().max_by(|a, b| a.decided_at.cmp(&b.decided_at)).expect("not empty");
        if vs.iter().any(|v| v.verdict != last.verdict) {
            out.disagreements += 1;
        }
        out.kinds.entry(last.kind).or_default().add(last.verdict);
        out.all.add(last.verdict);
    }
    if out.all.missed > 0 {
        for t in out.kinds.values_mut().chain([&mut out.all]) {
            let n = t.confirmed + t.missed;
            if n > 0 {
                let (lo, hi) = wilson(t.confirmed, n);
                (t.recall, t.recall_low, t.recall_high) = (Some(t.confirmed as f64 / n as f64), Some(lo), Some(hi));
            }
        }
    }
    out.recordings = recs.len();
    out
}

/// The verdicts as CSV (a header and one row each), for spreadsheets.
pub fn to_csv(ds: &[Decision], orphans: &[(Decision, String)]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["recording", "kind", "start_s", "end_s", "verdict", "reviewer", "decided_at", "note", "input_sha256", "config", "orphan"]);
    let rows = ds.iter().map(|d| (d, "")).chain(orphans.iter().map(|(d, why)| (d, why.as_str())));
    for (d, orphan) in rows {
        let _ = w.write_record([
            d.recording.as_str(),
            d.kind.as_str(),
            &d.start_s.to_string(),
            &d.end_s.to_string(),
            d.verdict.as_str(),
            &d.reviewer,
            &d.decided_at,
            &d.note,
            &d.input_sha256,
            &d.config,
            orphan,
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

impl DecisionsEval {
    pub fn to_markdown(&self) -> String {
        let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.1}%", v * 100.0));
        let row = |name: &str, t: &Tally| {
            format!(
                "| {name} | {} | {} | {} | {} | {} - {} |\n",
                t.reviewed, t.confirmed, t.dismissed, pct(t.precision), pct(t.precision_low), pct(t.precision_high)
            )
        };
        let mut s = format!("Verdicts on {} events of {} recordings\n\n", self.all.reviewed, self.recordings);
        if self.disagreements > 0 {
            s.push_str(&format!("Reviewers disagree on {} event(s); the verdict given last is counted.\n\n", self.disagreements));
        }
        if self.orphans > 0 {
            s.push_str(&format!(
                "{} more verdict(s) judge events that are no longer in their recordings' outputs (analysed again, replaced or deleted): not counted.\n\n",
                self.orphans
            ));
        }
        s.push_str("| kind | reviewed | confirmed | dismissed | precision | 95% interval (Wilson) |\n|---|---:|---:|---:|---:|---|\n");
        for (k, t) in &self.kinds {
            s.push_str(&row(k.as_str(), t));
        }
        s.push_str(&row("**all**", &self.all));
        if self.all.missed > 0 {
            s.push_str(
                "\nRecall, from the events reviewers marked as missed: an upper bound, since a miss nobody marked is not counted.\n\n\
| kind | confirmed | marked missed | recall | 95% interval (Wilson) |\n|---|---:|---:|---:|---|\n",
            );
            let rows = self.kinds.iter().map(|(k, t)| (k.as_str(), t)).chain([("**all**", &self.all)]);
            for (name, t) in rows.filter(|(_, t)| t.confirmed + t.missed > 0) {
                s.push_str(&format!("| {name} | {} | {} | {} | {} - {} |\n", t.confirmed, t.missed, pct(t.recall), pct(t.recall_low), pct(t.recall_high)));
            }
        }
        s
    }
}
