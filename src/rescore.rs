//! `proctor rescore`: the rules run again over saved analyses under another
//! configuration ([`crate::rules`]), nothing decoded, the outputs written to
//! another directory (never over the analyses they come from). An `analyze`
//! output directory gives one of the same layout; a batch output directory
//! gives a batch output directory (recordings/, the event partitions, the
//! manifest, summary.parquet and the index).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::kinds::EventKind;
use crate::records::{counts, KindCount, Row, Status, MANIFEST};
use crate::rules::Change;
use crate::save::WriteOptions;

/// What a rescore is given besides its inputs.
pub struct Options {
    pub config: Config,
    /// Where the configuration came from, for the warning each analysis carries.
    pub config_path: PathBuf,
    /// The directory the new outputs go to (a subdirectory per input when
    /// there are several).
    pub outdir: PathBuf,
    pub write: WriteOptions,
}

/// One recording rescored, or why it could not be.
pub struct Rescored {
    /// Its summary in the input.
    pub summary: PathBuf,
    pub id: String,
    pub result: Result<Outcome>,
}

/// What one recording's rescore gave.
pub struct Outcome {
    pub change: Change,
    /// Its events and their counts per kind (null for kinds not checked), as a batch row holds them.
    pub events: usize,
    pub counts: BTreeMap<EventKind, Option<KindCount>>,
}

/// One input directory and where its outputs go.
struct Input {
    dir: PathBuf,
    out: PathBuf,
    /// A batch output directory: its recordings are in `recordings/`.
    batch: bool,
}

/// Rescore every analysis under `inputs` (output directories of `analyze` or
/// `batch`). An error here is about the inputs or the output directory as a
/// whole; each recording's own is in its [`Rescored`].
pub fn rescore(inputs: &[PathBuf], opts: &Options) -> Result<Vec<Rescored>> {
    let inputs = plan(inputs, &opts.outdir)?;
    let mut jobs = Vec::new();
    for input in &inputs {
        let from = recordings_of(input);
        let mut summaries: Vec<PathBuf> = std::fs::read_dir(&from)
            .map_err(|e| Error::new(&from, ErrorKind::Unreadable(e)))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".summary.json") && !n.starts_with('.')))
            .collect();
        if summaries.is_empty() {
            return Err(Error::new(&input.dir, ErrorKind::BadOutput("holds no <id>.summary.json: not a proctor output directory".into())));
        }
        summaries.sort();
        jobs.extend(summaries.into_iter().map(|s| (input, s)));
    }
    let done = each_on_threads(&jobs, |(input, summary)| one(input, summary, opts));
    for input in inputs.iter().filter(|i| i.batch) {
        archive(input, &done, &opts.config)?;
    }
    Ok(done)
}

/// `f` of every job, in order, on one thread per core, each taking the next
/// job when it is done with one. (Not rayon's work stealing: a job waits
/// inside the Parquet writer's own pool, and a rayon worker waiting there
/// would start another job on top of it, a stack deeper with every job
/// waiting: 1,000 recordings overflowed it.)
fn each_on_threads<J: Sync, R: Send>(jobs: &[J], f: impl Fn(&J) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(jobs.len()).max(1);
    let mut done: Vec<(usize, R)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break mine };
                        mine.push((i, f(job)));
                    }
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("a rescore thread panicked outside the per-recording guard")).collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Where each input's outputs go: `outdir` itself for one input, a
/// subdirectory named after each for several. Refused: an output directory
/// that is an input (or inside one's recordings), two inputs of one name.
fn plan(inputs: &[PathBuf], outdir: &Path) -> Result<Vec<Input>> {
    let bad = |p: &Path, why: String| Error::new(p, ErrorKind::Config(why));
    std::fs::create_dir_all(outdir).map_err(|e| Error::new(outdir, ErrorKind::Output(e.to_string())))?;
    let out_real = outdir.canonicalize().map_err(|e| Error::new(outdir, ErrorKind::Unreadable(e)))?;
    let mut planned: Vec<Input> = Vec::new();
    for dir in inputs {
        if !dir.is_dir() {
            return Err(bad(dir, "expected the output directory of proctor analyze or proctor batch".into()));
        }
        let real = dir.canonicalize().map_err(|e| Error::new(dir, ErrorKind::Unreadable(e)))?;
        let batch = dir.join(MANIFEST).exists();
        let out = if inputs.len() == 1 {
            outdir.to_path_buf()
        } else {
            let name = real.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "input".into());
            if planned.iter().any(|p| p.out.file_name() == Some(name.as_os_str())) {
                return Err(bad(dir, format!("two inputs are named {}: rescore them one at a time", name.to_string_lossy())));
            }
            outdir.join(name)
        };
        let target = if inputs.len() == 1 { out_real.clone() } else { out_real.join(out.file_name().expect("named")) };
        if target == real || target.starts_with(real.join("recordings")) {
            return Err(bad(
                outdir,
                format!("is the input {}: rescore writes its outputs to another directory, never over the analyses", dir.display()),
            ));
        }
        planned.push(Input { dir: dir.clone(), out, batch });
    }
    Ok(planned)
}

