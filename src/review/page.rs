//! The review page of one recording, `<id>.review.html`: a pure function of
//! the analysis, its evidence pictures and the verdicts known when it is
//! written ([`render`]); [`write_page`] gathers those and writes the file.
//! The pictures are the analysis's evidence pictures (those the report
//! shows, boxes drawn); the other events say they have none.

use std::path::Path;

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::kinds::EventKind;
use crate::records::{Analysis, Subject};
use crate::review::decisions::Decision;
use crate::review::{escape_html, kind_color, script_json, COMMON_JS};

static CSS: &str = include_str!("assets/review.css");
/// The page's scripts, in order: the timeline's drawing, then the page.
static TIMELINE_JS: &str = include_str!("assets/timeline.js");
static JS: &str = include_str!("assets/review.js");
static MISSED_JS: &str = include_str!("assets/missed.js");

/// Points per signal on the page.
pub const SIGNAL_POINTS: usize = 1500;

/// What the page needs besides the analysis and its pictures.
#[derive(Debug, Clone, Default)]
pub struct PageContext {
    pub candidate: Option<String>,
    /// The recording's URL relative to the page (`None`: not reachable).
    pub video_src: Option<String>,
    /// The verdicts on this recording's events known when the page is written.
    pub decisions: Vec<Decision>,
    /// The queue (`index.html`) relative to the page, when there is one on the
    /// disk (a batch's); served pages link to the server's own.
    pub index: Option<String>,
    /// The recording's PDF report relative to the page (it is written beside it).
    pub report: Option<String>,
}

#[derive(Serialize)]
struct KindInfo {
    kind: EventKind,
    color: &'static str,
    rule: String,
    count: usize,
}

#[derive(Serialize)]
struct EventData<'a> {
    k: EventKind,
    s: f64,
    e: f64,
    c: f32,
    d: &'a str,
    t: f64,
    /// Index into `pics`, -1 for none.
    p: i64,
    /// For `identity` and `candidate_changed`: the candidate's face and the
    /// other face, side by side.
    #[serde(skip_serializing_if = "Option::is_none")]
    f: Option<FacePair>,
}

/// Two faces to compare: indices into `pics` (-1 for none) and their labels.
#[derive(Serialize)]
struct FacePair {
    a: i64,
    al: String,
    b: i64,
    bl: String,
}

/// `m:ss` of a media time.
fn clock(t: f64) -> String {
    let s = t.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

#[derive(Serialize)]
struct PageData<'a> {
    recording: &'a str,
    candidate: Option<&'a str>,
    file: String,
    video_src: Option<&'a str>,
    duration_s: f64,
    score: f64,
    band: &'static str,
    kinds: Vec<KindInfo>,
    not_checked: Vec<EventKind>,
    events: Vec<EventData<'a>>,
    pics: Vec<String>,
    signals: Vec<crate::signals::Signal>,
    decisions: &'a [Decision],
    warnings: &'a [String],
    index: Option<&'a str>,
    report: Option<&'a str>,
}

