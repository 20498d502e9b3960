//! One recording, end to end: decode → detect → observations → events →
//! score. Writing the files is in [`crate::save`].

use std::path::Path;
use std::time::Instant;

use crate::config::Config;
use crate::decode::{self};
use crate::detect::Models;
use crate::error::{Error, ErrorKind, Result};
use crate::observation::Observation;
use crate::progress::Progress;

mod objects;
mod segments;

pub use objects::observe_picture;
use segments::{analyze_video, joined};
pub use crate::ids::sha256_file;
pub use crate::records::{Analysis, AudioSummary, DecodeSummary, VoiceEnrolmentSummary};

/// What a run needs besides the file: configuration, detectors, threads.
pub struct Settings {
    pub config: Config,
    pub models: Models,
    /// Worker threads, each analysing one segment of frames at a time (the
    /// decoder runs on a thread of its own).
    pub threads: usize,
}

/// The recording id of a path given on its own: its file name without the
/// extension (the rule is in [`crate::ids`]).
pub fn recording_id(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "recording".into());
    crate::ids::id_of(&name)
}

/// Analyse one recording (the candidate enrolled from the session).
pub fn analyze(path: &Path, settings: &Settings, progress: &dyn Progress) -> Result<Analysis> {
    analyze_with(path, settings, None, progress)
}

/// Analyse one recording; faces are compared with `reference` when given.
pub fn analyze_with(path: &Path, settings: &Settings, reference: Option<&crate::identity::Reference>, progress: &dyn Progress) -> Result<Analysis> {
    analyze_keeping_in(path, settings, reference, progress, Some(&std::env::temp_dir()))
}

/// [`analyze`] for callers that render no report (`proctor eval`): the
/// evidence pictures are not kept.
pub fn analyze_without_pictures(path: &Path, settings: &Settings, progress: &dyn Progress) -> Result<Analysis> {
    analyze_keeping_in(path, settings, None, progress, None)
}

