//! The archive index, `index.html`: one row per recording (score, band,
//! counts per kind, review status), in review-priority order (lowest score
//! first; ties by the most severe kind flagged), filterable by kind and
//! band, searchable by candidate and id, each row linking to its review page.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::error::Result;
use crate::kinds::EventKind;
use crate::records::KindCount;
use crate::review::catalog::Catalog;
use crate::review::{encode_segment, escape_html, kind_color, script_json, COMMON_JS};

static CSS: &str = include_str!("assets/review.css");
static JS: &str = include_str!("assets/index.js");

/// One recording in the index.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IndexRow {
    pub id: String,
    pub candidate: Option<String>,
    pub path: String,
    pub status: String,
    pub error: Option<String>,
    pub score: Option<f64>,
    pub band: Option<String>,
    pub duration_s: Option<f64>,
    pub events: Option<u64>,
    pub counts: BTreeMap<EventKind, Option<KindCount>>,
    /// The review page (or, without one, the report), relative to the index.
    pub link: Option<String>,
    /// Events with a verdict (verdicts on events the recording no longer
    /// holds are not counted).
    pub reviewed: usize,
    /// Events on which reviewers' verdicts differ.
    #[serde(default)]
    pub disagreements: usize,
    /// Spans reviewers marked as events proctor missed.
    #[serde(default)]
    pub missed: usize,
}

/// How severe a kind is: its deduction in the default policy.
pub fn severity(k: EventKind) -> f64 {
    crate::config::Policy::default().deductions.get(&k).copied().unwrap_or(0.0)
}

/// The most severe kind flagged in a row (its severity, 0 for none).
fn worst(r: &IndexRow) -> f64 {
    r.counts.iter().filter(|(_, c)| c.as_ref().is_some_and(|c| c.count > 0)).map(|(k, _)| severity(*k)).fold(0.0, f64::max)
}

/// Sort into review priority: failed recordings first (someone must look at
/// them), then the lowest score, ties by the most severe kind, then the id.
pub fn sort_by_priority(rows: &mut [IndexRow]) {
    rows.sort_by(|a, b| {
        let failed = |r: &IndexRow| r.status != "ok";
        failed(b)
            .cmp(&failed(a))
            .then(a.score.unwrap_or(f64::INFINITY).total_cmp(&b.score.unwrap_or(f64::INFINITY)))
            .then(worst(b).total_cmp(&worst(a)))
            .then(a.id.cmp(&b.id))
    });
}

/// The link to a recording's page from the directory the index is in:
/// `sub` is where its outputs are (`recordings/` in a batch, `` for analyze).
fn link_for(dir: &Path, sub: &str, id: &str) -> Option<String> {
    for file in [crate::records::OutputFile::ReviewPage, crate::records::OutputFile::Report] {
        let name = file.name(id);
        if dir.join(sub).join(&name).exists() {
            let prefix = if sub.is_empty() { String::new() } else { format!("{sub}/") };
            return Some(format!("{prefix}{}", encode_segment(&name)));
        }
    }
    None
}

/// What the reviewers did on one recording.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reviewed {
    /// Its current events with a verdict (by any reviewer).
    pub events: usize,
    /// Events whose reviewers' verdicts differ.
    pub disagreements: usize,
    /// Spans marked as missed events.
    pub missed: usize,
}

/// Per recording, what the verdicts in the desk directory `dir` say of it
/// (orphans, whose event is gone, and verdicts taken back are not counted).
pub fn reviewed_counts(dir: &Path, catalog: &Catalog) -> BTreeMap<String, Reviewed> {
    let all = crate::review::decisions::read_latest(dir).unwrap_or_default();
    let (live, _) = crate::review::decisions::split_orphans(all.clone(), &catalog.judgeable(&all));
    count_reviews(&live)
}

