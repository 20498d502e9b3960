//! Many recordings at once: discovery, sharding, parallel jobs with per-file
//! errors, a resume manifest, and the archive-level outputs.
//!
//! OUTDIR layout:
//! * `recordings/<id>.*`: each recording's outputs, as `proctor analyze` writes them;
//! * `events/recording=<id>/part-0.parquet`: every recording's events as one
//!   Hive-partitioned dataset;
//! * `summary.parquet`: one row per recording (ok or error);
//! * `manifest.jsonl`: one line per finished recording, for `--resume`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analyze::{sha256_file, Settings};
use crate::error::{Error, ErrorKind, Result};
use crate::events::EventKind;
use crate::output::write_atomic;
use crate::progress::Progress;
use crate::tables::{events_frame, read_parquet, write_parquet};
use crate::save::{counts, KindCount};

/// File name endings taken as recordings when a directory is searched.
pub const VIDEO_EXTENSIONS: [&str; 7] = ["webm", "mp4", "mkv", "mov", "m4v", "avi", "ogv"];

/// One recording to process: where it is and its id in the archive.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Item {
    /// Path relative to the input it was found under (the shard key).
    pub rel: String,
    pub path: PathBuf,
    pub id: String,
    /// Why this entry cannot be a recording, found while the archive was
    /// searched (a symbolic link to one of its own parent folders, a folder
    /// that cannot be read): it becomes an error row, not analysed.
    pub problem: Option<String>,
}

pub use crate::ids::id_of;
use crate::ids::stable_hash;

fn is_video(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Expand inputs: a directory (searched recursively for video files), a
/// glob pattern, `@list.txt` (one path per line, `#` comments), or a file.
///
/// One bad entry never stops the search: a FIFO, a device or a symbolic link
/// to nothing (or to itself) with a video file's name is kept, to fail on
/// its own with a message that says what it is; a link to one of its own
/// parent folders (a loop) and a folder that cannot be read are kept as
/// entries with a [`Item::problem`]. Only a list file that cannot be read or
/// a bad pattern end the search (`Err`).
pub fn discover(inputs: &[String]) -> std::result::Result<Vec<Item>, String> {
    let mut items: BTreeMap<String, Item> = BTreeMap::new();
    let mut add = |rel: String, path: PathBuf, problem: Option<String>| {
        let rel = rel.replace('\\', "/");
        items.entry(rel.clone()).or_insert_with(|| Item { id: id_of(&rel), rel, path, problem });
    };
    for input in inputs {
        if let Some(list) = input.strip_prefix('@') {
            let text = std::fs::read_to_string(list).map_err(|e| format!("{list}: cannot be read ({e})"))?;
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
                add(line.trim_start_matches("./").to_string(), PathBuf::from(line), None);
            }
        } else if Path::new(input).is_dir() {
            let root = Path::new(input);
            let rel_of = |p: &Path| p.strip_prefix(root).unwrap_or(p).to_string_lossy().into_owned();
            for entry in walkdir::WalkDir::new(root).follow_links(true).sort_by_file_name() {
                match entry {
                    Ok(entry) => {
                        let t = entry.file_type();
                        // regular files, and FIFOs, devices, sockets named like recordings
                        if !t.is_dir() && is_video(entry.path()) {
                            add(rel_of(entry.path()), entry.path().to_path_buf(), None);
                        }
                    }
                    Err(e) => {
                        let Some(path) = e.path().map(Path::to_path_buf) else { continue };
                        if let Some(ancestor) = e.loop_ancestor() {
                            let problem = format!(
                                "is a symbolic link to {}, a folder that contains it (a loop): not followed",
                                ancestor.display()
                            );
                            add(rel_of(&path), path, Some(problem));
                        } else if is_video(&path) {
                            // a link to nothing or to itself: the analysis says which
                            add(rel_of(&path), path, None);
                        } else if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                            // a folder (or file) that cannot be read: recordings may be in it
                            let why = e.io_error().map_or_else(|| e.to_string(), ToString::to_string);
                            add(rel_of(&path), path, Some(format!("cannot be read ({why}): the recordings in it were not searched")));
                        }
                        // a broken link not named like a recording is not one
                    }
                }
            }
        } else if input.contains(['*', '?', '[']) {
            let paths = glob::glob(input).map_err(|e| format!("{input}: bad pattern ({e})"))?;
            for p in paths {
                match p {
                    // everything but folders: a broken link or a FIFO fails on its own
                    Ok(p) if !p.is_dir() => add(p.to_string_lossy().trim_start_matches("./").to_string(), p, None),
                    Ok(_) => {}
                    Err(e) => {
                        let path = e.path().to_path_buf();
                        let problem = format!("cannot be read ({}): the recordings in it were not searched", e.error());
                        add(path.to_string_lossy().trim_start_matches("./").to_string(), path, Some(problem));
                    }
                }
            }
        } else {
            // a plain path: kept even if missing, so that it becomes an error row
            add(input.trim_start_matches("./").to_string(), PathBuf::from(input), None);
        }
    }
    // ids must be unique: two inputs may flatten to one id
    let mut out: Vec<Item> = items.into_values().collect();
    let rels: Vec<String> = out.iter().map(|it| it.rel.clone()).collect();
    for (it, id) in out.iter_mut().zip(crate::ids::unique_ids(&rels)) {
        it.id = id;
    }
    Ok(out)
}

