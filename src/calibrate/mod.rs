//! `proctor calibrate`: thresholds learnt from the reviewers' verdicts.
//!
//! The events of a saved analysis are a function of its observations and
//! its configuration, so they can be derived again under another value of
//! a threshold without the recording. For each kind with verdicts, each
//! threshold its rule names ([`crate::kinds::knobs`]) is tried at each of
//! its values, one at a time, the others at the analysis's own
//! configuration; each try is counted against the verdicts (confirmed flags
//! kept, dismissed flags dropped, marked misses found: [`cv::Tally`]), and
//! the choice of a value is cross-validated by recording ([`cv`]). A change
//! is suggested only where the cross-validated utility beats the current
//! setting's, and only from enough verdicts.
//!
//! Nothing here names a kind or a threshold: they come from
//! [`crate::kinds::knobs`] and [`EventKind::ALL`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::kinds::{knobs, EventKind};
use crate::records::Analysis;
use crate::review::decisions::{event_set, split_orphans, Decision, Judgeable, Verdict};

pub mod cv;
pub mod knob;
mod render;

pub use cv::{Cv, Tally};
pub use render::{table, to_toml};

/// Fewest verdicts of a kind to suggest anything for it (`--min-verdicts`).
pub const DEFAULT_MIN_VERDICTS: usize = 10;

/// Fewest recordings with verdicts of a kind to suggest anything for it.
pub const MIN_RECORDINGS: usize = 3;

/// Most folds of recordings (fewer recordings: leave one out).
pub const MAX_FOLDS: usize = 10;

/// One reviewed recording: its saved analysis and the verdicts on it.
#[derive(Debug, Clone)]
pub struct Reviewed {
    /// The output directory it was found in.
    pub dir: PathBuf,
    pub analysis: Analysis,
    /// Its latest verdicts (cleared ones and orphans left out).
    pub verdicts: Vec<Decision>,
}

/// The reviewed recordings of one output directory.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub recordings: Vec<Reviewed>,
    /// Verdicts on events the outputs no longer hold (not counted).
    pub orphans: usize,
    /// What was left out, and why, one line each.
    pub warnings: Vec<String>,
}

fn refuse(dir: &Path, why: String) -> Error {
    Error::new(dir, ErrorKind::Special(why))
}

/// The reviewed recordings of the `analyze` or `batch` output directory
/// `dir` (the verdicts at its top, the summaries there or in its
/// `recordings/`). An error when it holds no verdicts, or none of the
/// analyses they are on.
pub fn load_dir(dir: &Path) -> Result<Loaded> {
    if !dir.is_dir() {
        return Err(refuse(dir, "not a directory (give an `analyze` or `batch` output directory)".into()));
    }
    let loaded = crate::review::decisions::load(dir)?;
    let mut out = Loaded { warnings: loaded.problems, ..Loaded::default() };
    let decisions: Vec<Decision> = loaded.decisions.into_iter().filter(|d| d.verdict != Verdict::Cleared).collect();
    if decisions.is_empty() {
        return Err(refuse(dir, format!("holds no verdicts (give some with `proctor review {}` first)", dir.display())));
    }
    let ids: BTreeSet<&str> = decisions.iter().map(|d| d.recording.as_str()).collect();
    let mut analyses: BTreeMap<String, Analysis> = BTreeMap::new();
    for id in &ids {
        let Some(summary) = crate::review::catalog::summary_path(dir, id) else {
            out.warnings.push(format!("{}: no analysis of recording '{id}' (no {id}.summary.json): its verdicts are not counted", dir.display()));
            continue;
        };
        match crate::load::load(&summary) {
            Ok(a) => {
                analyses.insert((*id).to_string(), a);
            }
            Err(e) => out.warnings.push(format!("{e}: its verdicts are not counted")),
        }
    }
    if analyses.is_empty() {
        return Err(refuse(dir, format!("holds verdicts on {} recordings but none of their analyses (<id>.summary.json here or in recordings/)", ids.len())));
    }
    let mut judgeable = Judgeable::default();
    for (id, a) in &analyses {
        judgeable.recordings.insert(id.clone(), (a.sha256.clone(), event_set(&a.events)));
    }
    let (live, orphans) = split_orphans(decisions, &judgeable);
    out.orphans = orphans.len();
    for (d, why) in &orphans {
        out.warnings.push(format!("{}: a {} verdict on {} at {:.1}-{:.1} s is not counted: {why}", dir.display(), d.verdict.as_str(), d.kind, d.start_s, d.end_s));
    }
    for (id, analysis) in analyses {
        let verdicts: Vec<Decision> = live.iter().filter(|d| d.recording == id).cloned().collect();
        if !verdicts.is_empty() {
            out.recordings.push(Reviewed { dir: dir.to_path_buf(), analysis, verdicts });
        }
    }
    if out.recordings.is_empty() {
        return Err(refuse(dir, "none of its verdicts is on an event its analyses still hold (analysed again since?)".into()));
    }
    Ok(out)
}