/// Per recording, what `live` verdicts (none an orphan) say of it.
pub fn count_reviews(live: &[crate::review::decisions::Decision]) -> BTreeMap<String, Reviewed> {
    use crate::review::decisions::Verdict;
    let mut verdicts: BTreeMap<crate::review::decisions::EventId, Vec<Verdict>> = BTreeMap::new();
    let mut n: BTreeMap<String, Reviewed> = BTreeMap::new();
    for d in live {
        match d.verdict {
            Verdict::Missed => n.entry(d.recording.clone()).or_default().missed += 1,
            v if v.judges_a_flag() => verdicts.entry(d.event()).or_default().push(v),
            _ => {}
        }
    }
    for ((rec, ..), vs) in verdicts {
        let r = n.entry(rec).or_default();
        r.events += 1;
        if vs.iter().any(|v| *v != vs[0]) {
            r.disagreements += 1;
        }
    }
    n
}

/// `rows` with what the reviewers did on each (`reviewed_counts`).
pub fn with_reviews(mut rows: Vec<IndexRow>, reviewed: &BTreeMap<String, Reviewed>) -> Vec<IndexRow> {
    for row in &mut rows {
        let r = reviewed.get(&row.id).copied().unwrap_or_default();
        (row.reviewed, row.disagreements, row.missed) = (r.events, r.disagreements, r.missed);
    }
    rows
}

/// The index rows of a batch directory, from its manifest (nothing reviewed yet).
pub fn rows_from_batch(outdir: &Path) -> Vec<IndexRow> {
    let mut out: Vec<IndexRow> = crate::records::read_manifest(&outdir.join(crate::records::MANIFEST))
        .into_values()
        .map(|r| IndexRow {
            link: if r.is_ok() { link_for(outdir, "recordings", &r.id) } else { None },
            candidate: r.candidate.as_deref().map(crate::text::visible),
            path: crate::text::visible(&r.path),
            score: r.score,
            band: r.band,
            duration_s: r.duration_s,
            events: r.events,
            counts: r.counts,
            reviewed: 0,
            disagreements: 0,
            missed: 0,
            status: r.status.as_str().to_string(),
            error: r.error,
            id: r.id,
        })
        .collect();
    sort_by_priority(&mut out);
    out
}

/// The index rows of any output directory with what the reviewers did.
pub fn rows_from_dir(dir: &Path, catalog: &Catalog) -> Vec<IndexRow> {
    with_reviews(rows_of_outputs(dir), &reviewed_counts(dir, catalog))
}

/// The index rows of any output directory: a batch's (its manifest), or the
/// `<id>.summary.json` files an `analyze` wrote there (nothing reviewed yet).
pub fn rows_of_outputs(dir: &Path) -> Vec<IndexRow> {
    if dir.join("manifest.jsonl").exists() {
        return rows_from_batch(dir);
    }
    use rayon::prelude::*;
    let mut out: Vec<IndexRow> = summary_files(dir)
        .par_iter()
        .filter_map(|path| {
            let v: SummaryFields = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
            if v.recording.is_empty() {
                return None;
            }
            let sub = path.parent().and_then(|p| p.strip_prefix(dir).ok()).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
            Some(IndexRow {
                candidate: v.candidate.as_deref().map(crate::text::visible),
                path: crate::text::visible(&v.path),
                status: "ok".into(),
                error: None,
                score: v.score,
                band: v.band,
                duration_s: v.duration_s,
                events: v.events,
                counts: v.counts,
                link: link_for(dir, &sub, &v.recording),
                reviewed: 0,
                disagreements: 0,
                missed: 0,
                id: v.recording,
            })
        })
        .collect();
    sort_by_priority(&mut out);
    out
}

/// What the index shows of a [`crate::records::Summary`], with its field
/// names and types; the rest is skipped when read (10,000 summaries are read
/// for an archive's index, and most of a summary is the configuration).
#[derive(serde::Deserialize)]
struct SummaryFields {
    #[serde(default)]
    recording: String,
    candidate: Option<String>,
    #[serde(default)]
    path: String,
    score: Option<f64>,
    band: Option<String>,
    duration_s: Option<f64>,
    events: Option<u64>,
    #[serde(default)]
    counts: BTreeMap<EventKind, Option<KindCount>>,
}

