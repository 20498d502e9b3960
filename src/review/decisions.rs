//! Reviewers' verdicts on events, kept in the desk directory:
//!
//! * `decisions.jsonl`: the journal, one JSON line per verdict given, in the
//!   order given, only ever appended to (each line synced before the verdict
//!   counts as saved);
//! * `decisions.parquet`: one row per reviewed event, its latest verdict
//!   (columns `schema_version, recording, kind, start_s, end_s, verdict,
//!   note, reviewer, decided_at`), rewritten from the journal after each
//!   verdict through a temporary and a rename, so it is always whole.
//!
//! Saves are serialised by an exclusive lock on `.decisions.lock` (between
//! threads and between processes). A crash between the journal's line and
//! the table's rename leaves the table one verdict behind, never
//! unreadable; [`read_latest`] reads the journal when there is one, and the
//! next save brings the table up to date.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::kinds::EventKind;

/// Version of the decisions table and journal.
pub const DECISIONS_SCHEMA_VERSION: u32 = 1;
pub const TABLE: &str = "decisions.parquet";
pub const JOURNAL: &str = "decisions.jsonl";
const LOCK: &str = ".decisions.lock";
/// Longest note kept (characters).
pub const MAX_NOTE: usize = 4000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Confirmed,
    Dismissed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Confirmed => "confirmed",
            Verdict::Dismissed => "dismissed",
        }
    }
}

impl std::str::FromStr for Verdict {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Verdict, String> {
        match s {
            "confirmed" => Ok(Verdict::Confirmed),
            "dismissed" => Ok(Verdict::Dismissed),
            _ => Err(format!("unknown verdict '{s}' (confirmed or dismissed)")),
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
}

fn schema_version() -> u32 {
    DECISIONS_SCHEMA_VERSION
}

/// Which event a verdict is on: recording, kind, and its times to the
/// millisecond (the times come back through JSON and Parquet).
pub type EventKey = (String, EventKind, i64, i64);

impl Decision {
    pub fn key(&self) -> EventKey {
        (self.recording.clone(), self.kind, (self.start_s * 1000.0).round() as i64, (self.end_s * 1000.0).round() as i64)
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
        Ok(())
    }
}

/// The latest verdict per event, in the order the events were first reviewed.
pub fn latest(all: impl IntoIterator<Item = Decision>) -> Vec<Decision> {
    let mut order: Vec<EventKey> = Vec::new();
    let mut by: BTreeMap<EventKey, Decision> = BTreeMap::new();
    for d in all {
        let k = d.key();
        if !by.contains_key(&k) {
            order.push(k.clone());
        }
        by.insert(k, d);
    }
    order.into_iter().filter_map(|k| by.remove(&k)).collect()
}

fn io_err(p: &Path, e: std::io::Error) -> Error {
    Error::new(p, ErrorKind::Output(e.to_string()))
}

/// Every verdict in the journal, in order; lines that are not whole verdicts
/// (a line cut by a crash) are skipped.
pub fn read_journal(dir: &Path) -> Result<Vec<Decision>> {
    let p = dir.join(JOURNAL);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::new(&p, ErrorKind::Unreadable(e))),
    };
    Ok(text.lines().filter_map(|l| serde_json::from_str::<Decision>(l).ok()).collect())
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
    ])
    .expect("equal lengths")
}

/// Read `decisions.parquet` (`path`).
pub fn read_table(path: &Path) -> Result<Vec<Decision>> {
    let df = crate::tables::read_parquet(path)?;
    let bad = |why: String| Error::new(path, ErrorKind::Config(format!("not a proctor decisions file: {why}")));
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
            })
        })
        .collect()
}

