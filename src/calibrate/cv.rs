//! Counting what a setting does to the reviewed spans, and choosing a
//! setting by cross-validation over recordings: the choice scored on a
//! recording is always fitted on the other recordings only.

use serde::Serialize;

use crate::review::decisions::Verdict;

/// What the events of one kind under one setting do to the verdicts on
/// that kind: each verdict's span is overlapped by a new event or not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Confirmed flags that a new event still overlaps.
    pub confirmed_kept: usize,
    pub confirmed_dropped: usize,
    /// Dismissed flags that a new event still overlaps (false alarms kept).
    pub dismissed_kept: usize,
    pub dismissed_dropped: usize,
    /// Spans marked missed that a new event now overlaps.
    pub missed_found: usize,
    pub missed_not_found: usize,
    /// New events that overlap no verdict: nobody said whether they are right.
    pub unreviewed: usize,
}

impl Tally {
    pub fn add(&mut self, o: &Tally) {
        self.confirmed_kept += o.confirmed_kept;
        self.confirmed_dropped += o.confirmed_dropped;
        self.dismissed_kept += o.dismissed_kept;
        self.dismissed_dropped += o.dismissed_dropped;
        self.missed_found += o.missed_found;
        self.missed_not_found += o.missed_not_found;
        self.unreviewed += o.unreviewed;
    }

    /// Right flags: confirmed ones kept and marked misses found.
    pub fn tp(&self) -> usize {
        self.confirmed_kept + self.missed_found
    }

    /// False alarms: dismissed flags kept.
    pub fn fp(&self) -> usize {
        self.dismissed_kept
    }

    /// Events lost: confirmed flags dropped and marked misses not found.
    pub fn fn_(&self) -> usize {
        self.confirmed_dropped + self.missed_not_found
    }

    pub fn confirmed(&self) -> usize {
        self.confirmed_kept + self.confirmed_dropped
    }

    pub fn dismissed(&self) -> usize {
        self.dismissed_kept + self.dismissed_dropped
    }

    pub fn missed(&self) -> usize {
        self.missed_found + self.missed_not_found
    }

    /// The verdicts counted (unreviewed events are not verdicts).
    pub fn verdicts(&self) -> usize {
        self.confirmed() + self.dismissed() + self.missed()
    }

    /// The utility of a setting: F1 = 2 TP / (2 TP + FP + FN) over the
    /// verdicts; `None` without any verdict.
    pub fn f1(&self) -> Option<f64> {
        let d = 2 * self.tp() + self.fp() + self.fn_();
        (d > 0).then(|| 2.0 * self.tp() as f64 / d as f64)
    }
}

/// Whether two spans overlap: they share some time, or one is an instant
/// inside (or at an end of) the other.
pub fn overlaps(a: (f64, f64), b: (f64, f64)) -> bool {
    if a.1 <= a.0 || b.1 <= b.0 {
        a.0 <= b.1 && b.0 <= a.1
    } else {
        a.0 < b.1 && b.0 < a.1
    }
}

/// What `events` (one kind's new events on one recording, as spans) do to
/// `verdicts` (that kind's verdicts on that recording, with their spans).
/// A cleared verdict counts for nothing.
pub fn tally(events: &[(f64, f64)], verdicts: &[(Verdict, f64, f64)]) -> Tally {
    let mut t = Tally::default();
    for &(v, s, e) in verdicts {
        let hit = events.iter().any(|&ev| overlaps(ev, (s, e)));
        match (v, hit) {
            (Verdict::Confirmed, true) => t.confirmed_kept += 1,
            (Verdict::Confirmed, false) => t.confirmed_dropped += 1,
            (Verdict::Dismissed, true) => t.dismissed_kept += 1,
            (Verdict::Dismissed, false) => t.dismissed_dropped += 1,
            (Verdict::Missed, true) => t.missed_found += 1,
            (Verdict::Missed, false) => t.missed_not_found += 1,
            (Verdict::Cleared, _) => {}
        }
    }
    let judged = |ev: (f64, f64)| verdicts.iter().any(|&(v, s, e)| v != Verdict::Cleared && overlaps(ev, (s, e)));
    t.unreviewed = events.iter().filter(|&&ev| !judged(ev)).count();
    t
}

/// The tallies of candidate `c` summed over the recordings `on` keeps.
pub fn pooled(rows: &[Vec<Tally>], c: usize, on: impl Fn(usize) -> bool) -> Tally {
    let mut t = Tally::default();
    for (r, row) in rows.iter().enumerate() {
        if on(r) {
            t.add(&row[c]);
        }
    }
    t
}

/// The candidate with the best utility over the recordings `on` keeps.
/// `rows[r][c]` is recording `r` under candidate `c`; candidate 0 is the
/// current setting, and it wins every tie (a change must do better), then
/// the earlier candidate.
pub fn best(rows: &[Vec<Tally>], on: impl Fn(usize) -> bool) -> usize {
    let n = rows.first().map_or(0, Vec::len);
    let mut best = (0, pooled(rows, 0, &on).f1().unwrap_or(-1.0));
    for c in 1..n {
        let u = pooled(rows, c, &on).f1().unwrap_or(-1.0);
        if u > best.1 {
            best = (c, u);
        }
    }
    best.0
}

/// The fold of each of `n` recordings, for `k` folds: recording `i` is in
/// fold `i % k` (with `k >= n`, leave-one-recording-out).
pub fn folds(n: usize, k: usize) -> Vec<usize> {
    let k = k.clamp(1, n.max(1));
    (0..n).map(|i| i % k).collect()
}

/// A cross-validated estimate: the held-out recordings' tallies, each
/// under the candidate chosen on the other folds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Cv {
    pub folds: usize,
    /// The candidate chosen without each fold (index into the candidates).
    pub choices: Vec<usize>,
    /// Every recording counted once, under the choice of the folds it is not in.
    pub held_out: Tally,
}

/// Cross-validate the choice of [`best`] over `rows` with `k` folds of
/// recordings: for each fold, choose on the others, count on it.
pub fn cross_validate(rows: &[Vec<Tally>], k: usize) -> Cv {
    let fold = folds(rows.len(), k);
    let k = fold.iter().max().map_or(0, |m| m + 1);
    let mut cv = Cv { folds: k, ..Cv::default() };
    for f in 0..k {
        let choice = best(rows, |r| fold[r] != f);
        cv.choices.push(choice);
        cv.held_out.add(&pooled(rows, choice, |r| fold[r] == f));
    }
    cv
}
