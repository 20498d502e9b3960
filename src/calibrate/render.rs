//! What `proctor calibrate` prints (a table per kind) and writes (a
//! commented `proctor.toml` of the suggested keys only).

use std::collections::BTreeMap;

use crate::review::decisions::wilson;

use super::{KindResult, Report, Tally};

/// `k/n` with its Wilson 95% interval in percent: `9/10 (60-98%)`.
pub fn share(k: usize, n: usize) -> String {
    if n == 0 {
        return "0/0".into();
    }
    let (lo, hi) = wilson(k, n);
    format!("{k}/{n} ({:.0}-{:.0}%)", lo * 100.0, hi * 100.0)
}

fn f1(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.2}"))
}

fn number(v: f64) -> String {
    format!("{v}")
}

/// The kind's thresholds as they are in the analyses: `key = v` (or `v1|v2` when they differ).
fn now_of(k: &KindResult) -> String {
    k.thresholds
        .iter()
        .map(|t| format!("{} = {}", t.key, if t.values.is_empty() { "?".into() } else { t.values.iter().map(|v| number(*v)).collect::<Vec<_>>().join("|") }))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The counts of a tally, for a line of figures.
fn figures(t: &Tally) -> String {
    format!(
        "confirmed kept {}; dismissed dropped {}; misses found {}; unreviewed events {}",
        share(t.confirmed_kept, t.confirmed()),
        share(t.dismissed_dropped, t.dismissed()),
        share(t.missed_found, t.missed()),
        t.unreviewed
    )
}

/// The human table: one row per kind, then its figures now and cross-validated.
pub fn table(r: &Report) -> String {
    let mut s = format!(
        "{} verdicts on {} recordings ({}){}\n\n",
        r.verdicts,
        r.recordings,
        r.dirs.join(", "),
        if r.orphans > 0 { format!("; {} orphan verdicts not counted", r.orphans) } else { String::new() }
    );
    s.push_str("| kind | verdicts | recordings | now | suggestion | F1 now | F1 cross-validated |\n|---|---|---|---|---|---|---|\n");
    for k in &r.kinds {
        let suggestion = match &k.suggestion {
            Some(x) => format!("{} = {}", x.key, number(x.value)),
            None => k.outcome.clone(),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            k.kind,
            k.now.verdicts(),
            k.recordings,
            now_of(k),
            suggestion,
            f1(k.now_f1),
            f1(k.cv_f1)
        ));
    }
    for k in &r.kinds {
        s.push_str(&format!("\n{}: {}\n", k.kind, k.why));
        s.push_str(&format!("  now:             {}\n", figures(&k.now)));
        if let Some(cv) = &k.cv {
            s.push_str(&format!("  cross-validated: {} ({} folds of recordings)\n", figures(&cv.held_out), cv.folds));
        }
    }
    s
}

/// The evidence for one suggestion, as comment lines.
fn evidence(k: &KindResult) -> Vec<String> {
    let mut lines = vec![format!(
        "{}: {} verdicts on {} recordings ({} confirmed, {} dismissed, {} marked missed)",
        k.kind,
        k.now.verdicts(),
        k.recordings,
        k.now.confirmed(),
        k.now.dismissed(),
        k.now.missed()
    )];
    lines.push(format!("now ({}): F1 {}; {}", now_of(k), f1(k.now_f1), figures(&k.now)));
    if let Some(cv) = &k.cv {
        lines.push(format!("cross-validated ({} folds of recordings, each scored under the value chosen on the others): F1 {}; {}", cv.folds, f1(k.cv_f1), figures(&cv.held_out)));
    }
    if let Some(t) = &k.fitted {
        lines.push(format!("this value on all the recordings it was chosen on (optimistic): F1 {}; {}", f1(t.f1()), figures(t)));
    }
    lines
}

/// A `proctor.toml` holding only the suggested keys, each after the evidence
/// for it; `command` is the command line that made it.
pub fn to_toml(r: &Report, command: &str) -> String {
    let mut s = format!(
        "# Thresholds suggested by `{command}`\n# from {} verdicts on {} recordings in {}.\n\
# Only the suggested keys are here: every other key keeps its default. Lay them over the\n\
# configuration the analyses used, and check them on recordings nobody reviewed.\n",
        r.verdicts,
        r.recordings,
        r.dirs.join(", ")
    );
    // the keys by table ("rules.no_face" for rules.no_face.min_s), each with the kinds suggesting it
    let mut tables: BTreeMap<String, BTreeMap<String, (f64, Vec<&KindResult>)>> = BTreeMap::new();
    for k in &r.kinds {
        let Some(sug) = &k.suggestion else { continue };
        let (table, key) = sug.key.rsplit_once('.').unwrap_or(("", sug.key.as_str()));
        tables.entry(table.to_string()).or_default().entry(key.to_string()).or_insert((sug.value, Vec::new())).1.push(k);
    }
    if tables.is_empty() {
        s.push_str("# No change is suggested: this file changes nothing.\n");
    }
    for (table, keys) in &tables {
        s.push('\n');
        if !table.is_empty() {
            s.push_str(&format!("[{table}]\n"));
        }
        for (key, (value, kinds)) in keys {
            for k in kinds {
                for line in evidence(k) {
                    s.push_str(&format!("# {line}\n"));
                }
            }
            let full = if table.is_empty() { key.clone() } else { format!("{table}.{key}") };
            // written as the configuration holds it (an integer or a float)
            let v = super::knob::literal(&crate::config::Config::default(), &full, *value).unwrap_or_else(|_| number(*value));
            s.push_str(&format!("{key} = {v}\n"));
        }
    }
    s
}
