//! An archive's own files: summary.parquet and the index from the rows, and the merge of shards' outputs into one.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{Error, ErrorKind, Result};
use crate::events::EventKind;
use crate::output::write_atomic;
use crate::records::{read_manifest, Row};
use crate::tables::{read_parquet, write_parquet};

use super::*;

/// summary.parquet: one row per recording.
pub fn summary_frame(rows: &[Row]) -> DataFrame {
    let s = |f: &dyn Fn(&Row) -> Option<String>| rows.iter().map(f).collect::<Vec<Option<String>>>();
    let mut cols = vec![
        Column::new("schema_version".into(), vec![crate::tables::SCHEMA_VERSION; rows.len()]),
        Column::new("recording".into(), rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>()),
        Column::new("path".into(), rows.iter().map(|r| r.path.as_str()).collect::<Vec<_>>()),
        Column::new("status".into(), rows.iter().map(|r| r.status.as_str()).collect::<Vec<_>>()),
        Column::new("error".into(), s(&|r| r.error.clone())),
        Column::new("sha256".into(), s(&|r| r.sha256.clone())),
        Column::new("candidate".into(), s(&|r| r.candidate.clone())),
        Column::new("duration_s".into(), rows.iter().map(|r| r.duration_s).collect::<Vec<_>>()),
        Column::new("score".into(), rows.iter().map(|r| r.score).collect::<Vec<_>>()),
        Column::new("band".into(), s(&|r| r.band.clone())),
        Column::new("events".into(), rows.iter().map(|r| r.events).collect::<Vec<_>>()),
        Column::new("elapsed_s".into(), rows.iter().map(|r| r.elapsed_s).collect::<Vec<_>>()),
        Column::new("config".into(), rows.iter().map(|r| r.config.as_str()).collect::<Vec<_>>()),
    ];
    for k in EventKind::ALL {
        let get = |r: &Row| r.counts.get(&k).cloned().flatten();
        cols.push(Column::new(format!("{k}_count").into(), rows.iter().map(|r| get(r).map(|c| c.count as u64)).collect::<Vec<_>>()));
        cols.push(Column::new(format!("{k}_s").into(), rows.iter().map(|r| get(r).map(|c| c.total_s)).collect::<Vec<_>>()));
    }
    DataFrame::new_infer_height(cols).expect("equal lengths")
}

/// The lock of an archive directory's own files (the manifest, summary.parquet,
/// index.html), which every shard of a batch writes at its end: taken in
/// turn, and under it the temporaries a killed writer left are removed.
pub(super) fn archive_lock(outdir: &Path) -> Result<crate::output::IdLock> {
    let lock = crate::output::IdLock::wait(outdir, "archive")?;
    crate::output::remove_temporaries(outdir, |name| [crate::records::MANIFEST, "summary.parquet", "index.html"].contains(&name));
    Ok(lock)
}

/// Write summary.parquet (and the index) for `rows`, sorted by recording id.
pub fn write_archive(outdir: &Path, rows: &[Row]) -> Result<()> {
    let _lock = archive_lock(outdir)?;
    write_archive_locked(outdir, rows)
}

fn write_archive_locked(outdir: &Path, rows: &[Row]) -> Result<()> {
    let mut rows = rows.to_vec();
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    write_parquet(&outdir.join("summary.parquet"), &mut summary_frame(&rows))?;
    crate::review::index::write_index(outdir)
}

/// Merge shard outputs: the union of their manifests (last line per id wins)
/// becomes the archive summary of `outdir`; event partitions are copied.
///
/// Shards made with different configurations, models or proctor versions are
/// refused unless `force`: their scores would not be comparable.
pub fn merge(shards: &[PathBuf], outdir: &Path, force: bool) -> Result<Vec<Row>> {
    let mut all: BTreeMap<String, Row> = BTreeMap::new();
    let mut first: Option<(RunKey, PathBuf)> = None;
    for s in shards {
        let m = s.join("manifest.jsonl");
        if !m.exists() {
            return Err(Error::new(&m, ErrorKind::NotFound));
        }
        let rows = read_manifest(&m);
        for r in rows.values() {
            let k = RunKey::of_row(r);
            match &first {
                None => first = Some((k, s.clone())),
                Some((k0, s0)) if *k0 != k && !force => {
                    return Err(Error::new(
                        &m,
                        ErrorKind::Config(format!(
                            "recording '{}' was analysed with another configuration, models or proctor version than {} \
                             (config {} vs {}, models {} vs {}, version {} vs {}); re-run it, or merge with --force",
                            r.id, s0.display(), k.config, k0.config, k.models, k0.models, k.tool_version, k0.tool_version
                        )),
                    ))
                }
                _ => {}
            }
        }
        all.extend(rows);
        let ev = s.join("events");
        if ev.is_dir() && s.canonicalize().ok() != outdir.canonicalize().ok() {
            for entry in walkdir::WalkDir::new(&ev).into_iter().flatten().filter(|e| e.file_type().is_file()) {
                let rel = entry.path().strip_prefix(s).expect("under the shard");
                let dst = outdir.join(rel);
                if let Some(d) = dst.parent() {
                    std::fs::create_dir_all(d).map_err(|e| Error::new(d, ErrorKind::Output(e.to_string())))?;
                }
                let bytes = std::fs::read(entry.path()).map_err(|e| Error::new(entry.path(), ErrorKind::Unreadable(e)))?;
                crate::output::write_bytes(&dst, &bytes)?;
            }
        }
    }
    std::fs::create_dir_all(outdir).map_err(|e| Error::new(outdir, ErrorKind::Output(e.to_string())))?;
    let rows: Vec<Row> = all.into_values().collect();
    let _lock = archive_lock(outdir)?;
    write_atomic(&outdir.join("manifest.jsonl"), |w| {
        for r in &rows {
            writeln!(w, "{}", serde_json::to_string(r).expect("row serialises")).map_err(|e| e.to_string())?;
        }
        Ok(())
    })?;
    write_archive_locked(outdir, &rows)?;
    Ok(rows)
}

/// Read summary.parquet back (for tests and scripts).
pub fn read_summary(outdir: &Path) -> Result<DataFrame> {
    read_parquet(&outdir.join("summary.parquet"))
}