/// What is asked for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub min_verdicts: usize,
    pub min_recordings: usize,
    pub max_folds: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options { min_verdicts: DEFAULT_MIN_VERDICTS, min_recordings: MIN_RECORDINGS, max_folds: MAX_FOLDS }
    }
}

/// One threshold at one value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Setting {
    pub key: String,
    pub value: f64,
}

/// A threshold's value in the analyses (one per distinct value met).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Now {
    pub key: String,
    pub values: Vec<f64>,
}

/// What the verdicts say about one kind's thresholds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindResult {
    pub kind: EventKind,
    /// Recordings with verdicts of this kind.
    pub recordings: usize,
    /// Each threshold of the kind's rule and its value in the analyses.
    pub thresholds: Vec<Now>,
    /// The current setting counted on every recording.
    pub now: Tally,
    pub now_f1: Option<f64>,
    /// Cross-validated by recording (absent with too few verdicts).
    pub cv: Option<Cv>,
    /// What was chosen without each fold (`null`: the current setting).
    pub cv_choices: Vec<Option<Setting>>,
    pub cv_f1: Option<f64>,
    /// The change suggested (the best on all recordings), if any.
    pub suggestion: Option<Setting>,
    /// The suggestion counted on every recording (fitted on them: optimistic).
    pub fitted: Option<Tally>,
    /// "suggest", "keep" or "too few verdicts".
    pub outcome: String,
    /// Why, in words.
    pub why: String,
}

/// The whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub dirs: Vec<String>,
    pub recordings: usize,
    pub verdicts: usize,
    pub orphans: usize,
    pub min_verdicts: usize,
    pub min_recordings: usize,
    pub kinds: Vec<KindResult>,
}

/// The spans of `kind`'s events derived from `a`'s observations under `cfg`.
fn spans(a: &Analysis, cfg: &crate::config::Config, kind: EventKind) -> Vec<(f64, f64)> {
    let events = crate::events::detect_events(&a.observations, a.config.analysis.fps, cfg).events;
    events.iter().filter(|e| e.kind == kind).map(|e| (e.start_s, e.end_s)).collect()
}