/// The latest verdict per event in the desk directory `dir`: from the
/// journal when there is one (it is never behind the table), else from
/// `decisions.parquet`; none when neither exists.
pub fn read_latest(dir: &Path) -> Result<Vec<Decision>> {
    if dir.join(JOURNAL).exists() {
        return Ok(latest(read_journal(dir)?));
    }
    let table = dir.join(TABLE);
    if table.exists() {
        return read_table(&table);
    }
    Ok(Vec::new())
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
    let lock_path = dir.join(LOCK);
    let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(|e| io_err(&lock_path, e))?;
    lock.lock().map_err(|e| io_err(&lock_path, e))?;
    let jp = dir.join(JOURNAL);
    let mut j = std::fs::OpenOptions::new().create(true).read(true).append(true).open(&jp).map_err(|e| io_err(&jp, e))?;
    // a line cut short by a crash stays on a line of its own
    let len = j.metadata().map_err(|e| io_err(&jp, e))?.len();
    let mut line = String::new();
    if len > 0 {
        let mut last = [0u8; 1];
        j.seek(SeekFrom::Start(len - 1)).and_then(|_| j.read_exact(&mut last)).map_err(|e| io_err(&jp, e))?;
        if last[0] != b'\n' {
            line.push('\n');
        }
    }
    line.push_str(&serde_json::to_string(d).expect("a decision serialises"));
    line.push('\n');
    j.write_all(line.as_bytes()).and_then(|_| j.sync_data()).map_err(|e| io_err(&jp, e))?;
    drop(j);
    let all = latest(read_journal(dir)?);
    write_table(dir, &all)?;
    let _ = lock.unlock();
    Ok(all)
}

/// Reviewed, confirmed and dismissed events of one kind (or all), and the
/// precision they measure.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Tally {
    pub reviewed: usize,
    pub confirmed: usize,
    pub dismissed: usize,
    /// confirmed / reviewed (null when none was reviewed).
    pub precision: Option<f64>,
    /// Wilson 95% interval of the precision.
    pub precision_low: Option<f64>,
    pub precision_high: Option<f64>,
}

impl Tally {
    fn add(&mut self, v: Verdict) {
        self.reviewed += 1;
        match v {
            Verdict::Confirmed => self.confirmed += 1,
            Verdict::Dismissed => self.dismissed += 1,
        }
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
    pub kinds: BTreeMap<EventKind, Tally>,
    pub all: Tally,
}

pub fn evaluate(ds: &[Decision]) -> DecisionsEval {
    let mut out = DecisionsEval::default();
    let mut recs = std::collections::BTreeSet::new();
    for d in ds {
        recs.insert(d.recording.as_str());
        out.kinds.entry(d.kind).or_default().add(d.verdict);
        out.all.add(d.verdict);
    }
    out.recordings = recs.len();
    out
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
        s.push_str("| kind | reviewed | confirmed | dismissed | precision | 95% interval (Wilson) |\n|---|---:|---:|---:|---:|---|\n");
        for (k, t) in &self.kinds {
            s.push_str(&row(k.as_str(), t));
        }
        s.push_str(&row("**all**", &self.all));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        }
    }

    #[test]
    fn a_later_verdict_replaces_the_earlier_and_the_journal_keeps_both() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &d("a", EventKind::Phone, 1.0, Verdict::Confirmed, "x")).unwrap();
        save(dir.path(), &d("a", EventKind::NoFace, 1.0, Verdict::Confirmed, "x")).unwrap();
        // the same event, its times as they come back from JSON in a browser
        let mut again = d("a", EventKind::Phone, 1.0000000001, Verdict::Dismissed, "y");
        again.end_s = 3.5;
        save(dir.path(), &again).unwrap();
        let table = read_table(&dir.path().join(TABLE)).unwrap();
        assert_eq!(table.len(), 2);
        assert_eq!(table[0].kind, EventKind::Phone);
        assert_eq!(table[0].verdict, Verdict::Dismissed);
        assert_eq!(table[0].reviewer, "y");
        assert_eq!(table[0].note, "<script>alert('y')</script>");
        assert_eq!(read_journal(dir.path()).unwrap().len(), 3);
        assert_eq!(read_latest(dir.path()).unwrap(), table);
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
        assert_eq!(read_journal(dir.path()).unwrap().len(), 60);
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
}
