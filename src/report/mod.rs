//! The PDF report, compiled with Typst from an embedded template and the
//! fonts typst-assets ships (nothing is read from the system except an
//! optional CJK fallback font, so names in any script render).
//!
//! The report renders an [`Analysis`] and nothing else: it does not decode,
//! score or read any file. Its pictures are the analysis's evidence
//! pictures; its score is the analysis's score (`proctor report` re-scores
//! under another policy before rendering, and says so in the warnings).

use std::sync::OnceLock;

use serde::Serialize;
use typst::foundations::{Bytes, Dict, IntoValue, Value};
use typst_as_lib::TypstEngine;

use crate::config::{Config, Policy};
use crate::kinds::EventKind;
use crate::records::{Analysis, Baseline, Event, IdentityInfo, MediaInfo, Observation, Provenance, Subject};
use crate::score::severity;

static TEMPLATE: &str = include_str!("template.typ");

/// Most events listed (with thumbnails) in the table; all are in the timeline.
pub const MAX_TABLE_EVENTS: usize = 200;
/// Events given an evidence thumbnail.
pub const MAX_THUMBNAILS: usize = 24;
/// Timeline figure: at most this many bars (the longest are kept).
pub const MAX_TIMELINE_BARS: usize = 3000;

#[derive(Debug, Clone, Serialize)]
pub struct KindLine {
    pub kind: EventKind,
    pub count: usize,
    pub total_s: f64,
    pub deduction: f64,
    pub rule: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventLine {
    pub kind: EventKind,
    pub start: f64,
    pub end: f64,
    pub confidence: f32,
    pub detail: String,
    pub evidence_t: f64,
    /// Index into the thumbnails, if this event has one.
    pub image: Option<usize>,
    /// For `identity` and `candidate_changed`: the face seen at the evidence
    /// frame, shown beside the candidate's.
    pub other_face: Option<OtherFace>,
    /// Whether the event is about whose face it is (a kind that compares
    /// faces): the report shows the candidate's face beside the other.
    pub faces: bool,
}

/// The settings the rules ran with, as the appendix prints them: the shared
/// `[events]` and every kind's `[rules.<kind>]`, in the order they are defined.
fn thresholds_toml(cfg: &crate::config::Config) -> String {
    #[derive(Serialize)]
    struct Thresholds<'a> {
        events: &'a crate::config::EventConfig,
        rules: &'a crate::kinds::Rules,
    }
    toml::to_string_pretty(&Thresholds { events: &cfg.events, rules: &cfg.rules }).unwrap_or_default()
}

/// The other person's face of an identity event, beside the candidate's.
#[derive(Debug, Clone, Serialize)]
pub struct OtherFace {
    /// Index into the images.
    pub image: usize,
    /// Media time of the frame it was cut from.
    pub t: f64,
    /// What told it from the candidate's, in words ("distance 0.82 to the
    /// enrolled candidate").
    pub how: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    pub kind: EventKind,
    pub start: f64,
    pub end: f64,
}

pub use crate::signals::{Signal, MAX_SIGNAL_POINTS};

