//! Running a batch: jobs in parallel, each recording's row in the manifest as it ends, `--resume` skipping what is done and whole.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use polars::prelude::*;

use crate::analyze::{sha256_file, Settings};
use crate::error::{Error, ErrorKind, Result};
use crate::progress::Progress;
use crate::records::{read_manifest, Row, Status};
use crate::tables::{events_frame, write_parquet};
use crate::save::counts;

use super::*;
use super::archive::archive_lock;

/// `--resume`: the recordings of the manifest that this run does not take
/// and whose input file is gone leave the manifest (so the index and the
/// merge no longer list them as analysed) and `events/` (their partitions);
/// each is named on stderr. Their outputs in `recordings/` stay. A recording
/// this run does not take but whose file is still there (another shard,
/// another selection of inputs) is kept as it was.
fn forget_gone_inputs(outdir: &Path, previous: &mut BTreeMap<String, Row>, items: &[Item]) -> Result<()> {
    let taken: std::collections::BTreeSet<&str> = items.iter().map(|i| i.id.as_str()).collect();
    let gone: Vec<Row> = previous.values().filter(|r| !taken.contains(r.id.as_str()) && !Path::new(&r.path).exists()).cloned().collect();
    if gone.is_empty() {
        return Ok(());
    }
    let manifest_path = outdir.join("manifest.jsonl");
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| Error::new(&manifest_path, ErrorKind::Unreadable(e)))?;
    let ids: std::collections::BTreeSet<&str> = gone.iter().map(|r| r.id.as_str()).collect();
    let kept: String = text
        .lines()
        .filter(|l| serde_json::from_str::<Row>(l).map_or(true, |r| !ids.contains(r.id.as_str())))
        .flat_map(|l| [l, "\n"])
        .collect();
    {
        let _lock = archive_lock(outdir)?;
        crate::output::write_bytes(&manifest_path, kept.as_bytes())?;
    }
    for r in &gone {
        let part = partition_path(outdir, &r.id);
        if let Some(dir) = part.parent().filter(|d| d.exists()) {
            std::fs::remove_dir_all(dir).map_err(|e| Error::new(dir, ErrorKind::Output(e.to_string())))?;
        }
        crate::warn!("proctor: {}: the input is gone: '{}' leaves the index and events/ (its outputs in recordings/ stay)", r.path, r.id);
        previous.remove(&r.id);
    }
    Ok(())
}

/// Options of one batch run.
pub struct BatchOptions {
    pub outdir: PathBuf,
    pub jobs: usize,
    pub resume: bool,
    pub candidates: CandidateSource,
    /// Reference photos (`--reference-from`).
    pub references: ReferenceSource,
    pub write: crate::save::WriteOptions,
}

/// Observes a batch: per-file progress and archive-level counts.
pub trait BatchProgress: Sync {
    fn file_progress(&self, id: &str) -> Box<dyn Progress + '_>;
    fn file_done(&self, row: &Row, skipped: bool);
}

/// Run a batch over `items`. Returns one row per item, in item order
/// (skipped ones from the manifest). Stops taking new files when `stop` is set.
pub fn run_batch(
    items: &[Item],
    settings: &Settings,
    opts: &BatchOptions,
    progress: &dyn BatchProgress,
    stop: &AtomicBool,
) -> Result<Vec<Row>> {
    // checked before anything is decoded: a directory that cannot be written
    // would otherwise fail every recording after its whole analysis
    crate::output::check_writable(&opts.outdir)?;
    let rec_dir = opts.outdir.join("recordings");
    std::fs::create_dir_all(&rec_dir).map_err(|e| Error::new(&rec_dir, ErrorKind::Output(e.to_string())))?;
    crate::output::check_writable(&rec_dir)?;
    let manifest_path = opts.outdir.join("manifest.jsonl");
    let mut previous = if opts.resume { read_manifest(&manifest_path) } else { BTreeMap::new() };
    if !opts.resume {
        let _ = std::fs::remove_file(&manifest_path);
    } else {
        forget_gone_inputs(&opts.outdir, &mut previous, items)?;
    }
    let manifest = Mutex::new(
        crate::output::LineLog::open(&manifest_path).map_err(|e| Error::new(&manifest_path, ErrorKind::Output(e.to_string())))?,
    );
    // a manifest line that could not be written: that recording's outputs
    // are whole, but --resume will not know it (it analyses it again)
    let manifest_error: Mutex<Option<Error>> = Mutex::new(None);
    let key = RunKey::of(settings);
    let rows: Vec<Mutex<Option<Row>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let jobs = opts.jobs.clamp(1, items.len().max(1));

    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let (row, skipped) = process(item, settings, opts, &rec_dir, &previous, &key, progress);
                if !skipped {
                    let mut f = manifest.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    if let Err(e) = f.append(&serde_json::to_string(&row).expect("row serialises")) {
                        let e = Error::new(
                            &manifest_path,
                            ErrorKind::Output(format!("{e}: '{}' is not recorded in it, --resume will analyse it again", row.id)),
                        );
                        crate::warn!("proctor: error: {e}");
                        manifest_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert(e);
                    }
                }
                progress.file_done(&row, skipped);
                *rows[i].lock().expect("row lock") = Some(row);
            });
        }
    });
    let rows: Vec<Row> = rows.into_iter().filter_map(|r| r.into_inner().expect("row lock")).collect();
    write_archive(&opts.outdir, &rows)?;
    if let Some(e) = manifest_error.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        return Err(e);
    }
    Ok(rows)
}

