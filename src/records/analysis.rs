//! One recording's analysis, whole: what every view renders and what is
//! saved. An [`Analysis`] written by [`crate::save`] and read back by
//! [`crate::load`] is the same value.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{Config, EventConfig, Policy};
use crate::kinds::EventKind;

use super::{Band, Baseline, Event, IdentityInfo, MediaInfo, Observation, Score};

/// Version of the saved outputs: the tables' `schema_version` column and
/// the summary's `schema_version`. 5 added the detections table's keypoints
/// and lip opening of every face, and the evidence table; 6 the frames
/// table's `objects_detected`, `faces_detected` and `cluster_distance`, the
/// evidence table's `other_face` pictures and the summary's `identity.clusters`;
/// 7 the frames table's `faces_described` and each kind's `[rules.<kind>]`
/// section in the summary's configuration; 8 the detections table's `in_hand`, `runner_up` and `runner_up_score`;
/// 9 its `hand` (which hand holds a phone or book).
pub const SCHEMA_VERSION: u32 = 9;
/// Oldest version whose tables hold everything the rules read (objects kept
/// from `objects.keep_min_score`, the frames' `faces_described`): the rules
/// can run again on it under another configuration.
pub const RULES_SINCE: u32 = 7;
/// Oldest version still read.
pub const OLDEST_READABLE: u32 = 1;

/// Where a model's weights came from, for the report and summary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Provenance {
    pub name: String,
    pub package: String,
    pub version: String,
    pub path_in_package: String,
    pub sha256: String,
    pub licence: String,
}

/// Everything learned about one recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// Recording id: the file name without its extension.
    pub recording: String,
    /// The candidate's name, when given.
    pub candidate: Option<String>,
    /// When the analysis finished (RFC 3339, UTC).
    pub analysed_at: String,
    pub info: MediaInfo,
    pub sha256: String,
    /// One per analysed frame. Face descriptors (`embeddings`) are kept in
    /// memory only: they are saved only with `--save-embeddings`, in a table
    /// of their own, and a loaded analysis has none.
    pub observations: Vec<Observation>,
    pub events: Vec<Event>,
    pub baseline: Baseline,
    pub score: Score,
    pub audio: AudioSummary,
    pub stats: DecodeSummary,
    pub elapsed_s: f64,
    pub warnings: Vec<String>,
    /// The configuration the analysis ran with: what the events, score,
    /// summary and report were made under.
    pub config: Config,
    /// The models that looked at the frames.
    pub models: Vec<Provenance>,
    /// The kinds of event whose detector ran; the others were not checked
    /// (reported as null, never as 0).
    pub checked: BTreeSet<EventKind>,
    /// Whom the faces were compared with: the reference photo, or the frame
    /// that shows the candidate enrolled from the session.
    pub identity: IdentityInfo,
    /// The pictures the views show: each listed event's evidence frame with
    /// the boxes drawn, and the candidate's face.
    pub evidence: Vec<EvidencePicture>,
}

impl Analysis {
    /// The analysis as it is saved: without the face descriptors, which are
    /// not part of the saved record (see [`Analysis::observations`]).
    pub fn as_saved(&self) -> Analysis {
        let mut a = self.clone();
        for o in &mut a.observations {
            o.embeddings.clear();
        }
        a
    }

    /// The evidence picture of an event's frame at `t`, if one was kept.
    pub fn picture_at(&self, t: f64) -> Option<&EvidencePicture> {
        self.evidence.iter().find(|p| p.subject == Subject::Event && p.t_s == t)
    }

    /// The picture of the candidate's face, if one was kept.
    pub fn candidate_face(&self) -> Option<&EvidencePicture> {
        self.evidence.iter().find(|p| matches!(p.subject, Subject::ReferenceFace | Subject::EnrolledFace))
    }

    /// The face seen at an `identity` or `candidate_changed` event's evidence
    /// frame `t`, if one was kept.
    pub fn other_face_at(&self, t: f64) -> Option<&EvidencePicture> {
        self.evidence.iter().find(|p| p.subject == Subject::OtherFace && p.t_s == t)
    }
}

/// What an evidence picture shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// An analysed frame that is some event's evidence (`evidence_t`), with
    /// the faces and objects seen on it boxed.
    Event,
    /// The candidate's face cut from the reference photo.
    ReferenceFace,
    /// The candidate's face cut from the frame they were enrolled from.
    EnrolledFace,
    /// The lone face of an `identity` or `candidate_changed` event's
    /// evidence frame (at `t_s`): the person who is not the candidate, shown
    /// beside the candidate's face.
    OtherFace,
}