/// The signals the report plots (see [`crate::signals`]), at most
/// [`MAX_SIGNAL_POINTS`] points each.
pub fn signals(obs: &[Observation], baseline: &Baseline, cfg: &Config) -> Vec<Signal> {
    crate::signals::series(obs, baseline, cfg, MAX_SIGNAL_POINTS)
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyLine {
    pub kind: EventKind,
    pub per_event: f64,
    pub cap: Option<f64>,
}

/// Everything the template shows, as plain data.
#[derive(Debug, Clone, Serialize)]
pub struct ReportInput {
    pub tool_version: &'static str,
    pub candidate: String,
    pub recording: String,
    pub file: String,
    pub sha256: String,
    pub analysed_at: String,
    pub duration_s: f64,
    pub frames_analysed: usize,
    pub fps: f64,
    pub media: String,
    pub score: f64,
    pub band: &'static str,
    pub total_deduction: f64,
    pub focus_lost: usize,
    pub kinds: Vec<KindLine>,
    pub timeline_kinds: Vec<EventKind>,
    pub timeline: Vec<Bar>,
    /// Stretches with no face in view of at least `rules.no_face.absence_mark_s`
    /// (drawn on the timeline whether or not they are events).
    pub absences: Vec<[f64; 2]>,
    pub absence_mark_s: f64,
    pub signals: Vec<Signal>,
    pub events: Vec<EventLine>,
    pub events_total: usize,
    pub policy: Vec<PolicyLine>,
    pub low_risk_min: f64,
    pub medium_risk_min: f64,
    pub thresholds_toml: String,
    pub baseline: Option<Baseline>,
    pub models: Vec<Provenance>,
    pub warnings: Vec<String>,
    /// Kinds whose detector did not run: not checked, which is not "none found".
    pub not_checked: Vec<EventKind>,
    /// Whom faces were compared with (where the candidate's face picture
    /// comes from); not given to the template as such.
    #[serde(skip)]
    pub identity: IdentityInfo,
    /// The candidate's face, shown beside the evidence of `identity` and
    /// `candidate_changed` events: the reference photo's face or a frame
    /// where the candidate was enrolled.
    pub candidate_face: Option<CandidateFace>,
    /// The recording's review page, as a URL relative to the report (it is
    /// beside it), so the link still works when the folder is moved.
    pub review_page: Option<String>,
    /// Each kind's colour ([`crate::kinds::colour`]: the page's and the index's too).
    pub kind_colours: std::collections::BTreeMap<EventKind, &'static str>,
}

/// The picture of the candidate's face in the report.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateFace {
    /// What it is: "reference photo" or "enrolled from the session".
    pub label: String,
    /// Media time of the frame it was cut from (none for the reference photo).
    pub t: Option<f64>,
    /// Index into the images.
    pub image: usize,
}

impl ReportInput {
    /// Everything the template shows of `a`.
    pub fn from_analysis(a: &Analysis) -> ReportInput {
        let cfg = &a.config;
        let events = &a.events;
        let s = &a.score;
        let kinds = s
            .lines
            .iter()
            .map(|l| KindLine {
                kind: l.kind,
                count: l.count,
                total_s: l.total_s,
                deduction: l.deduction,
                rule: l.kind.rule(cfg),
            })
            .collect();
        // the table: the most severe events, shown in time order
        let mut chosen: Vec<&Event> = events.iter().collect();
        chosen.sort_by(|x, y| severity(y, &cfg.policy).total_cmp(&severity(x, &cfg.policy)));
        chosen.truncate(MAX_TABLE_EVENTS);
        chosen.sort_by(|x, y| x.start_s.total_cmp(&y.start_s));
        let lines = chosen
            .iter()
            .map(|e| EventLine {
                kind: e.kind,
                start: e.start_s,
                end: e.end_s,
                confidence: e.confidence,
                detail: e.detail.clone(),
                evidence_t: e.evidence_t,
                image: None,
                other_face: None,
                faces: matches!(crate::kinds::needs(e.kind), crate::kinds::Needs::Reference | crate::kinds::Needs::Enrolment),
            })
            .collect();
        let mut bars: Vec<Bar> = events.iter().map(|e| Bar { kind: e.kind, start: e.start_s, end: e.end_s }).collect();
        if bars.len() > MAX_TIMELINE_BARS {
            bars.sort_by(|x, y| (y.end - y.start).total_cmp(&(x.end - x.start)));
            bars.truncate(MAX_TIMELINE_BARS);
        }
        let timeline_kinds = EventKind::ALL.into_iter().filter(|k| events.iter().any(|e| e.kind == *k)).collect();
        let focus_lost = events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::NoFace | EventKind::LookingAway | EventKind::GazeAway))
            .count();
        ReportInput {
            tool_version: env!("CARGO_PKG_VERSION"),
            candidate: crate::text::visible(a.candidate.as_deref().filter(|c| !c.trim().is_empty()).unwrap_or("(not given)")),
            recording: a.recording.clone(),
            file: crate::text::visible(&a.info.path.display().to_string()),
            sha256: a.sha256.clone(),
            analysed_at: a.analysed_at.clone(),
            duration_s: a.info.duration_s,
            frames_analysed: a.observations.len(),
            fps: cfg.analysis.fps,
            media: media_line(&a.info),
            score: s.value,
            band: s.band.as_str(),
            total_deduction: s.total_deduction(),
            focus_lost,
            kinds,
            timeline_kinds,
            timeline: bars,
            absences: crate::events::absences(&a.observations, cfg.analysis.fps, cfg),
            absence_mark_s: cfg.rules.no_face.absence_mark_s,
            signals: signals(&a.observations, &a.baseline, cfg),
            events: lines,
            events_total: events.len(),
            policy: policy_lines(&cfg.policy),
            low_risk_min: cfg.policy.low_risk_min,
            medium_risk_min: cfg.policy.medium_risk_min,
            thresholds_toml: thresholds_toml(cfg),
            baseline: Some(a.baseline),
            models: a.models.clone(),
            kind_colours: EventKind::ALL.into_iter().map(|k| (k, crate::kinds::colour(k))).collect(),
            not_checked: EventKind::ALL.into_iter().filter(|k| !a.checked.contains(k) && !events.iter().any(|e| e.kind == *k)).collect(),
            warnings: a.warnings.clone(),
            identity: a.identity.clone(),
            candidate_face: None,
            review_page: None,
        }
    }
}

