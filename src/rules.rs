//! The rules, run on what was seen: an analysis's events, baseline and score
//! are a pure function of its observations and a configuration. `analyze`
//! derives its events here from the record it is about to save; `proctor
//! report --config` and `proctor rescore` apply another configuration to a
//! saved analysis the same way, without decoding anything.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::config::Config;
use crate::kinds::EventKind;
use crate::records::{Analysis, Band};

/// Derive `a`'s events, baseline and score from its observations under its
/// own configuration (`a.config`).
pub fn apply(a: &mut Analysis) {
    let folded = crate::events::detect_events(&a.observations, a.config.analysis.fps, &a.config);
    a.events = folded.events;
    a.baseline = folded.baseline;
    a.score = crate::score::score(&a.events, &a.config.policy);
}

/// `a` under `cfg`: its events, baseline and score derived again from its
/// observations, and how they changed. `Err` lists the settings of `cfg`
/// that shape what is seen ([`Config::perception_changes`]), which only a new
/// analysis can apply.
pub fn under(a: &Analysis, cfg: &Config) -> Result<(Analysis, Change), Vec<String>> {
    let needs_analysis = a.config.perception_changes(cfg);
    if !needs_analysis.is_empty() {
        return Err(needs_analysis);
    }
    let mut b = a.clone();
    b.config = cfg.clone();
    apply(&mut b);
    let change = Change::between(a, &b);
    Ok((b, change))
}

/// How a recording's events and score changed from one configuration to
/// another. An event is the same when its kind, start and end (to the
/// millisecond) are.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Events per kind raised now and not before.
    pub added: BTreeMap<EventKind, usize>,
    /// Events per kind raised before and not now.
    pub removed: BTreeMap<EventKind, usize>,
    /// The score before and after.
    pub score: [f64; 2],
    /// The band before and after.
    pub band: [Band; 2],
}

impl Change {
    pub fn between(before: &Analysis, after: &Analysis) -> Change {
        let set = |a: &Analysis| -> BTreeSet<(EventKind, i64, i64)> {
            a.events.iter().map(|e| (e.kind, ms(e.start_s), ms(e.end_s))).collect()
        };
        let (old, new) = (set(before), set(after));
        let tally = |from: &BTreeSet<_>, without: &BTreeSet<_>| {
            let mut m = BTreeMap::new();
            for (k, _, _) in from.difference(without) {
                *m.entry(*k).or_insert(0) += 1;
            }
            m
        };
        Change {
            added: tally(&new, &old),
            removed: tally(&old, &new),
            score: [before.score.value, after.score.value],
            band: [before.score.band, after.score.band],
        }
    }

    /// In words: "1 event added (phone 1), 2 removed (gaze_away 2); score 90 -> 85 (low)".
    pub fn describe(&self) -> String {
        let list = |m: &BTreeMap<EventKind, usize>| {
            let n: usize = m.values().sum();
            let each: Vec<String> = m.iter().map(|(k, c)| format!("{k} {c}")).collect();
            if n == 0 { "0".to_string() } else { format!("{n} ({})", each.join(", ")) }
        };
        let band = if self.band[0] == self.band[1] {
            format!("({})", self.band[1].as_str())
        } else {
            format!("(band {} -> {})", self.band[0].as_str(), self.band[1].as_str())
        };
        format!(
            "events added {}, removed {}; score {:.0} -> {:.0} {band}",
            list(&self.added),
            list(&self.removed),
            self.score[0],
            self.score[1]
        )
    }

    /// Whether anything changed: an event, the score or the band.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.score[0] == self.score[1]
    }
}

fn ms(t: f64) -> i64 {
    (t * 1000.0).round() as i64
}