fn process(
    item: &Item,
    settings: &Settings,
    opts: &BatchOptions,
    rec_dir: &Path,
    previous: &BTreeMap<String, Row>,
    key: &RunKey,
    progress: &dyn BatchProgress,
) -> (Row, bool) {
    let started = std::time::Instant::now();
    let candidate = opts.candidates.candidate(item);
    let photo = opts.references.photo(item);
    // the photo's hash is part of the resume key: a changed photo is analysed again
    let photo_sha = photo.as_deref().map(|p| regular_sha256(p).unwrap_or_default());
    let base = Row {
        id: item.id.clone(),
        path: item.path.display().to_string(),
        rel: item.rel.clone(),
        status: Status::Error,
        error: None,
        sha256: None,
        config: key.config.clone(),
        models: key.models.clone(),
        tool_version: key.tool_version.clone(),
        duration_s: None,
        score: None,
        band: None,
        events: None,
        counts: BTreeMap::new(),
        elapsed_s: 0.0,
        candidate: candidate.clone(),
        reference: photo_sha.clone(),
    };
    if let Some(problem) = &item.problem {
        return (Row { error: Some(problem.clone()), ..base }, false);
    }
    // resume: every input that makes the outputs unchanged (the recording's
    // bytes, candidate, reference photo, configuration with its policy,
    // models, proctor), and every output there and readable
    if let Some(prev) = previous.get(&item.id) {
        if prev.is_ok()
            && key.matches(prev)
            && prev.reference == photo_sha
            && prev.candidate == candidate
            && regular_sha256(&item.path).is_some_and(|sha| prev.sha256.as_deref() == Some(sha.as_str()))
            && outputs_intact(&opts.outdir, rec_dir, prev, &opts.write)
        {
            return (prev.clone(), true);
        }
    }
    let file_progress = progress.file_progress(&item.id);
    let result = crate::output::isolate(&item.path, || {
        let reference = match &photo {
            Some(p) => Some(crate::identity::load_reference(p, &settings.models, &settings.config)?),
            None => None,
        };
        let job = crate::job::Job {
            path: &item.path,
            id: &item.id,
            outdir: rec_dir,
            candidate: candidate.clone(),
            reference: reference.as_ref(),
            warning: (photo.is_none() && !matches!(opts.references, ReferenceSource::None))
                .then(|| format!("{}: the candidate was enrolled from the recording instead", opts.references.describe())),
            write: opts.write,
        };
        // the event partition too is written under the recording's lock
        crate::job::run(&job, settings, file_progress.as_ref(), |a| write_partition(&opts.outdir, &item.id, &a.events)).map(|(a, _)| a)
    });
    file_progress.finish();
    let row = match result {
        Ok(a) => Row {
            status: Status::Ok,
            sha256: Some(a.sha256.clone()),
            duration_s: Some(a.info.duration_s),
            score: Some(a.score.value),
            band: Some(a.score.band.as_str().into()),
            events: Some(a.events.len() as u64),
            counts: counts(&a.events, &a.checked),
            elapsed_s: started.elapsed().as_secs_f64(),
            ..base
        },
        // the row names the input already: the message says the path only when it is another file
        Err(e) => Row {
            error: Some(if e.path == item.path { e.kind.to_string() } else { e.to_string() }),
            elapsed_s: started.elapsed().as_secs_f64(),
            ..base
        },
    };
    (row, false)
}

