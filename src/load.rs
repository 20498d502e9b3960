//! Loading a saved analysis back, whole: the inverse of [`crate::save`].
//! What [`crate::save::write_all`] saved, [`load`] returns as the same
//! [`Analysis`] value (without face descriptors, which are saved apart).

use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};
use crate::records::{Analysis, Summary, OLDEST_READABLE, SCHEMA_VERSION};
use crate::tables::{read_events, read_evidence, read_observations};

/// Read a `<id>.summary.json`.
pub fn load_summary(path: &Path) -> Result<Summary> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::new(path, ErrorKind::NotFound),
        _ => Error::new(path, ErrorKind::Unreadable(e)),
    })?;
    let bad = |why: String| Error::new(path, ErrorKind::BadOutput(why));
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    let version = value.get("schema_version").and_then(|v| v.as_u64()).ok_or_else(|| bad("not a proctor summary (no schema_version)".into()))?;
    if !(u64::from(OLDEST_READABLE)..=u64::from(SCHEMA_VERSION)).contains(&version) {
        return Err(bad(format!("schema version {version}, this proctor reads {OLDEST_READABLE} to {SCHEMA_VERSION}")));
    }
    serde_json::from_value(value).map_err(|e| bad(format!("not a proctor summary: {e}")))
}

/// Whether the rules can run again on the analysis whose summary is at
/// `summary` ([`crate::rules`]): its tables must hold everything they read,
/// which those of schema 7 and later do. An older one names what it lacks
/// and the command that fills it in.
pub fn check_rederivable(summary: &Path) -> Result<()> {
    let s = load_summary(summary)?;
    if s.schema_version >= crate::records::RULES_SINCE {
        return Ok(());
    }
    Err(Error::new(
        summary,
        ErrorKind::BadOutput(format!(
            "written by an older proctor (schema {}): it kept objects only at its own thresholds and no faces_described, \
             which the rules read; analyse the recording again (proctor analyze) to derive its events under another configuration",
            s.schema_version
        )),
    ))
}

/// The analysis saved at `summary`, and it under another configuration
/// `cfg` (read from `cfg_path`) with how it changed: [`check_rederivable`],
/// [`load`], [`rules_under`].
pub fn load_under(summary: &Path, cfg: &crate::config::Config, cfg_path: &Path) -> Result<(Analysis, Analysis, crate::rules::Change)> {
    check_rederivable(summary)?;
    let a = load(summary)?;
    let (b, change) = rules_under(&a, cfg, cfg_path)?;
    Ok((a, b, change))
}

/// `a` under another configuration `cfg` ([`crate::rules::under`]); a
/// configuration that changes what is seen, not only the rules, is refused
/// naming its file (`cfg_path`), the settings, and the command that applies them.
pub fn rules_under(a: &Analysis, cfg: &crate::config::Config, cfg_path: &Path) -> Result<(Analysis, crate::rules::Change)> {
    crate::rules::under(a, cfg).map_err(|keys| {
        Error::new(
            cfg_path,
            ErrorKind::Config(format!(
                "changes what is seen, not only the rules ({}): only a new analysis applies it (proctor analyze --config {})",
                keys.join(", "),
                cfg_path.display()
            )),
        )
    })
}

/// The summary.json of a saved analysis, given the output directory (which
/// must hold exactly one, unless `id` says which), the summary itself, or any
/// of the recording's tables (`<id>.events.parquet`, ...).
pub fn find_summary(path: &Path, id: Option<&str>) -> Result<PathBuf> {
    if path.is_dir() {
        if let Some(id) = id {
            return Ok(path.join(format!("{id}.summary.json")));
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Error::new(path, ErrorKind::Unreadable(e)))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".summary.json") && !n.starts_with('.')))
            .collect();
        found.sort();
        return match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(Error::new(path, ErrorKind::BadOutput("holds no <id>.summary.json: not a proctor output directory".into()))),
            n => Err(Error::new(
                path,
                ErrorKind::BadOutput(format!("holds {n} analyses: say which with --id (or name its <id>.summary.json)")),
            )),
        };
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if crate::records::OutputFile::parse(name).is_some_and(|(_, f)| f == crate::records::OutputFile::Summary) {
        return Ok(path.to_path_buf());
    }
    if let Some((id, _)) = crate::records::OutputFile::parse(name) {
        return Ok(path.with_file_name(crate::records::OutputFile::Summary.name(id)));
    }
    Err(Error::new(path, ErrorKind::BadOutput("expected an output directory, an <id>.summary.json or an <id>.events.parquet".into())))
}

/// Load the analysis whose summary is at `summary`. Its tables are looked
/// for beside it, by their file names (so a moved directory still loads).
pub fn load(summary: &Path) -> Result<Analysis> {
    let s = load_summary(summary)?;
    let dir = summary.parent().unwrap_or(Path::new("."));
    let beside = |p: &Path| dir.join(p.file_name().unwrap_or(p.as_os_str()));
    let observations = read_observations(&beside(&s.outputs.frames), &beside(&s.outputs.detections))?;
    let events_path = beside(&s.outputs.events);
    let (recording, events) = read_events(&events_path)?;
    check_events(&events_path, &recording, &events, &s)?;
    let mut warnings = Vec::new();
    let evidence = match &s.outputs.evidence {
        // the pictures are evidence, not the analysis: without them the rest still stands
        Some(p) if !beside(p).exists() => {
            warnings.push(format!("the evidence pictures ({}) are missing: the report shows none", beside(p).display()));
            Vec::new()
        }
        Some(p) => read_evidence(&beside(p))?,
        // schema 4 and older kept no pictures
        None => Vec::new(),
    };
    if events.len() != s.events {
        return Err(Error::new(
            beside(&s.outputs.events),
            ErrorKind::BadOutput(format!("holds {} events where {} says {}", events.len(), summary.display(), s.events)),
        ));
    }
    for w in &warnings {
        crate::warn!("proctor: warning: {w}");
    }
    let mut a = s.into_analysis(observations, events, evidence);
    a.warnings.extend(warnings);
    Ok(a)
}

/// The events of a saved analysis must be of its recording and within it:
/// finite times, 0 <= start <= end <= the recording's duration (plus a
/// frame's slack), the evidence frame inside the recording.
fn check_events(path: &Path, recording: &str, events: &[crate::records::Event], s: &Summary) -> Result<()> {
    let bad = |why: String| Err(Error::new(path, ErrorKind::BadOutput(why)));
    // (an empty table names no recording)
    if !recording.is_empty() && recording != s.recording {
        return bad(format!("its events are of recording '{recording}', not '{}' (files of two analyses mixed?)", s.recording));
    }
    let end_max = if s.duration_s.is_finite() && s.duration_s > 0.0 { s.duration_s + 1.0 } else { f64::INFINITY };
    for (i, e) in events.iter().enumerate() {
        let what = format!("event {} ({} at {}..{} s)", i + 1, e.kind.as_str(), e.start_s, e.end_s);
        if !(e.start_s.is_finite() && e.end_s.is_finite() && e.evidence_t.is_finite()) {
            return bad(format!("{what}: a time is not a finite number"));
        }
        if e.start_s < 0.0 || e.end_s < e.start_s {
            return bad(format!("{what}: it ends before it starts, or starts before 0"));
        }
        if e.end_s > end_max || e.evidence_t < 0.0 || e.evidence_t > end_max {
            return bad(format!("{what}: past the end of the {:.1} s recording", s.duration_s));
        }
    }
    Ok(())
}