/// Every `<id>.summary.json` in `dir` and in `dir/recordings`, sorted.
pub fn summary_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for d in [dir.to_path_buf(), dir.join("recordings")] {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).filter(|p| p.to_string_lossy().ends_with(".summary.json")).collect();
        paths.sort();
        out.extend(paths);
    }
    out
}

/// A fingerprint of what the index rows are read from: the manifest and
/// every summary (name, modification time, length). Rows read while it
/// stays the same are still the directory's rows.
pub fn outputs_state(dir: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    use crate::review::catalog::stamp;
    stamp(&dir.join("manifest.jsonl")).hash(&mut h);
    for p in summary_files(dir) {
        p.hash(&mut h);
        stamp(&p).hash(&mut h);
    }
    h.finish()
}

#[derive(Serialize)]
struct IndexData<'a> {
    title: &'a str,
    kinds: Vec<(EventKind, &'static str)>,
    rows: &'a [IndexRow],
}

/// The index page's HTML.
pub fn render(title: &str, rows: &[IndexRow]) -> String {
    let data = IndexData { title, kinds: EventKind::ALL.into_iter().map(|k| (k, kind_color(k))).collect(), rows };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'\">\n\
<meta name=\"proctor-desk\" content=\"\">\n\
<title>{}</title>\n<style>\n{CSS}</style>\n</head>\n<body class=\"index\">\n\
<header id=\"head\"></header>\n<div id=\"stale\" role=\"alert\" hidden></div>\n<main>\n<div id=\"filters\" role=\"search\"></div>\n\
<table id=\"rows\"><caption class=\"sr\">Recordings, in review priority</caption><thead></thead><tbody></tbody></table>\n<p id=\"empty\" hidden>No recording matches.</p>\n</main>\n\
<script type=\"application/json\" id=\"data\">{}</script>\n<script>\n{COMMON_JS}</script>\n<script>\n{JS}</script>\n</body>\n</html>\n",
        escape_html(title),
        script_json(&data)
    )
}

/// Write `outdir/index.html` for a batch directory, from its manifest
/// (temporary, then rename).
pub fn write_index(outdir: &Path) -> Result<()> {
    let rows = with_reviews(rows_from_batch(outdir), &reviewed_counts(outdir, &Catalog::new(outdir)));
    let title = format!("proctor archive: {}", outdir.canonicalize().unwrap_or_else(|_| outdir.to_path_buf()).display());
    crate::output::write_bytes(&outdir.join("index.html"), render(&title, &rows).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, score: Option<f64>, kinds: &[EventKind]) -> IndexRow {
        IndexRow {
            id: id.into(),
            candidate: None,
            path: String::new(),
            status: if score.is_some() { "ok".into() } else { "error".into() },
            error: None,
            score,
            band: None,
            duration_s: None,
            events: None,
            counts: kinds.iter().map(|k| (*k, Some(KindCount { count: 1, total_s: 1.0 }))).collect(),
            link: None,
            reviewed: 0,
            disagreements: 0,
            missed: 0,
        }
    }

    #[test]
    fn priority_is_failed_then_lowest_score_then_most_severe_kind() {
        let mut rows = vec![
            row("c", Some(80.0), &[EventKind::LoudAudio]),
            row("a", Some(60.0), &[EventKind::LookingAway]),
            row("b", Some(60.0), &[EventKind::MultipleFaces]),
            row("z", None, &[]),
            row("d", Some(95.0), &[]),
        ];
        sort_by_priority(&mut rows);
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["z", "b", "a", "c", "d"]);
    }

    #[test]
    fn names_are_escaped() {
        let mut r = row("x", Some(50.0), &[]);
        r.candidate = Some("<img src=x onerror=alert(1)>".into());
        let html = render("<b>t</b>", &[r]);
        assert!(!html.contains("<img src=x"));
        assert!(html.contains("&lt;b&gt;t&lt;/b&gt;"));
    }
}