fn recordings_of(input: &Input) -> PathBuf {
    if input.batch {
        input.dir.join("recordings")
    } else {
        input.dir.clone()
    }
}

/// Rescore one saved analysis into its input's output directory.
fn one(input: &Input, summary: &Path, opts: &Options) -> Rescored {
    let id = summary.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".summary.json")).unwrap_or("").to_string();
    let result = crate::output::isolate(summary, || {
        let (a, mut b, change) = crate::load::load_under(summary, &opts.config, &opts.config_path)?;
        b.warnings.insert(
            0,
            format!(
                "events derived again by proctor rescore from the observations of the analysis of {}, under the configuration {}: {}",
                a.analysed_at,
                opts.config_path.display(),
                change.describe()
            ),
        );
        let rec_out = if input.batch { input.out.join("recordings") } else { input.out.clone() };
        let _lock = crate::output::IdLock::acquire(&rec_out, &id)?;
        crate::save::clean_stale(&rec_out, &id);
        crate::save::write_all_with(&b, &rec_out, &opts.write)?;
        if input.batch {
            crate::batch::write_partition(&input.out, &id, &b.events)?;
        }
        Ok(Outcome { change, events: b.events.len(), counts: counts(&b.events, &b.checked) })
    });
    Rescored { summary: summary.to_path_buf(), id, result }
}

/// A batch input's archive files in its output: the manifest's rows with the
/// new scores (a recording that could not be rescored keeps its row, as an
/// error saying why), summary.parquet and the index.
fn archive(input: &Input, done: &[Rescored], cfg: &Config) -> Result<()> {
    let rows = crate::records::read_manifest(&input.dir.join(MANIFEST));
    let ours: BTreeMap<&str, &Rescored> =
        done.iter().filter(|r| r.summary.parent() == Some(recordings_of(input).as_path())).map(|r| (r.id.as_str(), r)).collect();
    let mut out_rows = Vec::new();
    for (id, row) in rows {
        let row = match ours.get(id.as_str()).map(|r| &r.result) {
            Some(Ok(o)) => Row {
                config: cfg.fingerprint(),
                score: Some(o.change.score[1]),
                band: Some(o.change.band[1].as_str().into()),
                events: Some(o.events as u64),
                counts: o.counts.clone(),
                ..row
            },
            Some(Err(e)) => Row { status: Status::Error, error: Some(format!("rescore: {}", e.kind)), ..row },
            None => row,
        };
        out_rows.push(row);
    }
    let lines: String = out_rows.iter().map(|r| serde_json::to_string(r).expect("a row serialises") + "\n").collect();
    crate::output::write_bytes(&input.out.join(MANIFEST), lines.as_bytes())?;
    crate::batch::write_archive(&input.out, &out_rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_directory_is_never_an_input() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a");
        std::fs::create_dir(&a).unwrap();
        let e = plan(&[a.clone()], &a).err().expect("refused");
        assert!(e.to_string().contains("never over the analyses"), "{e}");
        // written through another spelling of the same directory
        let e = plan(&[a.clone()], &d.path().join("a/../a")).err().expect("refused");
        assert!(e.to_string().contains("never over"), "{e}");
        let b = d.path().join("x/a");
        std::fs::create_dir_all(&b).unwrap();
        let e = plan(&[a.clone(), b], &d.path().join("out")).err().expect("two inputs named a");
        assert!(e.to_string().contains("two inputs are named a"), "{e}");
        let p = plan(&[a.clone()], &d.path().join("out")).unwrap();
        assert_eq!(p[0].out, d.path().join("out"));
    }
}
