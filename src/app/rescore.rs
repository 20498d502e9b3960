//! `proctor rescore`: another configuration's rules over saved analyses, and
//! what changed, per kind and per band.

use std::collections::BTreeMap;
use std::process::ExitCode;

use crate::cli::RescoreArgs;
use crate::config::Config;
use crate::kinds::EventKind;
use crate::rescore::{rescore, Options, Rescored};
use crate::save::WriteOptions;

pub(super) fn rescore_cmd(args: &RescoreArgs) -> ExitCode {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            crate::warn!("proctor: error: {e}");
            return ExitCode::from(super::EXIT_FAILED);
        }
    };
    let opts = Options {
        config,
        config_path: args.config.clone(),
        outdir: args.output.clone(),
        write: WriteOptions { no_report: args.no_reports, ..WriteOptions::default() },
    };
    let done = match rescore(&args.inputs, &opts) {
        Ok(d) => d,
        Err(e) => {
            crate::warn!("proctor: error: {e}");
            return ExitCode::from(super::EXIT_FAILED);
        }
    };
    let totals = Totals::of(&done);
    for r in &done {
        match &r.result {
            Ok(o) if args.json => crate::say!(
                "{}",
                serde_json::json!({"recording": r.id, "summary": r.summary.display().to_string(), "change": o.change})
            ),
            Ok(_) => {}
            Err(e) => {
                crate::warn!("proctor: error: {e}");
                if args.json {
                    crate::say!("{}", serde_json::json!({"recording": r.id, "summary": r.summary.display().to_string(), "error": e.kind.to_string()}));
                }
            }
        }
    }
    if args.json {
        crate::say!("{}", serde_json::json!({"totals": totals, "config": args.config.display().to_string(), "output": args.output.display().to_string()}));
    } else {
        crate::say!("{}", totals.table(&args.config.display().to_string(), &args.output.display().to_string()));
    }
    if totals.failed > 0 {
        ExitCode::from(super::EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// What a rescore changed over all its recordings.
#[derive(Debug, Default, serde::Serialize)]
struct Totals {
    recordings: usize,
    failed: usize,
    /// Recordings whose events or score changed.
    changed: usize,
    added: BTreeMap<EventKind, usize>,
    removed: BTreeMap<EventKind, usize>,
    /// "low -> medium": how many recordings moved so.
    band_changes: BTreeMap<String, usize>,
}

impl Totals {
    fn of(done: &[Rescored]) -> Totals {
        let mut t = Totals { recordings: done.len(), ..Totals::default() };
        for o in done.iter().filter_map(|r| r.result.as_ref().ok()) {
            let c = &o.change;
            t.changed += usize::from(!c.is_empty());
            for (k, n) in &c.added {
                *t.added.entry(*k).or_default() += n;
            }
            for (k, n) in &c.removed {
                *t.removed.entry(*k).or_default() += n;
            }
            if c.band[0] != c.band[1] {
                *t.band_changes.entry(format!("{} -> {}", c.band[0].as_str(), c.band[1].as_str())).or_default() += 1;
            }
        }
        t.failed = done.iter().filter(|r| r.result.is_err()).count();
        t
    }

    fn table(&self, config: &str, output: &str) -> String {
        let mut s = format!(
            "rescored {} of {} recordings under {config} -> {output}; {} changed\n",
            self.recordings - self.failed,
            self.recordings,
            self.changed
        );
        let kinds: Vec<EventKind> = EventKind::ALL.into_iter().filter(|k| self.added.contains_key(k) || self.removed.contains_key(k)).collect();
        if kinds.is_empty() {
            s.push_str("no event added or removed\n");
        } else {
            s.push_str(&format!("{:<18} {:>6} {:>8}\n", "kind", "added", "removed"));
            for k in kinds {
                let n = |m: &BTreeMap<EventKind, usize>| m.get(&k).copied().unwrap_or(0);
                s.push_str(&format!("{:<18} {:>6} {:>8}\n", k.as_str(), n(&self.added), n(&self.removed)));
            }
        }
        let moved: usize = self.band_changes.values().sum();
        let each: Vec<String> = self.band_changes.iter().map(|(b, n)| format!("{b}: {n}")).collect();
        s.push_str(&format!("band changed: {moved} recording{}{}", if moved == 1 { "" } else { "s" }, if each.is_empty() { String::new() } else { format!(" ({})", each.join(", ")) }));
        s
    }
}