/// Calibrate every kind the verdicts of `recs` judge.
pub fn calibrate(recs: &[Reviewed], opts: &Options) -> Report {
    let mut report = Report {
        recordings: recs.len(),
        verdicts: recs.iter().map(|r| r.verdicts.len()).sum(),
        min_verdicts: opts.min_verdicts,
        min_recordings: opts.min_recordings,
        ..Report::default()
    };
    for kind in EventKind::ALL {
        let of: Vec<(&Reviewed, Vec<(Verdict, f64, f64)>)> = recs
            .iter()
            .map(|r| (r, r.verdicts.iter().filter(|d| d.kind == kind).map(|d| (d.verdict, d.start_s, d.end_s)).collect::<Vec<_>>()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        if !of.is_empty() {
            report.kinds.push(calibrate_kind(kind, &of, opts));
        }
    }
    settle_shared_keys(&mut report.kinds);
    report
}

fn calibrate_kind(kind: EventKind, of: &[(&Reviewed, Vec<(Verdict, f64, f64)>)], opts: &Options) -> KindResult {
    // candidate 0 is the current setting of each analysis
    let mut candidates: Vec<Option<Setting>> = vec![None];
    for k in knobs(kind) {
        candidates.extend(k.values.iter().map(|&value| Some(Setting { key: k.key.to_string(), value })));
    }
    let mut rows: Vec<Vec<Option<Tally>>> = Vec::new();
    for (r, verdicts) in of {
        let a = &r.analysis;
        let row = candidates
            .iter()
            .map(|c| {
                let cfg = match c {
                    None => a.config.clone(),
                    Some(s) => knob::set(&a.config, &s.key, s.value).ok()?,
                };
                Some(cv::tally(&spans(a, &cfg, kind), verdicts))
            })
            .collect();
        rows.push(row);
    }
    // a value some analysis's configuration refuses is not tried at all
    let usable: Vec<usize> = (0..candidates.len()).filter(|&c| rows.iter().all(|row| row[c].is_some())).collect();
    let candidates: Vec<Option<Setting>> = usable.iter().map(|&c| candidates[c].clone()).collect();
    let rows: Vec<Vec<Tally>> = rows.iter().map(|row| usable.iter().map(|&c| row[c].unwrap_or_default()).collect()).collect();
    let now = cv::pooled(&rows, 0, |_| true);
    let thresholds = knobs(kind)
        .iter()
        .map(|k| {
            let mut values: Vec<f64> = Vec::new();
            for (r, _) in of {
                if let Some(v) = knob::get(&r.analysis.config, k.key) {
                    if !values.contains(&v) {
                        values.push(v);
                    }
                }
            }
            values.sort_by(f64::total_cmp);
            Now { key: k.key.to_string(), values }
        })
        .collect();
    let mut out = KindResult {
        kind,
        recordings: of.len(),
        thresholds,
        now,
        now_f1: now.f1(),
        cv: None,
        cv_choices: Vec::new(),
        cv_f1: None,
        suggestion: None,
        fitted: None,
        outcome: "keep".into(),
        why: String::new(),
    };
    let n = now.verdicts();
    if n < opts.min_verdicts || of.len() < opts.min_recordings {
        out.outcome = "too few verdicts".into();
        out.why = format!(
            "{n} verdicts on {} recordings: needs at least {} verdicts on at least {} recordings",
            of.len(),
            opts.min_verdicts,
            opts.min_recordings
        );
        return out;
    }
    let cv = cv::cross_validate(&rows, opts.max_folds);
    out.cv_choices = cv.choices.iter().map(|&c| candidates[c].clone()).collect();
    out.cv_f1 = cv.held_out.f1();
    out.cv = Some(cv);
    let chosen = cv::best(&rows, |_| true);
    let fitted = cv::pooled(&rows, chosen, |_| true);
    let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.2}"));
    match (&candidates[chosen], out.cv_f1, out.now_f1) {
        (None, _, _) => out.why = "no value tried does better than the current setting on these verdicts".into(),
        (Some(s), Some(cvf), Some(nowf)) if cvf > nowf => {
            out.outcome = "suggest".into();
            out.why = format!("{} = {}: cross-validated F1 {cvf:.2} against {nowf:.2} now", s.key, s.value);
            out.suggestion = Some(s.clone());
            out.fitted = Some(fitted);
        }
        (Some(s), cvf, nowf) => {
            out.why = format!(
                "{} = {} does best on all the recordings (F1 {}), but choosing it does not beat the current setting on recordings it was not chosen on (cross-validated F1 {} against {} now)",
                s.key,
                s.value,
                f(fitted.f1()),
                f(cvf),
                f(nowf)
            );
        }
    }
    out
}

/// Kinds that share a threshold (their rules read the same key) and are
/// suggested different values for it: neither suggestion stands.
fn settle_shared_keys(kinds: &mut [KindResult]) {
    let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for k in kinds.iter() {
        if let Some(s) = &k.suggestion {
            values.entry(s.key.clone()).or_default().push(s.value);
        }
    }
    for k in kinds.iter_mut() {
        let Some(s) = k.suggestion.clone() else { continue };
        if values[&s.key].iter().any(|v| *v != s.value) {
            k.why = format!("kinds sharing {} are suggested different values for it ({:?}): keep; {}", s.key, values[&s.key], k.why);
            k.outcome = "keep".into();
            k.suggestion = None;
            k.fitted = None;
        }
    }
}

#[cfg(test)]
mod tests;