/// A shard `K/N`: recording i belongs to shard `hash(rel) mod N == K - 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: u64,
    pub n: u64,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Shard, String> {
        let (k, n) = s.split_once('/').ok_or("a shard is K/N, e.g. 2/8")?;
        let k: u64 = k.trim().parse().map_err(|_| format!("bad shard number '{k}'"))?;
        let n: u64 = n.trim().parse().map_err(|_| format!("bad shard count '{n}'"))?;
        if n == 0 || k == 0 || k > n {
            return Err(format!("shard {k}/{n}: K must be in 1..=N"));
        }
        Ok(Shard { k, n })
    }
}

impl Shard {
    pub fn contains(&self, item: &Item) -> bool {
        let h = stable_hash(&item.rel);
        let v = u64::from_str_radix(&h[..16], 16).expect("hex");
        v % self.n == self.k - 1
    }
}

/// One line of the manifest, and one row of summary.parquet.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Row {
    pub id: String,
    pub path: String,
    pub rel: String,
    pub status: String,
    pub error: Option<String>,
    pub sha256: Option<String>,
    /// Fingerprint of the configuration (see `Config::fingerprint`).
    pub config: String,
    /// Fingerprint of the model files (their sha256s).
    #[serde(default)]
    pub models: String,
    /// proctor's version that made the row.
    #[serde(default)]
    pub tool_version: String,
    pub duration_s: Option<f64>,
    pub score: Option<f64>,
    pub band: Option<String>,
    pub events: Option<u64>,
    /// Per kind; null when the kind was not checked.
    pub counts: BTreeMap<EventKind, Option<KindCount>>,
    pub elapsed_s: f64,
    pub candidate: Option<String>,
    /// sha256 of the reference photo the recording was compared with (none:
    /// the candidate was enrolled from the recording). Part of the resume key.
    #[serde(default)]
    pub reference: Option<String>,
}

/// Where the candidate's name comes from in a batch.
#[derive(Debug, Clone)]
pub enum CandidateSource {
    None,
    /// The first capture group (or the whole match) of a regex over the relative path.
    Regex(regex::Regex),
    /// A CSV of `path,candidate` (relative path or file name in the first column).
    Csv(BTreeMap<String, String>),
}

impl CandidateSource {
    pub fn parse(spec: &str) -> std::result::Result<CandidateSource, String> {
        if spec.ends_with(".csv") && Path::new(spec).is_file() {
            Self::read_csv(Path::new(spec)).map(CandidateSource::Csv)
        } else {
            regex::Regex::new(spec).map(CandidateSource::Regex).map_err(|e| format!("--candidate-from: {e}"))
        }
    }

