//! Reviewers' verdicts on events, kept in the desk directory:
//!
//! * `decisions.jsonl`: the journal, one JSON line per verdict given, in the
//!   order given, only ever appended to (each line synced before the verdict
//!   counts as saved);
//! * `decisions.parquet`: one row per reviewed event, its latest verdict
//!   (columns `schema_version, recording, kind, start_s, end_s, verdict,
//!   note, reviewer, decided_at, input_sha256, config`), rewritten after
//!   each verdict through a temporary and a rename, so it is always whole.
//!
//! Either file alone restores every verdict: what is read is the table and
//! the journal merged (per event, the verdict given last), and a save first
//! copies into the journal any verdict of the table it lacks (a journal
//! deleted, emptied or cut short), so the next table is never smaller than
//! the last. A table that cannot be read (cut short, or of a newer schema) is
//! never written over: reading and saving fail, naming it. A journal line
//! that cannot be read stays in the journal (which is only appended to) and
//! is reported ([`Loaded::problems`]), never silently dropped.
//!
//! A verdict names the event it judges (recording, kind, start and end to
//! the millisecond) and the analysis it was given on (the recording's
//! sha256 and the configuration's fingerprint). When the recording's
//! current outputs hold no such event (analysed again under another
//! configuration, replaced, or deleted), the verdict is an *orphan*: kept,
//! reported, and not counted ([`split_orphans`]).
//!
//! Saves are serialised by an exclusive lock on `.decisions.lock` (between
//! threads and between processes; the kernel releases it when a process
//! dies). Table temporaries left by a killed save are removed under it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::kinds::EventKind;

mod agreement;
mod store;

pub use agreement::*;
pub use store::*;

/// Version of the decisions table and journal.
pub const DECISIONS_SCHEMA_VERSION: u32 = 2;

pub const TABLE: &str = "decisions.parquet";

pub const JOURNAL: &str = "decisions.jsonl";

const LOCK: &str = ".decisions.lock";

/// Longest note kept (characters).
pub const MAX_NOTE: usize = 4000;

/// Longest reviewer name kept (characters).
pub const MAX_REVIEWER: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The flag was right.
    Confirmed,
    /// The flag was wrong (a false alarm).
    Dismissed,
    /// The reviewer took their verdict back: the event is unreviewed again
    /// (kept as a row, so that either file alone still says so).
    Cleared,
    /// Not a verdict on a flag: the reviewer marked a span where an event of
    /// this kind happened and proctor raised none.
    Missed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Confirmed => "confirmed",
            Verdict::Dismissed => "dismissed",
            Verdict::Cleared => "cleared",
            Verdict::Missed => "missed",
        }
    }

    /// Whether this is a verdict on a flag proctor raised (not an undo, not a mark).
    pub fn judges_a_flag(self) -> bool {
        matches!(self, Verdict::Confirmed | Verdict::Dismissed)
    }
}

impl std::str::FromStr for Verdict {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Verdict, String> {
        match s {
            "confirmed" => Ok(Verdict::Confirmed),
            "dismissed" => Ok(Verdict::Dismissed),
            "cleared" => Ok(Verdict::Cleared),
            "missed" => Ok(Verdict::Missed),
            _ => Err(format!("unknown verdict '{s}' (confirmed, dismissed, cleared or missed)")),
        }
    }
}

/// One reviewer's verdict on one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    #[serde(default = "schema_version")]
    pub schema_version: u32,
    pub recording: String,
    pub kind: EventKind,
    pub start_s: f64,
    pub end_s: f64,
    pub verdict: Verdict,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub reviewer: String,
    #[serde(default)]
    pub decided_at: String,
    /// sha256 of the recording the event was raised on (empty in verdicts
    /// of schema 1).
    #[serde(default)]
    pub input_sha256: String,
    /// Fingerprint of the configuration of that analysis (empty in schema 1).
    #[serde(default)]
    pub config: String,
}

fn schema_version() -> u32 {
    DECISIONS_SCHEMA_VERSION
}

/// Which event a verdict is on: recording, kind, and its times to the
/// millisecond (the times come back through JSON and Parquet).
pub type EventId = (String, EventKind, i64, i64);

/// Whose verdict on which event: each reviewer's latest verdict on an event
/// is kept (two reviewers who disagree are both on record). A `missed` mark
/// is keyed by the span marked.
pub type EventKey = (String, EventKind, i64, i64, String);

/// A time to the millisecond, as verdicts and events are matched.
pub fn ms(t: f64) -> i64 {
    (t * 1000.0).round() as i64
}

/// The (kind, start ms, end ms) of `events`: what verdicts on them match.
pub fn event_set<'a>(events: impl IntoIterator<Item = &'a crate::records::Event>) -> BTreeSet<(EventKind, i64, i64)> {
    events.into_iter().map(|e| (e.kind, ms(e.start_s), ms(e.end_s))).collect()
}

impl Decision {
    pub fn event(&self) -> EventId {
        (self.recording.clone(), self.kind, ms(self.start_s), ms(self.end_s))
    }

    pub fn key(&self) -> EventKey {
        let (r, k, s, e) = self.event();
        (r, k, s, e, self.reviewer.clone())
    }

    /// Whether `other` is the same verdict given at the same time (whatever
    /// schema it was read from).
    pub fn same_verdict(&self, other: &Decision) -> bool {
        self.key() == other.key()
            && self.verdict == other.verdict
            && self.decided_at == other.decided_at
            && self.reviewer == other.reviewer
            && self.note == other.note
    }

    /// Whether the fields are acceptable (finite times in order, a note not too long).
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.recording.is_empty() {
            return Err("no recording".into());
        }
        if !(self.start_s.is_finite() && self.end_s.is_finite() && self.start_s >= 0.0 && self.end_s >= self.start_s) {
            return Err(format!("bad times {}..{}", self.start_s, self.end_s));
        }
        if self.note.chars().count() > MAX_NOTE {
            return Err(format!("note longer than {MAX_NOTE} characters"));
        }
        if self.reviewer.chars().count() > MAX_REVIEWER {
            return Err(format!("reviewer name longer than {MAX_REVIEWER} characters"));
        }
        if self.verdict == Verdict::Missed && self.end_s <= self.start_s {
            return Err("a missed event's span must end after it starts".into());
        }
        Ok(())
    }
}

/// The latest verdict per event, in the order the events were first
/// reviewed: of two verdicts on one event the one given later
/// (`decided_at`) wins, and at the same time the one that comes later in
/// `all` (so a journal read after its table overrides it).
pub fn latest(all: impl IntoIterator<Item = Decision>) -> Vec<Decision> {
    let mut order: Vec<EventKey> = Vec::new();
    let mut by: BTreeMap<EventKey, Decision> = BTreeMap::new();
    for d in all {
        let k = d.key();
        match by.get(&k) {
            None => {
                order.push(k.clone());
                by.insert(k, d);
            }
            Some(old) if d.decided_at >= old.decided_at => {
                by.insert(k, d);
            }
            Some(_) => {}
        }
    }
    order.into_iter().filter_map(|k| by.remove(&k)).collect()
}

#[cfg(test)]
mod tests;