impl Subject {
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Event => "event",
            Subject::ReferenceFace => "reference_face",
            Subject::EnrolledFace => "enrolled_face",
            Subject::OtherFace => "other_face",
        }
    }

    pub fn parse(s: &str) -> Option<Subject> {
        [Subject::Event, Subject::ReferenceFace, Subject::EnrolledFace, Subject::OtherFace].into_iter().find(|k| k.as_str() == s)
    }
}

/// One picture of the evidence table (`<id>.evidence.parquet`).
#[derive(Debug, Clone, PartialEq)]
pub struct EvidencePicture {
    pub subject: Subject,
    /// Media time of the frame (for a face: of the frame it was cut from;
    /// the reference photo's face has 0).
    pub t_s: f64,
    /// The events whose evidence frame this is (empty for a face).
    pub kinds: Vec<EventKind>,
    pub width: u32,
    pub height: u32,
    pub jpeg: Vec<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AudioSummary {
    pub present: bool,
    pub duration_s: f64,
    pub max_db: Option<f32>,
    /// Speech segments whose voice was embedded (null when the speaker embedding did not run).
    #[serde(default)]
    pub voice_segments: Option<usize>,
    /// The candidate's voice enrolled from the session (null when it could not be: see the
    /// warnings).
    #[serde(default)]
    pub voice_enrolment: Option<VoiceEnrolmentSummary>,
}

/// What the candidate's voice was enrolled from (its embedding is not written).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoiceEnrolmentSummary {
    /// 1.6 s partial utterances.
    pub partials: usize,
    /// Seconds of speech they cover.
    pub seconds: f64,
    /// Where they are, media time (up to 20 stretches), to listen to.
    pub spans: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DecodeSummary {
    /// Segments of frames handed to the workers (one face detection each, at least).
    pub segments: usize,
    pub frames_decoded: u64,
    pub frames_converted: u64,
    pub corrupt_packets: u64,
}

/// The files one recording's analysis writes, `<id>.<ending>` beside each
/// other: the one list of their names that save, load, the review desk's
/// server and its index go by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFile {
    Frames,
    Detections,
    Events,
    Summary,
    Report,
    Evidence,
    /// Only with `--save-embeddings` (biometric data).
    Embeddings,
    /// Unless `--no-review-page`.
    ReviewPage,
}

impl OutputFile {
    pub const ALL: [OutputFile; 8] = [
        OutputFile::Frames,
        OutputFile::Detections,
        OutputFile::Events,
        OutputFile::Summary,
        OutputFile::Report,
        OutputFile::Evidence,
        OutputFile::Embeddings,
        OutputFile::ReviewPage,
    ];

    /// What follows `<id>.` in the file's name.
    pub fn ending(self) -> &'static str {
        match self {
            OutputFile::Frames => "frames.parquet",
            OutputFile::Detections => "detections.parquet",
            OutputFile::Events => "events.parquet",
            OutputFile::Summary => "summary.json",
            OutputFile::Report => "report.pdf",
            OutputFile::Evidence => "evidence.parquet",
            OutputFile::Embeddings => "embeddings.parquet",
            OutputFile::ReviewPage => "review.html",
        }
    }

    /// The file's name for recording `id`.
    pub fn name(self, id: &str) -> String {
        format!("{id}.{}", self.ending())
    }

    /// The file's path for recording `id` in `dir`.
    pub fn path(self, dir: &Path, id: &str) -> PathBuf {
        dir.join(self.name(id))
    }

    /// The recording id and which output a file name is, if it is one.
    pub fn parse(name: &str) -> Option<(&str, OutputFile)> {
        OutputFile::ALL.into_iter().find_map(|f| {
            let id = name.strip_suffix(f.ending())?.strip_suffix('.')?;
            (!id.is_empty()).then_some((id, f))
        })
    }
}

/// Paths of the files written for one recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outputs {
    pub frames: PathBuf,
    pub detections: PathBuf,
    pub events: PathBuf,
    pub summary: PathBuf,
    pub report: PathBuf,
    /// `<id>.evidence.parquet` (absent in outputs of schema 4 and older).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<PathBuf>,
    /// `<id>.embeddings.parquet`, only with `--save-embeddings`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<PathBuf>,
}