/// The report's media line: codec, size, frame rate, audio and rotation.
pub fn media_line(info: &MediaInfo) -> String {
    let mut s = format!(
        "{} {}x{}, {:.1} fps{}, {}",
        info.video_codec,
        info.width,
        info.height,
        info.avg_fps,
        if info.variable_frame_rate { " (variable)" } else { "" },
        info.audio_codec.as_deref().map_or("no audio".to_string(), |a| format!("{a} audio")),
    );
    if info.rotation != 0 {
        s.push_str(&format!(", rotated {}°", info.rotation));
    }
    s
}

fn policy_lines(p: &Policy) -> Vec<PolicyLine> {
    EventKind::ALL
        .into_iter()
        .map(|k| PolicyLine { kind: k, per_event: p.deductions.get(&k).copied().unwrap_or(0.0), cap: p.caps.get(&k).copied() })
        .collect()
}

fn engine() -> &'static TypstEngine<typst_as_lib::TypstTemplateMainFile> {
    static ENGINE: OnceLock<TypstEngine<typst_as_lib::TypstTemplateMainFile>> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut fonts: Vec<Vec<u8>> = typst_assets::fonts().map(|f| f.to_vec()).collect();
        // Optional system fallbacks for CJK names and for emoji (in names and
        // notes); the report works without them, showing empty boxes instead.
        for p in [
            "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
            "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
            "/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf",
        ] {
            if let Ok(b) = std::fs::read(p) {
                fonts.push(b);
            }
        }
        TypstEngine::builder().main_file(TEMPLATE).fonts(fonts).build()
    })
}

/// The listed events given a thumbnail: the most severe (by deduction per
/// event), at most [`MAX_THUMBNAILS`], as indices into `input.events`.
fn thumbnail_events(input: &ReportInput) -> Vec<usize> {
    let mut order: Vec<usize> = (0..input.events.len()).collect();
    order.sort_by(|&a, &b| {
        let sev = |i: usize| input.policy.iter().find(|p| p.kind == input.events[i].kind).map_or(0.0, |p| p.per_event);
        sev(b).total_cmp(&sev(a)).then(a.cmp(&b))
    });
    order.truncate(MAX_THUMBNAILS);
    order
}

