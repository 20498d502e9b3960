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
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::kinds::EventKind;

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

fn io_err(p: &Path, e: std::io::Error) -> Error {
    Error::new(p, ErrorKind::Output(e.to_string()))
}

/// Every verdict in the journal, in order, and a line of words for each line
/// that is not one (cut by a crash, edited, or of a newer schema): those
/// lines stay in the file, which is only ever appended to.
pub fn read_journal(dir: &Path) -> Result<(Vec<Decision>, Vec<String>)> {
    let p = dir.join(JOURNAL);
    let bytes = match std::fs::read(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(Error::new(&p, ErrorKind::Unreadable(e))),
    };
    let text = String::from_utf8_lossy(&bytes);
    let (mut ok, mut problems) = (Vec::new(), Vec::new());
    let n = text.lines().count();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let newer = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get("schema_version").and_then(|v| v.as_u64()))
            .filter(|v| *v > u64::from(DECISIONS_SCHEMA_VERSION));
        match (newer, serde_json::from_str::<Decision>(line)) {
            (Some(v), _) => problems.push(format!(
                "{}: line {}: a verdict of schema {v}, written by a newer proctor (this one reads up to {DECISIONS_SCHEMA_VERSION}): kept in the file, not counted",
                p.display(),
                i + 1
            )),
            (None, Ok(d)) if d.check().is_ok() => ok.push(d),
            (None, Ok(d)) => problems.push(format!("{}: line {}: not a valid verdict ({}): kept in the file, not counted", p.display(), i + 1, d.check().unwrap_err())),
            (None, Err(e)) => {
                let why = if i + 1 == n && !bytes.ends_with(b"\n") { "cut short (a save interrupted by a crash)".to_string() } else { format!("not a verdict ({e})") };
                problems.push(format!("{}: line {}: {why}: kept in the file, not counted", p.display(), i + 1));
            }
        }
    }
    Ok((ok, problems))
}

/// The decisions table as a DataFrame.
pub fn frame(ds: &[Decision]) -> DataFrame {
    let s = |f: &dyn Fn(&Decision) -> &str| ds.iter().map(f).collect::<Vec<&str>>();
    DataFrame::new_infer_height(vec![
        Column::new("schema_version".into(), vec![DECISIONS_SCHEMA_VERSION; ds.len()]),
        Column::new("recording".into(), s(&|d| &d.recording)),
        Column::new("kind".into(), s(&|d| d.kind.as_str())),
        Column::new("start_s".into(), ds.iter().map(|d| d.start_s).collect::<Vec<f64>>()),
        Column::new("end_s".into(), ds.iter().map(|d| d.end_s).collect::<Vec<f64>>()),
        Column::new("verdict".into(), s(&|d| d.verdict.as_str())),
        Column::new("note".into(), s(&|d| &d.note)),
        Column::new("reviewer".into(), s(&|d| &d.reviewer)),
        Column::new("decided_at".into(), s(&|d| &d.decided_at)),
        Column::new("input_sha256".into(), s(&|d| &d.input_sha256)),
        Column::new("config".into(), s(&|d| &d.config)),
    ])
    .expect("equal lengths")
}

