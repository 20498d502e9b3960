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
    pub counts: BTreeMap<EventKind, KindCount>,
    pub events: usize,
    pub baseline: &'a Baseline,
    pub thresholds: &'a EventConfig,
    pub policy: &'a Policy,
    pub models: &'a [Provenance],
    pub warnings: &'a [String],
    pub elapsed_s: f64,
    pub outputs: &'a Outputs,
}

/// Counts and total durations per kind, every kind present (zeros included)
/// so that tables built from many summaries line up.
pub fn counts(events: &[crate::events::Event]) -> BTreeMap<EventKind, KindCount> {
    EventKind::ALL
        .into_iter()
        .map(|k| {
            let of: Vec<_> = events.iter().filter(|e| e.kind == k).collect();
            (k, KindCount { count: of.len(), total_s: of.iter().map(|e| e.duration_s()).sum() })
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

/// Write every output of `a` into `outdir`. Each file is written to a
/// temporary name and renamed; the report is written last, so a present
/// report means the tables beside it are complete.
pub fn write_all(
    a: &Analysis,
    outdir: &Path,
    candidate: Option<&str>,
    cfg: &Config,
    models: &[Provenance],
) -> Result<Outputs> {
    std::fs::create_dir_all(outdir)
        .map_err(|e| crate::error::Error::new(outdir, crate::error::ErrorKind::Output(e.to_string())))?;
    let out = Outputs::for_recording(outdir, &a.recording);
    write_parquet(&out.frames, &mut frames_frame(&a.recording, &a.observations))?;
    write_parquet(&out.detections, &mut detections_frame(&a.recording, &a.observations))?;
    write_parquet(&out.events, &mut events_frame(&a.recording, &a.events))?;
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
        counts: counts(&a.events),
        events: a.events.len(),
        baseline: &a.baseline,
        thresholds: &cfg.events,
        policy: &cfg.policy,
        models,
        warnings: &a.warnings,
        elapsed_s: a.elapsed_s,
        outputs: &out,
    };
    let json = serde_json::to_vec_pretty(&summary).expect("summary serialises");
    write_bytes(&out.summary, &json)?;
    let input = ReportInput::from_analysis(a, candidate, &analysed_at, cfg, models);
    let pdf = report::render(&input, Some(&a.info), &a.observations)
        .map_err(|why| crate::error::Error::new(&out.report, crate::error::ErrorKind::Output(why)))?;
    write_bytes(&out.report, &pdf)?;
    Ok(out)
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
}