    /// A CSV of `path,candidate` (RFC 4180 quoting). A first row whose first
    /// column is `path`, `file`, `recording` or `id` is a header, not data.
    fn read_csv(path: &Path) -> std::result::Result<BTreeMap<String, String>, String> {
        let mut rd = csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_path(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut map = BTreeMap::new();
        for (i, rec) in rd.records().enumerate() {
            let rec = rec.map_err(|e| format!("{}: {e}", path.display()))?;
            let (Some(p), Some(name)) = (rec.get(0), rec.get(1)) else {
                if rec.iter().all(str::is_empty) {
                    continue;
                }
                return Err(format!("{}: line {}: expected two columns, path and candidate", path.display(), i + 1));
            };
            if i == 0 && ["path", "file", "recording", "id"].contains(&p.to_ascii_lowercase().as_str()) {
                continue;
            }
            map.insert(p.trim_start_matches("./").to_string(), name.to_string());
        }
        Ok(map)
    }

    pub fn candidate(&self, item: &Item) -> Option<String> {
        match self {
            CandidateSource::None => None,
            CandidateSource::Regex(re) => {
                let c = re.captures(&item.rel)?;
                Some(c.get(1).or_else(|| c.get(0))?.as_str().to_string())
            }
            CandidateSource::Csv(map) => {
                let name = item.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                map.get(&item.rel).or_else(|| map.get(&name)).cloned()
            }
        }
    }
}

/// Where each recording's reference photo comes from in a batch.
#[derive(Debug, Clone)]
pub enum ReferenceSource {
    None,
    /// A directory of photos named by recording id: `<id>.jpg`, `.jpeg` or `.png`.
    Dir(PathBuf),
    /// A CSV of `recording,photo`: the recording as its relative path, file
    /// name or id; the photo path, relative to the CSV's directory unless absolute.
    Csv(BTreeMap<String, PathBuf>),
}

/// File name endings of reference photos in a `--reference-from` directory.
pub const PHOTO_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

impl ReferenceSource {
    pub fn parse(spec: &Path) -> std::result::Result<ReferenceSource, String> {
        if spec.is_dir() {
            Ok(ReferenceSource::Dir(spec.to_path_buf()))
        } else if spec.is_file() {
            Self::read_csv(spec).map(ReferenceSource::Csv)
        } else {
            Err(format!("--reference-from: {}: no such directory or CSV file", spec.display()))
        }
    }

    /// A CSV of `recording,photo` (RFC 4180 quoting), read as `--candidate-from`
    /// reads its CSV. A first row whose first column is `path`, `file`,
    /// `recording` or `id` is a header.
    fn read_csv(path: &Path) -> std::result::Result<BTreeMap<String, PathBuf>, String> {
        let mut rd = csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_path(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new(""));
        let mut map = BTreeMap::new();
        for (i, rec) in rd.records().enumerate() {
            let rec = rec.map_err(|e| format!("{}: {e}", path.display()))?;
            let (Some(r), Some(photo)) = (rec.get(0), rec.get(1)) else {
                if rec.iter().all(str::is_empty) {
                    continue;
                }
                return Err(format!("{}: line {}: expected two columns, recording and photo", path.display(), i + 1));
            };
            if i == 0 && ["path", "file", "recording", "id"].contains(&r.to_ascii_lowercase().as_str()) {
                continue;
            }
            if photo.is_empty() {
                return Err(format!("{}: line {}: no photo for '{r}'", path.display(), i + 1));
            }
            map.insert(r.trim_start_matches("./").to_string(), base.join(photo));
        }
        Ok(map)
    }

    /// The reference photo of a recording, if the source names one.
    pub fn photo(&self, item: &Item) -> Option<PathBuf> {
        match self {
            ReferenceSource::None => None,
            ReferenceSource::Dir(dir) => {
                PHOTO_EXTENSIONS.iter().map(|e| dir.join(format!("{}.{e}", item.id))).find(|p| p.is_file())
            }
            ReferenceSource::Csv(map) => {
                let name = item.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                map.get(&item.rel).or_else(|| map.get(&name)).or_else(|| map.get(&item.id)).cloned()
            }
        }
    }