/// sha256 of a regular file (never opens a FIFO or a device, which could
/// block or never end); `None` for anything else or an unreadable file.
fn regular_sha256(path: &Path) -> Option<String> {
    std::fs::metadata(path).ok().filter(|m| m.is_file())?;
    sha256_file(path).ok()
}

/// Whether every output of a finished recording is there and readable: the
/// Parquet tables (and the evidence pictures) open as Parquet (their footers read), the summary is JSON
/// of the same recording and input hash, the report is a whole PDF, and the
/// events partition opens.
pub fn outputs_intact(outdir: &Path, rec_dir: &Path, row: &Row, write: &crate::save::WriteOptions) -> bool {
    let o = crate::save::Outputs::for_recording(rec_dir, &row.id);
    let mut tables = vec![o.frames, o.detections, o.events, partition_path(outdir, &row.id)];
    tables.extend(o.evidence);
    if write.save_embeddings {
        tables.push(rec_dir.join(format!("{}.embeddings.parquet", row.id)));
    }
    let parquet_ok = |p: &Path| {
        std::fs::File::open(p).ok().is_some_and(|f| ParquetReader::new(f).num_rows().is_ok())
    };
    let summary_ok = || {
        let Ok(bytes) = std::fs::read(&o.summary) else { return false };
        let Ok(s) = serde_json::from_slice::<crate::records::Summary>(&bytes) else { return false };
        s.recording == row.id && Some(s.sha256.as_str()) == row.sha256.as_deref()
    };
    let pdf_ok = || {
        std::fs::read(&o.report).is_ok_and(|b| b.starts_with(b"%PDF-") && b.trim_ascii_end().ends_with(b"%%EOF"))
    };
    tables.iter().all(|p| parquet_ok(p)) && summary_ok() && pdf_ok()
}

/// What a finished row must share with this run to be skipped by `--resume`
/// (and with the other shards to be merged).
#[derive(Debug, Clone, PartialEq)]
pub struct RunKey {
    pub config: String,
    pub models: String,
    pub tool_version: String,
}

impl RunKey {
    pub fn of(settings: &Settings) -> RunKey {
        let shas: Vec<&str> = settings.models.provenance.iter().map(|p| p.sha256.as_str()).collect();
        RunKey {
            config: settings.config.fingerprint(),
            models: crate::ids::stable_hash(&shas.join(","))[..16].to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    pub(super) fn of_row(r: &Row) -> RunKey {
        RunKey { config: r.config.clone(), models: r.models.clone(), tool_version: r.tool_version.clone() }
    }

    pub fn matches(&self, r: &Row) -> bool {
        *self == RunKey::of_row(r)
    }
}

/// Remove this process's temporaries from an archive directory (the outputs
/// of the recordings under way, the archive tables, the event partitions).
pub fn clean_own_temporaries(outdir: &Path) {
    crate::save::clean_own(outdir);
    crate::save::clean_own(&outdir.join("recordings"));
    if let Ok(parts) = std::fs::read_dir(outdir.join("events")) {
        for p in parts.flatten() {
            crate::save::clean_own(&p.path());
        }
    }
}

/// `events/recording=<id>/part-0.parquet`
pub fn partition_path(outdir: &Path, id: &str) -> PathBuf {
    outdir.join("events").join(format!("recording={id}")).join("part-0.parquet")
}

pub fn write_partition(outdir: &Path, id: &str, events: &[crate::events::Event]) -> Result<()> {
    let p = partition_path(outdir, id);
    let dir = p.parent().expect("has a parent");
    std::fs::create_dir_all(dir).map_err(|e| Error::new(dir, ErrorKind::Output(e.to_string())))?;
    crate::output::remove_temporaries(dir, |name| p.ends_with(name));
    // the partition key is in the path; the file keeps the id column too
    write_parquet(&p, &mut events_frame(id, events))
}