/// [`analyze_with`], the evidence pictures kept in a temporary file in
/// `evidence_dir` (not kept without one).
pub(crate) fn analyze_keeping_in(
    path: &Path,
    settings: &Settings,
    reference: Option<&crate::identity::Reference>,
    progress: &dyn Progress,
    evidence_dir: Option<&Path>,
) -> Result<Analysis> {
    let started = Instant::now();
    let cfg = &settings.config;
    // the file as it is before anything is read: compared again at the end
    let stamp = decode::probe::FileStamp::of(path)?;
    let info = decode::probe(path)?;
    // pictures are wanted unless there is nowhere to keep them; kept during the
    // pass only where that costs less CPU than decoding them again after it
    let want_pictures = evidence_dir.is_some();
    let evidence_dir = evidence_dir.filter(|_| crate::evidence::keeping_pays(&info));
    let evidence = evidence_dir.map(|d| crate::evidence::EvidenceStore::create_in(d).map_err(|e| format!("{}: {e}", d.display())));
    let fps = cfg.analysis.fps;
    let times = decode::sample_times(info.duration_s, fps);
    progress.start(info.duration_s);

    // The audio and the file's hash are read on threads of their own beside
    // the video pipeline.
    let (video, audio, sha) = std::thread::scope(|s| {
        let audio = s.spawn(|| if cfg.analysis.audio { crate::audio::analyze_audio(&info, settings.models.speech.as_ref(), settings.models.speaker.as_ref()) } else { Ok(None) });
        let sha = s.spawn(|| sha256_file(path));
        let video = analyze_video(&info, &times, settings, evidence.as_ref().and_then(|e| e.as_ref().ok()), progress);
        (video, joined(audio), joined(sha))
    });
    progress.finish();

    // a file truncated, rewritten or replaced meanwhile: what was decoded
    // and what was hashed are not (both) the file, so nothing is made of it
    let now = decode::probe::FileStamp::of(path)?;
    if now != stamp {
        return Err(Error::new(path, ErrorKind::Changed(stamp.change(&now))));
    }
    let sha256 = sha?;
    let mut warnings = Vec::new();
    if let Some(why) = evidence.as_ref().and_then(|e| e.as_ref().map_or_else(|why| Some(why.clone()), |s| s.error())) {
        warnings.push(format!("the evidence pictures could not be kept during the analysis ({why}): they were decoded again after it"));
    }
    let audio = match audio {
        Ok(a) => a,
        Err(e) => {
            warnings.push(format!("audio could not be decoded: {}", e.kind));
            None
        }
    };
    let (mut observations, stats) = video?;
    if let Some(a) = &audio {
        a.attach_levels(&mut observations, cfg.analysis.audio_window_s);
        a.attach_speech(&mut observations, cfg.analysis.audio_window_s);
        if let Some(e) = a.speech_error() {
            warnings.push(format!("speech detection failed, voices were not checked: {e}"));
        }
        warnings.extend(a.notes(info.duration_s));
    }
    let speech_ran = audio.as_ref().is_some_and(|a| a.speech_checked());
    crate::observation::mouth_motion(&mut observations, cfg.events.face_min_score as f32);
    let mut identity_info = crate::identity::IdentityInfo { reference: reference.map(|r| r.info()), ..Default::default() };
    let identity = match &settings.models.identity {
        None => None,
        Some(_) => {
            use crate::identity::{attach_distances, Compared};
            let e = &cfg.events;
            match attach_distances(&mut observations, reference.map(|r| &r.embedding), e) {
                Some(Compared::Reference) => Some(true),
                Some(Compared::Enrolled(face, identities)) => {
                    identity_info.identities = identities;
                    if let Some([a, b]) = face.from_s.filter(|s| s[0] > e.identity_opening_s) {
                        warnings.push(format!(
                            "no usable face (alone, frontal, large enough) in the first {} s to enrol as the candidate: \
                             the candidate was enrolled from the faces at {a:.1}–{b:.1} s",
                            e.identity_opening_s
                        ));
                    }
                    identity_info.enrolled = Some(face);
                    Some(false)
                }
                None => {
                    warnings.push("no face was seen alone and frontal long enough to enrol as the candidate: candidate_changed was not checked".into());
                    None
                }
            }
        }
    };
    for o in &mut observations {
        o.faces_described = !o.embeddings.is_empty();
    }
    let voice_enrolment = if speech_ran { whose_voice(audio.as_ref(), &mut observations, cfg, &mut warnings) } else { None };

    if info.truncated {
        warnings.push(match info.header_duration_s {
            Some(h) if h > info.duration_s + 1.0 => format!(
                "the file looks truncated: its header says {:.1} s but only {:.1} s of video could be read",
                h, info.duration_s
            ),
            _ => format!("the file looks truncated or damaged after {:.1} s of video", info.duration_s),
        });
    }
    if let Some(note) = &info.video_stream_note {
        warnings.push(note.clone());
    }
    if info.stray_packets > 0 {
        warnings.push(format!(
            "{} video packet{} with timestamps far from the rest of the stream {} ignored",
            info.stray_packets,
            if info.stray_packets == 1 { "" } else { "s" },
            if info.stray_packets == 1 { "was" } else { "were" }
        ));
    }
    if stats.corrupt_packets > 0 {
        warnings.push(format!("{} damaged video packets were skipped", stats.corrupt_packets));
    }
    if settings.models.faces.is_none() {
        warnings.push("no face models loaded: face, pose, gaze and eye events were not checked".into());
    }
    if settings.models.objects.is_none() {
        warnings.push("no object model loaded: phone, book, device and person events were not checked".into());
    }

    let checked = crate::events::checked_kinds_with_identity(
        settings.models.faces.is_some(),
        settings.models.objects.is_some(),
        audio.is_some(),
        speech_ran && settings.models.faces.is_some(),
        identity,
    );
    if !cfg.analysis.audio {
        warnings.push("audio analysis is off (analysis.audio = false): loud_audio and voices were not checked".into());
    } else if audio.is_none() {
        warnings.push("the recording has no audio stream: loud_audio and voices were not checked".into());
    }
    let audio_summary = AudioSummary {
        present: audio.is_some(),
        duration_s: audio.as_ref().map_or(0.0, |a| a.duration_s()),
        max_db: observations.iter().filter_map(|o| o.audio_db).reduce(f32::max),
        voice_segments: audio.as_ref().filter(|a| a.voices_checked()).map(|a| a.voice_segments().len()),
        voice_enrolment,
    };
    let mut a = Analysis {
        recording: recording_id(path),
        candidate: None,
        analysed_at: crate::clock::now_rfc3339(),
        info,
        sha256,
        observations,
        // derived from the observations below, as any saved analysis's can be again
        events: Vec::new(),
        baseline: Default::default(),
        score: crate::score::score(&[], &cfg.policy),
        audio: audio_summary,
        stats,
        elapsed_s: started.elapsed().as_secs_f64(),
        warnings,
        config: cfg.clone(),
        models: settings.models.provenance.clone(),
        checked,
        identity: identity_info,
        evidence: Vec::new(),
    };
    crate::rules::apply(&mut a);
    if want_pictures {
        let store = evidence.as_ref().and_then(|e| e.as_ref().ok());
        a.evidence = crate::evidence::collect(store, &a, reference.map(|r| r.path.as_path()));
    }
    Ok(a)
}

/// Whose voice: enrol the candidate's voice from the speech heard while their lips moved,
/// give each frame its segment's similarity to it, then mark the speech that the picture
/// and the voice say is another's ([`crate::observation::other_voice`]; the picture alone
/// when no voice could be enrolled, with a warning saying why).
fn whose_voice(
    audio: Option<&crate::audio::AudioTrack>,
    observations: &mut [Observation],
    cfg: &Config,
    warnings: &mut Vec<String>,
) -> Option<VoiceEnrolmentSummary> {
    use crate::observation::NoEnrolment;
    let mut enrolled = None;
    if let Some(a) = audio.filter(|a| a.voices_checked()) {
        let segments = a.voice_segments();
        match crate::observation::enrol_voice(observations, segments, &cfg.events) {
            Ok(v) => {
                crate::observation::voice_similarity(observations, segments, &v.embedding, cfg.analysis.audio_window_s);
                enrolled = Some(VoiceEnrolmentSummary { partials: v.partials, seconds: v.seconds, spans: v.spans.into_iter().take(20).collect() });
            }
            Err(_) if segments.is_empty() => {}
            Err(NoEnrolment::NotSeenTalking) => warnings.push(
                "the candidate was not seen talking (speech while their lips moved), so their voice could not be enrolled: voices was judged from the picture alone".into(),
            ),
            Err(NoEnrolment::NoDominantVoice) => warnings.push(
                "the speech heard while the candidate's lips moved was in several voices, none of them most of the time, so their voice could not be enrolled: voices was judged from the picture alone".into(),
            ),
        }
    } else if let Some(e) = audio.and_then(|a| a.speaker_error()) {
        warnings.push(format!("speaker embedding failed, voices was judged from the picture alone: {e}"));
    }
    crate::observation::other_voice(observations, &cfg.events, enrolled.is_some());
    enrolled
}