impl Outputs {
    pub fn for_recording(outdir: &Path, recording: &str) -> Outputs {
        let p = |f: OutputFile| f.path(outdir, recording);
        Outputs {
            frames: p(OutputFile::Frames),
            detections: p(OutputFile::Detections),
            events: p(OutputFile::Events),
            summary: p(OutputFile::Summary),
            report: p(OutputFile::Report),
            evidence: Some(p(OutputFile::Evidence)),
            embeddings: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KindCount {
    pub count: usize,
    pub total_s: f64,
}

/// Counts and total durations per kind, every kind present so that tables
/// built from many summaries line up: `None` (null) for a kind that was not
/// checked, which is not the same as 0 events.
pub fn counts(events: &[Event], checked: &BTreeSet<EventKind>) -> BTreeMap<EventKind, Option<KindCount>> {
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

/// The machine-readable summary of one recording (`<id>.summary.json`):
/// everything of an [`Analysis`] but its tables and pictures, written and
/// read back as this one type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema_version: u32,
    pub tool: String,
    pub tool_version: String,
    pub recording: String,
    pub path: String,
    pub candidate: Option<String>,
    pub sha256: String,
    pub analysed_at: String,
    pub duration_s: f64,
    pub frames_analysed: usize,
    pub fps: f64,
    #[serde(default)]
    pub object_fps: f64,
    #[serde(default)]
    pub media: MediaInfo,
    #[serde(default)]
    pub audio: AudioSummary,
    #[serde(default)]
    pub decode: DecodeSummary,
    pub score: f64,
    pub band: Band,
    pub deductions: Score,
    /// Per kind: count and total seconds, or null when not checked.
    #[serde(default)]
    pub counts: BTreeMap<EventKind, Option<KindCount>>,
    /// The kinds whose detector ran.
    #[serde(default)]
    pub checked: Vec<EventKind>,
    pub events: usize,
    #[serde(default)]
    pub baseline: Baseline,
    #[serde(default, deserialize_with = "crate::config::events_any_version")]
    pub thresholds: EventConfig,
    #[serde(default)]
    pub policy: Policy,
    /// The whole configuration the analysis ran with.
    #[serde(default, deserialize_with = "crate::config::any_version")]
    pub config: Config,
    #[serde(default)]
    pub models: Vec<Provenance>,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Whom the faces were compared with: the reference photo (path, sha256,
    /// face box) or the frame showing the enrolled candidate.
    #[serde(default)]
    pub identity: IdentityInfo,
    #[serde(default)]
    pub elapsed_s: f64,
    pub outputs: Outputs,
}

impl Summary {
    /// The summary of `a`, whose files are (or will be) at `outputs`.
    pub fn of(a: &Analysis, outputs: &Outputs) -> Summary {
        Summary {
            schema_version: SCHEMA_VERSION,
            tool: "proctor".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            recording: a.recording.clone(),
            path: a.info.path.display().to_string(),
            candidate: a.candidate.clone(),
            sha256: a.sha256.clone(),
            analysed_at: a.analysed_at.clone(),
            duration_s: a.info.duration_s,
            frames_analysed: a.observations.len(),
            fps: a.config.analysis.fps,
            object_fps: a.config.analysis.object_fps,
            media: a.info.clone(),
            audio: a.audio.clone(),
            decode: a.stats.clone(),
            score: a.score.value,
            band: a.score.band,
            deductions: a.score.clone(),
            counts: counts(&a.events, &a.checked),
            checked: a.checked.iter().copied().collect(),
            events: a.events.len(),
            baseline: a.baseline,
            thresholds: a.config.events.clone(),
            policy: a.config.policy.clone(),
            config: a.config.clone(),
            models: a.models.clone(),
            warnings: a.warnings.clone(),
            identity: a.identity.clone(),
            elapsed_s: a.elapsed_s,
            outputs: outputs.clone(),
        }
    }

    /// The analysis this summary describes, with its tables and pictures.
    pub fn into_analysis(self, observations: Vec<Observation>, events: Vec<Event>, evidence: Vec<EvidencePicture>) -> Analysis {
        let mut info = self.media;
        if info.path.as_os_str().is_empty() {
            info.path = PathBuf::from(&self.path);
        }
        Analysis {
            recording: self.recording,
            candidate: self.candidate,
            analysed_at: self.analysed_at,
            info,
            sha256: self.sha256,
            observations,
            events,
            baseline: self.baseline,
            score: self.deductions,
            audio: self.audio,
            stats: self.decode,
            elapsed_s: self.elapsed_s,
            warnings: self.warnings,
            config: self.config,
            models: self.models,
            checked: self.checked.into_iter().collect(),
            identity: self.identity,
            evidence,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_read_back_as_their_id_and_file() {
        for f in OutputFile::ALL {
            for id in ["exam", "alice.smith", "a.summary"] {
                assert_eq!(OutputFile::parse(&f.name(id)), Some((id, f)), "{f:?} of {id}");
            }
        }
        assert_eq!(OutputFile::parse("summary.json"), None);
        assert_eq!(OutputFile::parse(".summary.json"), None);
        assert_eq!(OutputFile::parse("exam.summary.json.tmp-1"), None);
        assert_eq!(OutputFile::parse("examreport.pdf"), None);
        let o = Outputs::for_recording(Path::new("d"), "exam");
        assert_eq!(o.report, OutputFile::Report.path(Path::new("d"), "exam"));
    }
}
