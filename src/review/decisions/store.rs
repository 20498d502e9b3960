//! Where verdicts are kept: an append-only journal and a Parquet table, read merged (either alone restores everything), written under a lock, a table proctor cannot read never written over.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{Error, ErrorKind, Result};

use super::*;

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
    crate::output::remove_temporaries(dir, |name| name == TABLE);
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