/// The page's HTML. `pictures` are JPEGs by the media time they show (an
/// event's picture is the one at its `evidence_t`).
pub fn render(a: &Analysis, pictures: &[(f64, Vec<u8>)], ctx: &PageContext) -> String {
    let mut order: Vec<usize> = (0..a.events.len()).collect();
    order.sort_by(|&i, &j| a.events[i].start_s.total_cmp(&a.events[j].start_s).then(a.events[i].end_s.total_cmp(&a.events[j].end_s)));
    let mut pics: Vec<String> = Vec::new();
    let mut pic_of: Vec<(f64, usize)> = Vec::new();
    // the candidate's face, once in `pics` (its index when added)
    let mut mine: Option<i64> = None;
    let events = order
        .iter()
        .map(|&i| {
            let e = &a.events[i];
            let p = match pic_of.iter().find(|(t, _)| *t == e.evidence_t) {
                Some((_, idx)) => *idx as i64,
                None => match pictures.iter().find(|(t, _)| *t == e.evidence_t) {
                    Some((t, jpeg)) => {
                        pics.push(format!("data:image/jpeg;base64,{}", crate::review::base64(jpeg)));
                        pic_of.push((*t, pics.len() - 1));
                        (pics.len() - 1) as i64
                    }
                    None => -1,
                },
            };
            let f = faces_of(a, e, &mut pics, &mut mine);
            EventData { k: e.kind, s: e.start_s, e: e.end_s, c: e.confidence, d: &e.detail, t: e.evidence_t, p, f }
        })
        .collect();
    let kinds = EventKind::ALL
        .into_iter()
        .filter(|k| a.checked.contains(k) || a.events.iter().any(|e| e.kind == *k))
        .map(|k| KindInfo { kind: k, color: kind_color(k), rule: k.rule(&a.config), count: a.events.iter().filter(|e| e.kind == k).count() })
        .collect();
    // names from outside shown as they are, their reordering controls visible
    let candidate = ctx.candidate.as_deref().filter(|c| !c.trim().is_empty()).map(crate::text::visible);
    let data = PageData {
        recording: &a.recording,
        candidate: candidate.as_deref(),
        file: crate::text::visible(&a.info.path.file_name().map_or_else(|| a.info.path.display().to_string(), |n| n.to_string_lossy().into_owned())),
        video_src: ctx.video_src.as_deref(),
        duration_s: a.info.duration_s.max(a.events.iter().map(|e| e.end_s).fold(0.0, f64::max)),
        score: a.score.value,
        band: a.score.band.as_str(),
        kinds,
        not_checked: EventKind::ALL.into_iter().filter(|k| !a.checked.contains(k) && !a.events.iter().any(|e| e.kind == *k)).collect(),
        events,
        pics,
        signals: crate::signals::series(&a.observations, &a.baseline, &a.config, SIGNAL_POINTS),
        decisions: &ctx.decisions,
        warnings: &a.warnings,
        index: ctx.index.as_deref(),
        report: ctx.report.as_deref(),
    };
    let who = candidate.as_deref().map(|c| format!(" · {c}")).unwrap_or_default();
    let title = escape_html(&format!("Review {}{who}", a.recording));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; media-src *; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'\">\n\
<meta name=\"proctor-desk\" content=\"\">\n\
<title>{title}</title>\n<style>\n{CSS}</style>\n</head>\n<body class=\"page\">\n\
<header id=\"head\"></header>\n<div id=\"stale\" role=\"alert\" hidden></div>\n\
<main>\n<section id=\"left\" aria-label=\"Recording\">\n\
<div id=\"player\"><video id=\"video\" controls preload=\"metadata\" playsinline></video>\
<p id=\"video-msg\" role=\"status\" hidden></p></div>\n\
<div id=\"controls\" role=\"toolbar\" aria-label=\"Playback\"></div>\n<div id=\"legend\"></div>\n\
<div id=\"tracks\" tabindex=\"0\" role=\"slider\" aria-label=\"Timeline: click to seek, arrow keys move 2 s\" aria-valuemin=\"0\">\
<div id=\"axis\"></div><div id=\"lanewrap\"><canvas id=\"timeline\"></canvas><div id=\"lanes\"></div></div>\
<div id=\"signals\"></div><div id=\"cursor\"></div></div>\n\
</section>\n<section id=\"right\" aria-label=\"Events\">\n<section id=\"current\" aria-live=\"polite\" aria-label=\"Selected event\"></section>\n\
<div id=\"listhead\"></div><ol id=\"events\" aria-label=\"Events\"></ol></section>\n</main>\n\
<div id=\"help\" hidden></div>\n\
<script type=\"application/json\" id=\"data\">{}</script>\n\
<script>\n{COMMON_JS}</script>\n<script>\n{TIMELINE_JS}</script>\n<script>\n{MISSED_JS}</script>\n<script>\n{JS}</script>\n</body>\n</html>\n",
        script_json(&data)
    )
}