/// Read `decisions.parquet` (`path`).
pub fn read_table(path: &Path) -> Result<Vec<Decision>> {
    let refuse = |why: String| {
        Error::new(
            path,
            ErrorKind::Special(format!(
                "cannot be read as a verdicts table ({why}); proctor will not write over it: use the proctor that wrote it, or move it aside to start a new one"
            )),
        )
    };
    let df = crate::tables::read_parquet(path).map_err(|e| refuse(e.kind.to_string()))?;
    let bad = |why: String| refuse(format!("not a proctor decisions table: {why}"));
    let get = |name: &str| df.column(name).map_err(|e| bad(e.to_string()));
    let strs = |name: &str| -> Result<Vec<String>> {
        Ok(get(name)?.str().map_err(|e| bad(e.to_string()))?.iter().map(|v| v.unwrap_or("").to_string()).collect())
    };
    let f64s = |name: &str| -> Result<Vec<f64>> { Ok(get(name)?.f64().map_err(|e| bad(e.to_string()))?.iter().map(|v| v.unwrap_or(f64::NAN)).collect()) };
    let version = get("schema_version")?.u32().map_err(|e| bad(e.to_string()))?;
    if let Some(v) = version.iter().flatten().find(|v| *v > DECISIONS_SCHEMA_VERSION) {
        return Err(bad(format!("schema version {v}, this proctor reads up to {DECISIONS_SCHEMA_VERSION}")));
    }
    let (rec, kind, verdict, note, reviewer, at) = (strs("recording")?, strs("kind")?, strs("verdict")?, strs("note")?, strs("reviewer")?, strs("decided_at")?);
    let (start, end) = (f64s("start_s")?, f64s("end_s")?);
    // absent from tables of schema 1
    let or_empty = |name: &str| -> Result<Vec<String>> { if df.column(name).is_ok() { strs(name) } else { Ok(vec![String::new(); rec.len()]) } };
    let (sha, config) = (or_empty("input_sha256")?, or_empty("config")?);
    (0..rec.len())
        .map(|i| {
            Ok(Decision {
                schema_version: DECISIONS_SCHEMA_VERSION,
                recording: rec[i].clone(),
                kind: kind[i].parse().map_err(bad)?,
                start_s: start[i],
                end_s: end[i],
                verdict: verdict[i].parse().map_err(bad)?,
                note: note[i].clone(),
                reviewer: reviewer[i].clone(),
                decided_at: at[i].clone(),
                input_sha256: sha[i].clone(),
                config: config[i].clone(),
            })
        })
        .collect()
}

/// What the desk directory's verdicts are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loaded {
    /// The latest verdict per event.
    pub decisions: Vec<Decision>,
    /// Each journal line that could not be read, in words (naming the file
    /// and the line).
    pub problems: Vec<String>,
}

/// The table's verdicts (none when there is no table; an error when there
/// is one that cannot be read) and the journal's, with its problems.
fn read_both(dir: &Path) -> Result<(Vec<Decision>, Vec<Decision>, Vec<String>)> {
    let table = dir.join(TABLE);
    let rows = match std::fs::metadata(&table) {
        Ok(_) => read_table(&table)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::new(&table, ErrorKind::Unreadable(e))),
    };
    let (journal, problems) = read_journal(dir)?;
    Ok((rows, journal, problems))
}

/// The verdicts of the desk directory `dir`: its table and its journal
/// merged (either may be missing); none when neither exists. An error when
/// the table exists and cannot be read.
pub fn load(dir: &Path) -> Result<Loaded> {
    let (rows, journal, problems) = read_both(dir)?;
    Ok(Loaded { decisions: latest(rows.into_iter().chain(journal)), problems })
}

/// The latest verdict per event in the desk directory `dir` ([`load`]
/// without the problems).
pub fn read_latest(dir: &Path) -> Result<Vec<Decision>> {
    Ok(load(dir)?.decisions)
}

