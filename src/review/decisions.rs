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
mod tests;