/// The candidate's face and the other face of an `identity` or
/// `candidate_changed` event, from the analysis's evidence pictures (added
/// to `pics`; the candidate's once, its index kept in `mine`).
fn faces_of(a: &Analysis, e: &crate::records::Event, pics: &mut Vec<String>, mine: &mut Option<i64>) -> Option<FacePair> {
    if !matches!(e.kind, EventKind::Identity | EventKind::CandidateChanged) {
        return None;
    }
    let mut add = |jpeg: &[u8]| {
        pics.push(format!("data:image/jpeg;base64,{}", crate::review::base64(jpeg)));
        (pics.len() - 1) as i64
    };
    let candidate = a.candidate_face();
    let other = a.other_face_at(e.evidence_t);
    if candidate.is_none() && other.is_none() {
        return None;
    }
    let al = match candidate {
        Some(p) if p.subject == Subject::ReferenceFace => "Candidate (reference photo)".to_string(),
        Some(p) => format!("Candidate, enrolled at {}", clock(p.t_s)),
        None => "No picture of the candidate".to_string(),
    };
    let a_idx = match (candidate, *mine) {
        (Some(_), Some(i)) => i,
        (Some(p), None) => {
            let i = add(&p.jpeg);
            *mine = Some(i);
            i
        }
        (None, _) => -1,
    };
    let (b, bl) = match other {
        Some(p) => (add(&p.jpeg), format!("Other face, seen at {}", clock(p.t_s))),
        None => (-1, String::new()),
    };
    Some(FacePair { a: a_idx, al, b, bl })
}

/// The queue a page written in `outdir` links back to on the disk: a
/// batch's `index.html`, one level up from its `recordings/`. (An `analyze`
/// directory has none on the disk; `proctor review` serves one.)
fn index_beside(outdir: &Path) -> Option<String> {
    outdir.file_name().is_some_and(|n| n == "recordings").then(|| "../index.html".to_string())
}

/// The name of a recording's review page.
pub fn file_name(recording: &str) -> String {
    crate::records::OutputFile::ReviewPage.name(recording)
}

/// The analysis's evidence pictures of events, by media time, for [`render`].
pub fn event_pictures(a: &Analysis) -> Vec<(f64, Vec<u8>)> {
    a.evidence.iter().filter(|p| p.subject == Subject::Event).map(|p| (p.t_s, p.jpeg.clone())).collect()
}

/// Write the review page of `a` to `path` (a temporary place) for a page
/// that will live in `outdir`. The recording is referenced relative to
/// `outdir`; the verdicts already given on this recording (in the desk
/// directory, [`crate::review::desk_dir`]) are embedded.
pub fn write_page(a: &Analysis, path: &Path, outdir: &Path, with_report: bool) -> Result<()> {
    // the verdicts on this analysis's events (not those on events it no longer raises)
    let mut judgeable = crate::review::decisions::Judgeable::default();
    judgeable.recordings.insert(
        a.recording.clone(),
        (a.sha256.clone(), crate::review::decisions::event_set(&a.events)),
    );
    let decisions = crate::review::decisions::read_latest(&crate::review::desk_dir(outdir))
        .map(|all| crate::review::decisions::split_orphans(all.into_iter().filter(|d| d.recording == a.recording).collect(), &judgeable).0)
        .unwrap_or_default();
    let ctx = PageContext {
        candidate: a.candidate.clone(),
        video_src: a.info.path.exists().then(|| crate::review::relative_url(outdir, &a.info.path)).flatten(),
        decisions,
        index: index_beside(outdir),
        report: with_report.then(|| crate::review::encode_segment(&crate::records::OutputFile::Report.name(&a.recording))),
    };
    let html = render(a, &event_pictures(a), &ctx);
    crate::output::write_bytes(path, html.as_bytes()).map_err(|e| Error::new(path, ErrorKind::Output(e.kind.to_string())))
}