    /// What the warning of a recording without a photo names.
    fn describe(&self) -> String {
        match self {
            ReferenceSource::None => String::new(),
            ReferenceSource::Dir(d) => format!("no reference photo for it in {} (<id>.jpg, .jpeg or .png)", d.display()),
            ReferenceSource::Csv(_) => "no reference photo for it in the --reference-from CSV".into(),
        }
    }
}

/// Read a manifest: the last line per id wins.
pub fn read_manifest(path: &Path) -> BTreeMap<String, Row> {
    let mut m = BTreeMap::new();
    if let Ok(text) = std::fs::read_to_string(path) {
        for line in text.lines() {
            if let Ok(r) = serde_json::from_str::<Row>(line) {
                m.insert(r.id.clone(), r);
            }
        }
    }
    m
}

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
        status: "error".into(),
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
        if prev.status == "ok"
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
            status: "ok".into(),
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
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return false };
        v["recording"].as_str() == Some(row.id.as_str()) && v["sha256"].as_str() == row.sha256.as_deref()
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

    fn of_row(r: &Row) -> RunKey {
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

fn write_partition(outdir: &Path, id: &str, events: &[crate::events::Event]) -> Result<()> {
    let p = partition_path(outdir, id);
    let dir = p.parent().expect("has a parent");
    std::fs::create_dir_all(dir).map_err(|e| Error::new(dir, ErrorKind::Output(e.to_string())))?;
    crate::output::remove_temporaries_of(&p);
    // the partition key is in the path; the file keeps the id column too
    write_parquet(&p, &mut events_frame(id, events))
}

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
fn archive_lock(outdir: &Path) -> Result<crate::output::IdLock> {
    let lock = crate::output::IdLock::wait(outdir, "archive")?;
    for name in ["manifest.jsonl", "summary.parquet", "index.html"] {
        crate::output::remove_temporaries_of(&outdir.join(name));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_items() {
        let items: Vec<Item> = (0..200)
            .map(|i| Item { rel: format!("d/{i}.webm"), path: PathBuf::from(format!("d/{i}.webm")), id: i.to_string(), problem: None })
            .collect();
        let n = 3;
        let mut counts = vec![0; n];
        for it in &items {
            let owners: Vec<u64> = (1..=n as u64).filter(|k| Shard { k: *k, n: n as u64 }.contains(it)).collect();
            assert_eq!(owners.len(), 1);
            counts[owners[0] as usize - 1] += 1;
        }
        assert!(counts.iter().all(|c| *c > 40), "{counts:?}");
        assert!("0/3".parse::<Shard>().is_err());
        assert!("4/3".parse::<Shard>().is_err());
        assert_eq!("2/3".parse::<Shard>().unwrap(), Shard { k: 2, n: 3 });
    }

    #[test]
    fn candidate_from_regex_and_csv() {
        let it = Item { rel: "cohort1/alice_smith-exam2.webm".into(), path: "x/alice_smith-exam2.webm".into(), id: "a".into(), problem: None };
        let re = CandidateSource::parse(r"([a-z]+_[a-z]+)-exam").unwrap();
        assert_eq!(re.candidate(&it).as_deref(), Some("alice_smith"));
        let d = tempfile::tempdir().unwrap();
        let csv = d.path().join("names.csv");
        std::fs::write(&csv, "path,candidate\nalice_smith-exam2.webm,\"Smith, Alice \"\"Al\"\"\"\n").unwrap();
        let c = CandidateSource::parse(csv.to_str().unwrap()).unwrap();
        assert_eq!(c.candidate(&it).as_deref(), Some("Smith, Alice \"Al\""));
        // the header row is not data
        let CandidateSource::Csv(map) = &c else { panic!("a CSV source") };
        assert_eq!(map.len(), 1);
        assert!(!map.contains_key("path"));
    }

    #[test]
    fn reference_photos_by_id_and_from_a_csv() {
        let d = tempfile::tempdir().unwrap();
        let it = Item { rel: "cohort1/alice.webm".into(), path: "x/cohort1/alice.webm".into(), id: "cohort1__alice".into(), problem: None };
        let other = Item { rel: "bob.webm".into(), path: "x/bob.webm".into(), id: "bob".into(), problem: None };
        std::fs::write(d.path().join("cohort1__alice.jpeg"), b"x").unwrap();
        let dir = ReferenceSource::parse(d.path()).unwrap();
        assert_eq!(dir.photo(&it), Some(d.path().join("cohort1__alice.jpeg")));
        assert_eq!(dir.photo(&other), None);
        let csv = d.path().join("refs.csv");
        std::fs::write(&csv, "recording,photo\ncohort1/alice.webm,photos/a.jpg\nbob,/abs/b.png\n").unwrap();
        let c = ReferenceSource::parse(&csv).unwrap();
        assert_eq!(c.photo(&it), Some(d.path().join("photos/a.jpg")));
        assert_eq!(c.photo(&other), Some(PathBuf::from("/abs/b.png")));
        std::fs::write(&csv, "alice.webm\n").unwrap();
        assert!(ReferenceSource::parse(&csv).unwrap_err().contains("line 1: expected two columns"));
        assert!(ReferenceSource::parse(&d.path().join("missing")).is_err());
    }

    pub(crate) fn mkfifo(p: &Path) {
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo {}", p.display());
    }

    #[test]
    fn bad_entries_are_found_each_on_its_own_and_never_stop_the_search() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("archive");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("a.webm"), b"x").unwrap();
        std::fs::write(root.join("sub/z.webm"), b"x").unwrap();
        std::os::unix::fs::symlink("nothere.webm", root.join("dangling.webm")).unwrap();
        std::os::unix::fs::symlink("self.webm", root.join("self.webm")).unwrap();
        std::os::unix::fs::symlink("..", root.join("sub/loop")).unwrap();
        std::os::unix::fs::symlink("nothere", root.join("notes.txt")).unwrap();
        mkfifo(&root.join("pipe.webm"));
        let items = discover(&[root.display().to_string()]).unwrap();
        let got: Vec<(&str, Option<&str>)> = items.iter().map(|it| (it.rel.as_str(), it.problem.as_deref())).collect();
        let rels: Vec<&str> = got.iter().map(|g| g.0).collect();
        assert_eq!(rels, ["a.webm", "dangling.webm", "pipe.webm", "self.webm", "sub/loop", "sub/z.webm"], "{got:?}");
        assert!(got[4].1.is_some_and(|p| p.contains("a loop")), "{got:?}");
        assert!(got.iter().filter(|g| g.0 != "sub/loop").all(|g| g.1.is_none()), "{got:?}");
        // a glob keeps broken links and FIFOs too
        let items = discover(&[format!("{}/*.webm", root.display())]).unwrap();
        assert_eq!(items.len(), 4, "{items:?}");
    }

    #[test]
    fn every_failing_step_of_a_batch_loses_nothing_the_manifest_claims() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("in");
        std::fs::create_dir(&root).unwrap();
        std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/vp8_noaudio.webm"), root.join("a.webm")).unwrap();
        let items = discover(&[root.display().to_string()]).unwrap();
        let settings = Settings { config: Default::default(), models: Default::default(), threads: 1 };
        struct Quiet;
        impl BatchProgress for Quiet {
            fn file_progress(&self, _: &str) -> Box<dyn Progress + '_> {
                Box::new(crate::progress::NoProgress)
            }
            fn file_done(&self, _: &Row, _: bool) {}
        }
        let stop = AtomicBool::new(false);
        let opts = |outdir: PathBuf, resume: bool| BatchOptions {
            outdir,
            jobs: 1,
            resume,
            candidates: CandidateSource::None,
            references: ReferenceSource::None,
            write: Default::default(),
        };
        let counting = d.path().join("count");
        let g = crate::output::faults::arm(&counting, None, usize::MAX, crate::output::faults::Effect::Fail(0));
        run_batch(&items, &settings, &opts(counting.clone(), false), &Quiet, &stop).unwrap();
        let steps = g.seen();
        drop(g);
        assert!(steps >= 15, "{steps}");
        for n in 1..=steps {
            let out = d.path().join(format!("out{n}"));
            let errno = if n % 2 == 0 { libc::EIO } else { libc::ENOSPC };
            let g = crate::output::faults::arm(&out, None, n, crate::output::faults::Effect::Fail(errno));
            let r = run_batch(&items, &settings, &opts(out.clone(), false), &Quiet, &stop);
            assert!(g.fired(), "step {n}");
            drop(g);
            // the failure is said: an error row, or the run's error
            let said = match &r {
                Ok(rows) => rows[0].status == "error",
                Err(_) => true,
            };
            assert!(said, "step {n} of {steps}: a failed write went unnoticed ({r:?})");
            // what the manifest says is done is there and whole
            let rec = out.join("recordings");
            for row in read_manifest(&out.join("manifest.jsonl")).values().filter(|r| r.status == "ok") {
                assert!(outputs_intact(&out, &rec, row, &Default::default()), "step {n}: manifest claims {}", row.id);
            }
            let left: Vec<String> = walkdir::WalkDir::new(&out)
                .into_iter()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".proctor-") || n.contains(".tmp-") || n.ends_with(".lock"))
                .collect();
            assert!(left.is_empty(), "step {n}: {left:?}");
            // and a resumed run ends whole
            let rows = run_batch(&items, &settings, &opts(out.clone(), true), &Quiet, &stop).unwrap();
            assert_eq!(rows[0].status, "ok", "step {n}: {:?}", rows[0].error);
            assert!(outputs_intact(&out, &rec, &rows[0], &Default::default()), "step {n}");
            assert_eq!(read_summary(&out).unwrap().height(), 1);
        }
    }
}
