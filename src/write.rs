//! Writing one recording's outputs: Parquet tables, summary.json, PDF report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::analyze::{Analysis, AudioSummary, DecodeSummary};
use crate::config::{Config, EventConfig, Policy};
use crate::decode::MediaInfo;
use crate::detect::Provenance;
use crate::error::Result;
use crate::events::{Baseline, EventKind};
use crate::output::write_bytes;
use crate::report::{self, ReportInput};
use crate::score::Score;
use crate::timeline::{detections_frame, events_frame, frames_frame, write_parquet, SCHEMA_VERSION};

/// Paths of the files written for one recording.
#[derive(Debug, Clone, Serialize)]
pub struct Outputs {
    pub frames: PathBuf,
    pub detections: PathBuf,
    pub events: PathBuf,
    pub summary: PathBuf,
    pub report: PathBuf,
    /// `<id>.embeddings.parquet`, only with `--save-embeddings`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<PathBuf>,
}

/// What to write besides the five files every analysis writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// Write the face descriptors (`<id>.embeddings.parquet`). Off by default:
    /// descriptors are biometric data.
    pub save_embeddings: bool,
}

impl Outputs {
    pub fn for_recording(outdir: &Path, recording: &str) -> Outputs {
        let p = |ext: &str| outdir.join(format!("{recording}.{ext}"));
        Outputs {
            frames: p("frames.parquet"),
            detections: p("detections.parquet"),
            events: p("events.parquet"),
            summary: p("summary.json"),
            report: p("report.pdf"),
            embeddings: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct KindCount {
    pub count: usize,
    pub total_s: f64,
}

/// The machine-readable summary of one recording (`<id>.summary.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Summary<'a> {
    pub schema_version: u32,
    pub tool: &'static str,
    pub tool_version: &'static str,
    pub recording: &'a str,
    pub path: String,
    pub candidate: Option<&'a str>,
    pub sha256: &'a str,
    pub analysed_at: String,
    pub duration_s: f64,
    pub frames_analysed: usize,
    pub fps: f64,
    pub object_fps: f64,
    pub media: &'a MediaInfo,
    pub audio: &'a AudioSummary,
    pub decode: &'a DecodeSummary,
    pub score: f64,
    pub band: &'static str,
    pub deductions: &'a Score,
    /// Per kind: count and total seconds, or null when not checked.
    pub counts: BTreeMap<EventKind, Option<KindCount>>,
    /// The kinds whose detector ran.
    pub checked: Vec<EventKind>,
    pub events: usize,
    pub baseline: &'a Baseline,
    pub thresholds: &'a EventConfig,
    pub policy: &'a Policy,
    /// The whole configuration the analysis ran with (`proctor report`
    /// renders from it).
    pub config: &'a Config,
    pub models: &'a [Provenance],
    pub warnings: &'a [String],
    /// Whom the faces were compared with: the reference photo (path, sha256,
    /// face box) or the frame showing the enrolled candidate.
    pub identity: &'a crate::identity::IdentityInfo,
    pub elapsed_s: f64,
    pub outputs: &'a Outputs,
}

/// Counts and total durations per kind, every kind present so that tables
/// built from many summaries line up: `None` (null) for a kind that was not
/// checked, which is not the same as 0 events.
pub fn counts(
    events: &[crate::events::Event],
    checked: &std::collections::BTreeSet<EventKind>,
) -> BTreeMap<EventKind, Option<KindCount>> {
    EventKind::ALL
        .into_iter()
        .map(|k| {
            let of: Vec<_> = events.iter().filter(|e| e.kind == k).collect();
            let c = (checked.contains(&k) || !of.is_empty()).then(|| KindCount {
                count: of.len(),
                // + 0.0 turns an empty sum's -0.0 into 0.0
                total_s: of.iter().map(|e| e.duration_s()).sum::<f64>() + 0.0,
            });
            (k, c)
        })
        .collect()
}

/// Seconds since the epoch as an RFC 3339 UTC time.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // civil-from-days (proleptic Gregorian)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Prefix of the temporary directory a recording's outputs are written into.
pub const TEMP_PREFIX: &str = ".proctor-tmp-";

/// Write every output of `a` into `outdir`, all or nothing: the files are
/// written into a temporary directory beside them, then moved into place,
/// the report last (an old report is removed first), so a present report
/// means the tables beside it are complete and of the same run. On an error
/// nothing of this run is left in `outdir`. (Temporaries of earlier, killed
/// runs are removed once per run by the caller: [`clean_stale`].)
pub fn write_all(a: &Analysis, outdir: &Path, candidate: Option<&str>) -> Result<Outputs> {
    write_all_with(a, outdir, candidate, &WriteOptions::default())
}

/// [`write_all`], with the optional outputs `opts` asks for (written and
/// moved into place with the others, before the report).
pub fn write_all_with(a: &Analysis, outdir: &Path, candidate: Option<&str>, opts: &WriteOptions) -> Result<Outputs> {
    let out_err = |p: &Path, e: std::io::Error| crate::error::Error::new(p, crate::error::ErrorKind::Output(e.to_string()));
    std::fs::create_dir_all(outdir).map_err(|e| out_err(outdir, e))?;
    let tmp_dir = outdir.join(format!("{TEMP_PREFIX}{}-{}", a.recording, std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp_dir);
    crate::output::create_dir(&tmp_dir).map_err(|e| out_err(&tmp_dir, e))?;
    let written = write_into(a, &tmp_dir, outdir, candidate, opts);
    let moved = written.and_then(|(tmp, out)| {
        if out.report.exists() {
            crate::output::remove_file(&out.report).map_err(|e| out_err(&out.report, e))?;
        }
        if let (Some(from), Some(to)) = (&tmp.embeddings, &out.embeddings) {
            crate::output::rename(from, to).map_err(|e| out_err(to, e))?;
        }
        for (from, to) in [
            (&tmp.frames, &out.frames),
            (&tmp.detections, &out.detections),
            (&tmp.events, &out.events),
            (&tmp.summary, &out.summary),
            (&tmp.report, &out.report),
        ] {
            crate::output::rename(from, to).map_err(|e| out_err(to, e))?;
        }
        Ok(out)
    });
    let _ = std::fs::remove_dir_all(&tmp_dir);
    moved
}

/// Write the five files into `dir`; the summary names their final places in `outdir`.
fn write_into(a: &Analysis, dir: &Path, outdir: &Path, candidate: Option<&str>, opts: &WriteOptions) -> Result<(Outputs, Outputs)> {
    let cfg = &a.config;
    let mut tmp = Outputs::for_recording(dir, &a.recording);
    let mut out = Outputs::for_recording(outdir, &a.recording);
    if opts.save_embeddings {
        let name = format!("{}.embeddings.parquet", a.recording);
        write_parquet(&dir.join(&name), &mut crate::timeline::embeddings_frame(&a.recording, &a.observations))?;
        tmp.embeddings = Some(dir.join(&name));
        out.embeddings = Some(outdir.join(&name));
    }
    write_parquet(&tmp.frames, &mut frames_frame(&a.recording, &a.observations))?;
    write_parquet(&tmp.detections, &mut detections_frame(&a.recording, &a.observations))?;
    write_parquet(&tmp.events, &mut events_frame(&a.recording, &a.events))?;
    let analysed_at = now_rfc3339();
    let summary = Summary {
        schema_version: SCHEMA_VERSION,
        tool: "proctor",
        tool_version: env!("CARGO_PKG_VERSION"),
        recording: &a.recording,
        path: a.info.path.display().to_string(),
        candidate,
        sha256: &a.sha256,
        analysed_at: analysed_at.clone(),
        duration_s: a.info.duration_s,
        frames_analysed: a.observations.len(),
        fps: cfg.analysis.fps,
        object_fps: cfg.analysis.object_fps,
        media: &a.info,
        audio: &a.audio,
        decode: &a.stats,
        score: a.score.value,
        band: a.score.band.as_str(),
        deductions: &a.score,
        counts: counts(&a.events, &a.checked),
        checked: a.checked.iter().copied().collect(),
        events: a.events.len(),
        baseline: &a.baseline,
        thresholds: &cfg.events,
        policy: &cfg.policy,
        config: cfg,
        models: &a.models,
        warnings: &a.warnings,
        identity: &a.identity,
        elapsed_s: a.elapsed_s,
        outputs: &out,
    };
    let json = serde_json::to_vec_pretty(&summary)
        .map_err(|e| crate::error::Error::new(&tmp.summary, crate::error::ErrorKind::Output(e.to_string())))?;
    write_bytes(&tmp.summary, &json)?;
    let input = ReportInput::from_analysis(a, candidate, &analysed_at);
    // the frames the report shows, kept during the analysis (decoded again only if missing)
    let pictures = crate::evidence::pictures(a.evidence.as_ref(), Some(&a.info), &report::wanted_times(&input));
    let pdf = report::render(&input, &pictures, &a.observations)
        .map_err(|why| crate::error::Error::new(&out.report, crate::error::ErrorKind::Output(why)))?;
    write_bytes(&tmp.report, &pdf)?;
    Ok((tmp, out))
}

/// Whether a process with this id is running (Linux: /proc; elsewhere a
/// temporary is taken as stale once it is a day old).
fn alive(pid: u32, modified: Option<std::time::SystemTime>) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if Path::new("/proc/self").exists() {
        return Path::new(&format!("/proc/{pid}")).exists();
    }
    modified.and_then(|m| m.elapsed().ok()).is_none_or(|age| age.as_secs() < 86_400)
}

/// The process id a temporary name was made by: `.proctor-tmp-<id>-<pid>`
/// directories and `.<name>.tmp-<pid>` files.
fn temp_owner(name: &str) -> Option<u32> {
    if name.starts_with(TEMP_PREFIX) {
        return name.rsplit_once('-')?.1.parse().ok();
    }
    if name.starts_with('.') {
        return name.rsplit_once(".tmp-")?.1.parse().ok();
    }
    None
}

/// Remove temporaries in `dir` left by runs that are no longer running.
pub fn clean_stale(dir: &Path) {
    remove_owned(dir, temp_owner, Leftovers::OfDeadRuns);
}

/// Remove this process's own temporaries in `dir` (after a second Ctrl-C).
pub fn clean_own(dir: &Path) {
    remove_owned(dir, temp_owner, Leftovers::OfThisProcess);
}

/// Whose leftovers [`remove_owned`] removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leftovers {
    /// Those of processes no longer running ([`alive`] says no).
    OfDeadRuns,
    /// This process's own (it quits at once and will not drop them).
    OfThisProcess,
}

/// Remove the entries of `dir` (files, or directories with what they hold)
/// whose name `owner` reads a process id from, when `whose` covers that
/// process: the output temporaries here, the evidence stores in
/// `crate::evidence`.
pub(crate) fn remove_owned(dir: &Path, owner: impl Fn(&str) -> Option<u32>, whose: Leftovers) {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = owner(&name) else { continue };
        let meta = e.metadata().ok();
        let doomed = match whose {
            Leftovers::OfDeadRuns => !alive(pid, meta.as_ref().and_then(|m| m.modified().ok())),
            Leftovers::OfThisProcess => pid == me,
        };
        if doomed {
            let p = e.path();
            let _ = if meta.is_some_and(|m| m.is_dir()) { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
    }

    #[test]
    fn temporaries_of_dead_runs_are_cleaned_and_live_ones_kept() {
        let d = tempfile::tempdir().unwrap();
        let me = std::process::id();
        // pid 0 is never a user process: its temporaries are stale
        std::fs::create_dir(d.path().join(format!("{TEMP_PREFIX}rec-0"))).unwrap();
        std::fs::write(d.path().join(".rec.report.pdf.tmp-0"), b"x").unwrap();
        std::fs::create_dir(d.path().join(format!("{TEMP_PREFIX}rec-{me}"))).unwrap();
        std::fs::write(d.path().join("rec.report.pdf"), b"keep").unwrap();
        clean_stale(d.path());
        let mut left: Vec<String> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert_eq!(left, vec![format!("{TEMP_PREFIX}rec-{me}"), "rec.report.pdf".to_string()]);
        clean_own(d.path());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn counts_say_null_for_kinds_not_checked() {
        use crate::events::{checked_kinds, Event};
        let ev = Event { kind: EventKind::NoFace, start_s: 0.0, end_s: 10.0, confidence: 1.0, detail: String::new(), evidence_t: 1.0 };
        let c = counts(&[ev], &checked_kinds(true, false, false, false));
        assert_eq!(c[&EventKind::NoFace], Some(KindCount { count: 1, total_s: 10.0 }));
        assert_eq!(c[&EventKind::MultipleFaces], Some(KindCount { count: 0, total_s: 0.0 }));
        assert!(c[&EventKind::MultipleFaces].as_ref().unwrap().total_s.is_sign_positive());
        assert_eq!(c[&EventKind::Phone], None);
        assert_eq!(c[&EventKind::Voices], None);
        assert_eq!(c[&EventKind::Identity], None);
        assert_eq!(c.len(), EventKind::ALL.len());
    }
}