/// Evidence thumbnails for the listed events, from the analysis's evidence
/// pictures (the frame at each event's evidence time, boxes drawn). Returns
/// the JPEGs and sets each event line's `image` index.
fn thumbnails(input: &mut ReportInput, a: &Analysis) -> Vec<Vec<u8>> {
    let mut jpegs = Vec::new();
    for i in thumbnail_events(input) {
        let Some(p) = a.picture_at(input.events[i].evidence_t) else { continue };
        input.events[i].image = Some(jpegs.len());
        jpegs.push(p.jpeg.clone());
    }
    jpegs
}

/// Whether the candidate's face is shown: an `identity` or
/// `candidate_changed` event is listed.
fn shows_candidate_face(input: &ReportInput) -> bool {
    input.events.iter().any(|e| matches!(e.kind, EventKind::Identity | EventKind::CandidateChanged))
}

/// Compile the report to PDF bytes.
pub fn render_pdf(input: &ReportInput, images: Vec<Vec<u8>>) -> Result<Vec<u8>, String> {
    let mut dict = Dict::new();
    let json = serde_json::to_string(input).map_err(|e| e.to_string())?;
    dict.insert("data".into(), json.into_value());
    let imgs: Vec<Value> = images.into_iter().map(|b| Value::Bytes(Bytes::new(b))).collect();
    dict.insert("images".into(), imgs.into_value());
    let compiled = engine().compile_with_input(dict);
    let doc = compiled.output.map_err(|e| format!("report template: {e}"))?;
    typst_pdf::pdf(&doc, &typst_pdf::PdfOptions::default())
        .map_err(|e| format!("PDF export: {}", e.iter().map(|d| d.message.to_string()).collect::<Vec<_>>().join("; ")))
}

/// The report of `a`, as PDF bytes.
pub fn render(a: &Analysis) -> Result<Vec<u8>, String> {
    render_linked(a, None)
}

/// [`render`], linking to the recording's review page at `review_page` (a
/// URL relative to the report).
pub fn render_linked(a: &Analysis, review_page: Option<String>) -> Result<Vec<u8>, String> {
    let mut input = ReportInput::from_analysis(a);
    input.review_page = review_page;
    let mut images = thumbnails(&mut input, a);
    if shows_candidate_face(&input) {
        if let Some(p) = a.candidate_face() {
            let (label, t) = match p.subject {
                Subject::ReferenceFace => ("reference photo".to_string(), None),
                _ => ("enrolled from the session".to_string(), Some(p.t_s)),
            };
            input.candidate_face = Some(CandidateFace { label, t, image: images.len() });
            images.push(p.jpeg.clone());
        }
    }
    other_faces(&mut input, a, &mut images);
    render_pdf(&input, images)
}

/// The other person's face beside each listed `identity` and
/// `candidate_changed` event, from the analysis's evidence pictures, with
/// the distance that told it apart (the frame's, as the analysis measured it).
fn other_faces(input: &mut ReportInput, a: &Analysis, images: &mut Vec<Vec<u8>>) {
    let thr = a.config.events.identity_max_distance;
    for line in input.events.iter_mut().filter(|l| matches!(l.kind, EventKind::Identity | EventKind::CandidateChanged)) {
        let Some(p) = a.other_face_at(line.evidence_t) else { continue };
        let o = a.observations.iter().find(|o| o.t == line.evidence_t);
        let how = match (line.kind, o) {
            (EventKind::Identity, Some(o)) => o.reference_distance.map(|d| format!("distance {d:.2} to the reference photo (same person below {thr})")),
            (_, Some(o)) => match (o.identity_distance, o.cluster_distance.filter(|d| *d > 0.0)) {
                (Some(d), Some(c)) if d <= thr as f32 => {
                    Some(format!("distance {d:.2} to the enrolled candidate; by clustering, another identity {c:.2} from the first seen"))
                }
                (Some(d), _) => Some(format!("distance {d:.2} to the enrolled candidate (same person below {thr})")),
                (None, Some(c)) => Some(format!("by clustering, another identity {c:.2} from the first seen")),
                (None, None) => None,
            },
            _ => None,
        };
        line.other_face = Some(OtherFace { image: images.len(), t: p.t_s, how: how.unwrap_or_default() });
        images.push(p.jpeg.clone());
    }
}