/// Remove table temporaries left by saves that were killed. Only called
/// with the lock held, when no save is under way.
fn clean_table_temporaries(dir: &Path) {
    let prefix = format!(".{TABLE}.tmp-");
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Take the desk directory's lock. Held until the returned file is dropped.
fn lock(dir: &Path) -> Result<std::fs::File> {
    let lock_path = dir.join(LOCK);
    let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(|e| io_err(&lock_path, e))?;
    lock.lock().map_err(|e| io_err(&lock_path, e))?;
    Ok(lock)
}

/// Check that the verdicts of `dir` can be read and kept (the table, if
/// any, is readable), and remove what killed saves left (not on every save:
/// listing a directory of 10,000 recordings' outputs would make a verdict
/// cost more in a larger archive). The server calls it before it starts.
pub fn open(dir: &Path) -> Result<Loaded> {
    let _lock = lock(dir)?;
    clean_table_temporaries(dir);
    load(dir)
}

/// Write the table of `ds` to `dir/decisions.parquet` (temporary, then rename).
pub fn write_table(dir: &Path, ds: &[Decision]) -> Result<PathBuf> {
    let p = dir.join(TABLE);
    let mut df = frame(ds);
    crate::output::write_atomic(&p, |w| {
        ParquetWriter::new(w).with_compression(ParquetCompression::Snappy).finish(&mut df).map(|_| ()).map_err(|e| e.to_string())
    })?;
    Ok(p)
}

/// Save one verdict in the desk directory `dir`, durably, before returning:
/// under the lock, its line is appended to the journal and synced, then the
/// table is written again from the whole journal. Returns the latest
/// verdicts after it.
pub fn save(dir: &Path, d: &Decision) -> Result<Vec<Decision>> {
    d.check().map_err(|why| Error::new(dir.join(JOURNAL), ErrorKind::Config(why)))?;
    let lock = lock(dir)?;
    // a table proctor cannot read is never written over
    let (rows, journal, _) = read_both(dir)?;
    // the table's verdicts the journal lacks (it was deleted, emptied or cut
    // short) go back into it first, so that the journal alone still holds
    // every verdict
    let missing: Vec<&Decision> = rows.iter().filter(|r| !journal.iter().any(|j| j.same_verdict(r))).collect();
    let jp = dir.join(JOURNAL);
    // appended and synced; a line cut short by a crash stays on a line of its own
    let mut j = crate::output::LineLog::open(&jp).map_err(|e| io_err(&jp, e))?;
    let lines: Vec<String> = missing.iter().copied().chain([d]).map(|r| serde_json::to_string(r).expect("a decision serialises")).collect();
    j.append(&lines.join("\n")).map_err(|e| io_err(&jp, e))?;
    drop(j);
    let all = latest(rows.into_iter().chain(journal).chain([d.clone()]));
    write_table(dir, &all)?;
    let _ = lock.unlock();
    Ok(all)
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn d(rec: &str, kind: EventKind, s: f64, v: Verdict, who: &str) -> Decision {
        Decision {
            schema_version: DECISIONS_SCHEMA_VERSION,
            recording: rec.into(),
            kind,
            start_s: s,
            end_s: s + 2.5,
            verdict: v,
            note: format!("<script>alert('{who}')</script>"),
            reviewer: who.into(),
            decided_at: "2026-12-05T00:00:00Z".into(),
            input_sha256: String::new(),
            config: String::new(),
        }
    }

    #[test]
    fn a_later_verdict_replaces_the_earlier_and_the_journal_keeps_both() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &d("a", EventKind::Phone, 1.0, Verdict::Confirmed, "x")).unwrap();
        save(dir.path(), &d("a", EventKind::NoFace, 1.0, Verdict::Confirmed, "x")).unwrap();
        // the same event, its times as they come back from JSON in a browser
        let mut again = d("a", EventKind::Phone, 1.0000000001, Verdict::Dismissed, "x");
        again.end_s = 3.5;
        save(dir.path(), &again).unwrap();
        let table = read_table(&dir.path().join(TABLE)).unwrap();
        assert_eq!(table.len(), 2);
        assert_eq!(table[0].kind, EventKind::Phone);
        assert_eq!(table[0].verdict, Verdict::Dismissed);
        assert_eq!(table[0].end_s, 3.5);
        assert_eq!(table[0].note, "<script>alert('x')</script>");
        assert_eq!(read_journal(dir.path()).unwrap().0.len(), 3);
        assert_eq!(read_latest(dir.path()).unwrap(), table);
    }

    #[test]
    fn two_reviewers_are_both_kept_undo_clears_and_misses_give_recall() {
        let dir = tempfile::tempdir().unwrap();
        let at = |mut x: Decision, t: &str| {
            x.decided_at = format!("2026-12-05T10:00:{t}Z");
            x
        };
        // one phone flag: x confirms, then y dismisses it: both kept, y's counts, a disagreement
        save(dir.path(), &at(d("a", EventKind::Phone, 1.0, Verdict::Confirmed, "x"), "01")).unwrap();
        save(dir.path(), &at(d("a", EventKind::Phone, 1.0, Verdict::Dismissed, "y"), "02")).unwrap();
        // another flag confirmed, then taken back: unreviewed again
        save(dir.path(), &at(d("a", EventKind::Phone, 9.0, Verdict::Confirmed, "x"), "03")).unwrap();
        save(dir.path(), &at(d("a", EventKind::Phone, 9.0, Verdict::Cleared, "x"), "04")).unwrap();
        // a third confirmed, and two phones proctor missed
        save(dir.path(), &at(d("b", EventKind::Phone, 4.0, Verdict::Confirmed, "x"), "05")).unwrap();
        save(dir.path(), &at(d("b", EventKind::Phone, 20.0, Verdict::Missed, "x"), "06")).unwrap();
        save(dir.path(), &at(d("b", EventKind::Phone, 40.0, Verdict::Missed, "y"), "07")).unwrap();
        let all = read_latest(dir.path()).unwrap();
        assert_eq!(all.len(), 6, "{all:?}");
        // the table alone says the same (the cleared verdict is a row of its own)
        std::fs::remove_file(dir.path().join(JOURNAL)).unwrap();
        assert_eq!(read_latest(dir.path()).unwrap(), all);
        let e = evaluate(&all);
        let p = &e.kinds[&EventKind::Phone];
        assert_eq!((p.reviewed, p.confirmed, p.dismissed, p.missed), (2, 1, 1, 2));
        assert_eq!(e.disagreements, 1);
        assert_eq!(p.recall, Some(1.0 / 3.0));
        assert!(p.recall_low.unwrap() < 1.0 / 3.0 && p.recall_high.unwrap() > 1.0 / 3.0);
        let md = e.to_markdown();
        assert!(md.contains("| phone | 1 | 2 | 33.3% |") && md.contains("upper bound") && md.contains("disagree on 1"), "{md}");
        // no marks at all: no recall claimed
        assert_eq!(evaluate(&all[..3]).kinds[&EventKind::Phone].recall, None);
        let csv = to_csv(&all, &[]);
        assert_eq!(csv.lines().count(), 7);
        assert!(csv.lines().next().unwrap().starts_with("recording,kind,start_s,end_s,verdict,reviewer"));
        assert!(csv.contains(",missed,y,"), "{csv}");
        // a missed span must have a length
        let mut bad = d("a", EventKind::Book, 5.0, Verdict::Missed, "x");
        bad.end_s = 5.0;
        assert!(save(dir.path(), &bad).is_err());
    }

    #[test]
    fn a_line_cut_by_a_crash_loses_no_other_verdict() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &d("a", EventKind::Phone, 1.0, Verdict::Confirmed, "x")).unwrap();
        let mut j = std::fs::OpenOptions::new().append(true).open(dir.path().join(JOURNAL)).unwrap();
        j.write_all(b"{\"recording\":\"a\",\"ki").unwrap();
        drop(j);
        save(dir.path(), &d("a", EventKind::Book, 5.0, Verdict::Dismissed, "x")).unwrap();
        let all = read_latest(dir.path()).unwrap();
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!(read_table(&dir.path().join(TABLE)).unwrap(), all);
        // a temporary left by a killed save is not the table
        std::fs::write(crate::output::temp_path(&dir.path().join(TABLE)), b"half").unwrap();
        assert_eq!(read_table(&dir.path().join(TABLE)).unwrap().len(), 2);
    }

    #[test]
    fn concurrent_saves_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            for who in 0..4 {
                let p = dir.path();
                s.spawn(move || {
                    for i in 0..15 {
                        save(p, &d("a", EventKind::Phone, (who * 100 + i) as f64, Verdict::Confirmed, &who.to_string())).unwrap();
                    }
                });
            }
        });
        assert_eq!(read_journal(dir.path()).unwrap().0.len(), 60);
        assert_eq!(read_table(&dir.path().join(TABLE)).unwrap().len(), 60);
    }

    #[test]
    fn bad_verdicts_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut x = d("a", EventKind::Phone, 1.0, Verdict::Confirmed, "x");
        x.end_s = f64::NAN;
        assert!(save(dir.path(), &x).is_err());
        assert!(serde_json::from_str::<Decision>(r#"{"recording":"a","kind":"phone","start_s":1,"end_s":2,"verdict":"maybe"}"#).is_err());
        assert!(!dir.path().join(TABLE).exists());
    }

    #[test]
    fn precision_and_wilson_interval() {
        // known values: 8 of 10 -> 0.4902..0.9433
        let (lo, hi) = wilson(8, 10);
        assert!((lo - 0.4902).abs() < 1e-3 && (hi - 0.9433).abs() < 1e-3, "{lo} {hi}");
        let (lo, hi) = wilson(0, 5);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.4345).abs() < 1e-3, "{hi}");
        let ds = vec![
            d("a", EventKind::Phone, 1.0, Verdict::Confirmed, "x"),
            d("a", EventKind::Phone, 9.0, Verdict::Dismissed, "x"),
            d("b", EventKind::NoFace, 1.0, Verdict::Confirmed, "x"),
        ];
        let e = evaluate(&ds);
        assert_eq!(e.recordings, 2);
        assert_eq!(e.kinds[&EventKind::Phone].precision, Some(0.5));
        assert_eq!(e.all.reviewed, 3);
        assert_eq!(e.all.confirmed, 2);
        assert!(e.to_markdown().contains("| phone | 2 | 1 | 1 | 50.0% |"));
    }

    fn three(dir: &Path) -> Vec<Decision> {
        let ds = [
            d("a", EventKind::Phone, 1.0, Verdict::Confirmed, "x"),
            d("a", EventKind::NoFace, 9.0, Verdict::Dismissed, "x"),
            d("b", EventKind::Book, 2.0, Verdict::Confirmed, "y"),
        ];
        for x in &ds {
            save(dir, x).unwrap();
        }
        ds.to_vec()
    }

    fn keys(ds: &[Decision]) -> Vec<EventKey> {
        let mut k: Vec<EventKey> = ds.iter().map(Decision::key).collect();
        k.sort();
        k
    }

    #[test]
    fn a_missing_or_empty_journal_loses_nothing_and_is_filled_again() {
        for how in ["deleted", "emptied", "cut"] {
            let dir = tempfile::tempdir().unwrap();
            let ds = three(dir.path());
            let jp = dir.path().join(JOURNAL);
            match how {
                "deleted" => std::fs::remove_file(&jp).unwrap(),
                "emptied" => std::fs::write(&jp, b"").unwrap(),
                _ => {
                    let j = std::fs::read(&jp).unwrap();
                    std::fs::write(&jp, &j[..j.len() / 2]).unwrap();
                }
            }
            // read: the table's three
            assert_eq!(keys(&read_latest(dir.path()).unwrap()), keys(&ds), "{how}");
            // one more verdict: four in the table, and the journal alone holds them all
            let more = d("c", EventKind::Voices, 3.0, Verdict::Confirmed, "z");
            save(dir.path(), &more).unwrap();
            let all: Vec<Decision> = ds.iter().cloned().chain([more]).collect();
            assert_eq!(keys(&read_table(&dir.path().join(TABLE)).unwrap()), keys(&all), "{how}");
            std::fs::remove_file(dir.path().join(TABLE)).unwrap();
            assert_eq!(keys(&read_latest(dir.path()).unwrap()), keys(&all), "{how}: the journal alone");
        }
    }

    #[test]
    fn a_table_that_cannot_be_read_is_never_written_over() {
        let newer = {
            let dir = tempfile::tempdir().unwrap();
            three(dir.path());
            let mut df = crate::tables::read_parquet(&dir.path().join(TABLE)).unwrap();
            df.with_column(Column::new("schema_version".into(), vec![DECISIONS_SCHEMA_VERSION + 1; 3])).unwrap();
            let p = dir.path().join("newer.parquet");
            ParquetWriter::new(std::fs::File::create(&p).unwrap()).finish(&mut df).unwrap();
            std::fs::read(p).unwrap()
        };
        let whole = {
            let dir = tempfile::tempdir().unwrap();
            three(dir.path());
            std::fs::read(dir.path().join(TABLE)).unwrap()
        };
        for (how, bytes) in [("newer schema", newer), ("cut short", whole[..whole.len() / 2].to_vec()), ("empty", Vec::new())] {
            for with_journal in [false, true] {
                let dir = tempfile::tempdir().unwrap();
                if with_journal {
                    three(dir.path());
                }
                std::fs::write(dir.path().join(TABLE), &bytes).unwrap();
                let e = load(dir.path()).unwrap_err().to_string();
                assert!(e.contains(TABLE) && e.contains("will not write over it"), "{how}: {e}");
                assert!(open(dir.path()).is_err(), "{how}");
                assert!(save(dir.path(), &d("c", EventKind::Voices, 3.0, Verdict::Confirmed, "z")).is_err(), "{how}");
                assert_eq!(std::fs::read(dir.path().join(TABLE)).unwrap(), bytes, "{how}: the table was written over");
            }
        }
    }

    #[test]
    fn journal_lines_that_cannot_be_read_are_kept_reported_and_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ds = three(dir.path());
        let jp = dir.path().join(JOURNAL);
        let lines: Vec<String> = std::fs::read_to_string(&jp).unwrap().lines().map(str::to_string).collect();
        // the middle line garbled, a line of a newer schema, a line with bad times
        let mut newer: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        newer["schema_version"] = serde_json::json!(DECISIONS_SCHEMA_VERSION + 1);
        newer["start_s"] = serde_json::json!(50.0);
        let mut bad_times: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        bad_times["end_s"] = serde_json::json!(-1.0);
        let edited = format!("{}\n{{\"recording\":\"a\",garbled\n{}\n{newer}\n{bad_times}\n", lines[0], lines[2]);
        std::fs::write(&jp, &edited).unwrap();
        let l = load(dir.path()).unwrap();
        assert_eq!(l.problems.len(), 3, "{:?}", l.problems);
        assert!(l.problems[0].contains("line 2") && l.problems[1].contains("newer proctor") && l.problems[2].contains("bad times"), "{:?}", l.problems);
        // the garbled line's verdict is still in the table, so nothing is lost
        assert_eq!(keys(&l.decisions), keys(&ds));
        save(dir.path(), &d("c", EventKind::Voices, 3.0, Verdict::Confirmed, "z")).unwrap();
        assert_eq!(read_table(&dir.path().join(TABLE)).unwrap().len(), 4);
        // the lines stay in the journal as they were
        assert!(std::fs::read_to_string(&jp).unwrap().starts_with(&edited));
    }

    #[test]
    fn the_later_verdict_wins_whichever_file_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = d("a", EventKind::Phone, 1.0, Verdict::Confirmed, "x");
        first.decided_at = "2026-12-05T10:00:00Z".into();
        let mut second = first.clone();
        second.verdict = Verdict::Dismissed;
        second.decided_at = "2026-12-05T11:00:00Z".into();
        save(dir.path(), &first).unwrap();
        save(dir.path(), &second).unwrap();
        // the journal's last line lost: the table's later verdict still wins over the journal's earlier one
        let jp = dir.path().join(JOURNAL);
        let text = std::fs::read_to_string(&jp).unwrap();
        std::fs::write(&jp, format!("{}\n", text.lines().next().unwrap())).unwrap();
        assert_eq!(read_latest(dir.path()).unwrap()[0].verdict, Verdict::Dismissed);
    }

    #[test]
    fn a_killed_save_leaves_no_temporary_once_the_desk_opens_again() {
        let dir = tempfile::tempdir().unwrap();
        three(dir.path());
        let stale = dir.path().join(".decisions.parquet.tmp-999999");
        std::fs::write(&stale, b"half").unwrap();
        open(dir.path()).unwrap();
        assert!(!stale.exists());
    }

    #[test]
    fn every_failing_step_of_a_save_keeps_every_verdict_given_before() {
        use crate::output::faults::{arm, Effect};
        let base = tempfile::tempdir().unwrap();
        let ds = three(base.path());
        let more = d("c", EventKind::Voices, 3.0, Verdict::Confirmed, "z");
        let mut n = 1;
        loop {
            let dir = tempfile::tempdir().unwrap();
            for f in [TABLE, JOURNAL] {
                std::fs::copy(base.path().join(f), dir.path().join(f)).unwrap();
            }
            let guard = arm(dir.path(), None, n, Effect::Fail(libc::ENOSPC));
            let r = save(dir.path(), &more);
            let fired = guard.fired();
            drop(guard);
            if !fired {
                r.unwrap();
                break;
            }
            assert!(r.is_err(), "step {n}");
            let after = read_latest(dir.path()).unwrap();
            // everything given before is there; the failed one may or may not be
            for x in &ds {
                assert!(after.iter().any(|a| a.key() == x.key()), "step {n}: lost {x:?}");
            }
            // and the next save completes the set
            save(dir.path(), &more).unwrap();
            assert_eq!(read_table(&dir.path().join(TABLE)).unwrap().len(), 4, "step {n}");
            n += 1;
        }
        assert!(n > 3, "only {n} steps were failed");
    }

    /// Random damage to the journal and the table (bytes flipped, cut,
    /// lines doubled or dropped, files emptied or removed): loading never
    /// panics; a save either refuses, naming a table it cannot read and
    /// leaving it as it was, or keeps every verdict loaded before it.
    #[test]
    fn damaged_verdict_files_never_lose_what_can_be_read() {
        let base = tempfile::tempdir().unwrap();
        three(base.path());
        let journal = std::fs::read(base.path().join(JOURNAL)).unwrap();
        let table = std::fs::read(base.path().join(TABLE)).unwrap();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n.max(1) as u64) as usize
        };
        for case in 0..200 {
            let dir = tempfile::tempdir().unwrap();
            let mut j = journal.clone();
            let mut t = table.clone();
            for _ in 0..=next(3) {
                let target = if next(2) == 0 { &mut j } else { &mut t };
                match next(6) {
                    0 if !target.is_empty() => {
                        let i = next(target.len());
                        target[i] ^= 1 << next(8);
                    }
                    1 => {
                        let n = next(target.len() + 1);
                        target.truncate(n);
                    }
                    2 => {
                        let copy = target.clone();
                        target.extend_from_slice(&copy);
                    }
                    3 => target.clear(),
                    _ => {}
                }
            }
            let (keep_j, keep_t) = (next(5) != 0, next(5) != 0);
            if keep_j {
                std::fs::write(dir.path().join(JOURNAL), &j).unwrap();
            }
            if keep_t {
                std::fs::write(dir.path().join(TABLE), &t).unwrap();
            }
            let before = load(dir.path());
            let more = d("z", EventKind::Voices, 7.0, Verdict::Dismissed, "q");
            match (before, save(dir.path(), &more)) {
                (Ok(l), Ok(_)) => {
                    let after = read_latest(dir.path()).unwrap();
                    for x in l.decisions.iter().chain([&more]) {
                        assert!(after.iter().any(|a| a.key() == x.key()), "case {case}: lost {x:?}");
                    }
                    // the table alone holds them all too
                    let t = read_table(&dir.path().join(TABLE)).unwrap();
                    assert_eq!(t.len(), after.len(), "case {case}");
                }
                (Err(e), Err(_)) => {
                    assert!(e.to_string().contains(TABLE), "case {case}: {e}");
                    assert_eq!(std::fs::read(dir.path().join(TABLE)).unwrap(), t, "case {case}: written over");
                }
                (b, s) => panic!("case {case}: load {:?} but save {:?}", b.map(|l| l.decisions.len()), s.map(|x| x.len())),
            }
        }
    }

    #[test]
    fn a_table_of_schema_1_still_reads_and_takes_new_verdicts() {
        let dir = tempfile::tempdir().unwrap();
        let ds = three(dir.path());
        std::fs::remove_file(dir.path().join(JOURNAL)).unwrap();
        // the table as proctor wrote it before verdicts named their analysis
        let mut df = frame(&ds).drop("input_sha256").unwrap().drop("config").unwrap();
        df.with_column(Column::new("schema_version".into(), vec![1u32; 3])).unwrap();
        let p = dir.path().join(TABLE);
        ParquetWriter::new(std::fs::File::create(&p).unwrap()).finish(&mut df).unwrap();
        assert_eq!(read_table(&p).unwrap(), ds);
        save(dir.path(), &d("c", EventKind::Voices, 3.0, Verdict::Confirmed, "z")).unwrap();
        assert_eq!(read_table(&p).unwrap().len(), 4);
    }
}
