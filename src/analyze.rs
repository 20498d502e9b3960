//! One recording, end to end: decode → detect → observations → events →
//! score. Writing the files is in [`crate::write`].

use std::io::Read;
use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::config::Config;
use crate::decode::{self, Frame, MediaInfo};
use crate::detect::Models;
use crate::error::{Error, ErrorKind, Result};
use crate::events::{detect_events, Baseline, Event};
use crate::observation::{mean_luma, ObjectObs, Observation};
use crate::progress::Progress;
use crate::score::{score, Score};

/// How frames are batched through the detectors within a chunk.
pub const BATCH: usize = 8;

/// What a run needs besides the file: configuration, detectors, threads.
pub struct Settings {
    pub config: Config,
    pub models: Models,
    /// Worker threads for chunks (and the networks inside them).
    pub threads: usize,
}

/// Everything learned about one recording.
pub struct Analysis {
    /// Recording id: the file name without its extension.
    pub recording: String,
    pub info: MediaInfo,
    pub sha256: String,
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
    pub models: Vec<crate::detect::Provenance>,
    /// The kinds of event whose detector ran; the others were not checked
    /// (reported as null, never as 0).
    pub checked: std::collections::BTreeSet<crate::events::EventKind>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AudioSummary {
    pub present: bool,
    pub duration_s: f64,
    pub max_db: Option<f32>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DecodeSummary {
    pub chunks: usize,
    pub frames_decoded: u64,
    pub frames_converted: u64,
    pub corrupt_packets: u64,
}

/// The recording id of a path given on its own: its file name without the
/// extension (the rule is in [`crate::ids`]).
pub fn recording_id(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "recording".into());
    crate::ids::id_of(&name)
}

/// sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::Digest;
    let mut f = std::fs::File::open(path).map_err(|e| Error::new(path, ErrorKind::Unreadable(e)))?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::new(path, ErrorKind::Unreadable(e)))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Analyse one recording.
pub fn analyze(path: &Path, settings: &Settings, progress: &dyn Progress) -> Result<Analysis> {
    let started = Instant::now();
    let cfg = &settings.config;
    let info = decode::probe(path)?;
    let fps = cfg.analysis.fps;
    let times = decode::sample_times(info.duration_s, fps);
    let chunks = decode::plan_chunks(times.len(), decode::chunk_count(info.duration_s, settings.threads));
    // every k-th analysed frame also goes through the object detector
    let object_every = (fps / cfg.analysis.object_fps).round().max(1.0) as usize;
    progress.start(info.duration_s);

    let run = || -> Result<_> {
        let ((video, audio), sha) = rayon::join(
            || {
                rayon::join(
                    || {
                        chunks
                            .par_iter()
                            .map(|r| analyze_chunk(&info, &times[r.clone()], r.start, object_every, settings, progress))
                            .collect::<Vec<_>>()
                    },
                    || if cfg.analysis.audio { crate::audio::analyze_audio(&info, settings.models.speech.as_ref()) } else { Ok(None) },
                )
            },
            || sha256_file(path),
        );
        Ok((video, audio, sha))
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(settings.threads.max(1))
        .build()
        .map_err(|e| Error::new(path, ErrorKind::Decode(format!("thread pool: {e}"))))?;
    let (video, audio, sha) = pool.install(run)?;
    progress.finish();

    let sha256 = sha?;
    let mut warnings = Vec::new();
    let audio = match audio {
        Ok(a) => a,
        Err(e) => {
            warnings.push(format!("audio could not be decoded: {}", e.kind));
            None
        }
    };
    let mut observations = Vec::with_capacity(times.len());
    let mut stats = DecodeSummary { chunks: chunks.len(), ..Default::default() };
    for part in video {
        let (obs, s) = part?;
        observations.extend(obs);
        stats.frames_decoded += s.decoded;
        stats.frames_converted += s.converted;
        stats.corrupt_packets += s.corrupt_packets;
    }
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
    let identity = match &settings.models.identity {
        None => None,
        Some(_) => {
            let reference = settings.models.reference.as_ref();
            if crate::identity::attach_distances(&mut observations, reference) {
                Some(reference.is_some())
            } else {
                warnings.push("no face was seen in most of the recording to enrol as the candidate: candidate_changed was not checked".into());
                None
            }
        }
    };
    if speech_ran {
        crate::observation::other_voice(&mut observations, &cfg.events);
    }

    if info.truncated {
        warnings.push(match info.header_duration_s {
            Some(h) if h > info.duration_s + 1.0 => format!(
                "the file looks truncated: its header says {:.1} s but only {:.1} s of video could be read",
                h, info.duration_s
            ),
            _ => format!("the file looks truncated or damaged after {:.1} s of video", info.duration_s),
        });
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
    let folded = detect_events(&observations, fps, cfg);
    let score = score(&folded.events, &cfg.policy);
    let audio_summary = AudioSummary {
        present: audio.is_some(),
        duration_s: audio.as_ref().map_or(0.0, |a| a.duration_s()),
        max_db: observations.iter().filter_map(|o| o.audio_db).reduce(f32::max),
    };
    Ok(Analysis {
        recording: recording_id(path),
        info,
        sha256,
        observations,
        events: folded.events,
        baseline: folded.baseline,
        score,
        audio: audio_summary,
        stats,
        elapsed_s: started.elapsed().as_secs_f64(),
        warnings,
        config: cfg.clone(),
        models: settings.models.provenance.clone(),
        checked,
    })
}

type ChunkResult = Result<(Vec<Observation>, decode::SampleStats)>;

/// Decode one chunk and run the detectors over it in batches.
fn analyze_chunk(
    info: &MediaInfo,
    times: &[f64],
    first_index: usize,
    object_every: usize,
    settings: &Settings,
    progress: &dyn Progress,
) -> ChunkResult {
    let step = times.get(1).map_or(0.25, |t| t - times[0]);
    let mut out: Vec<Observation> = Vec::with_capacity(times.len());
    let mut batch: Vec<Frame> = Vec::with_capacity(BATCH);
    let mut failure: Option<Error> = None;
    let mut flush = |batch: &mut Vec<Frame>, out: &mut Vec<Observation>| {
        if batch.is_empty() {
            return;
        }
        match detect_batch(batch, object_every, settings) {
            Ok(obs) => out.extend(obs),
            Err(e) => {
                failure.get_or_insert(Error::new(&info.path, ErrorKind::Model(format!("{e:#}"))));
            }
        }
        progress.advance(batch.len() as f64 * step);
        batch.clear();
    };
    let stats = decode::decode_samples(info, times, first_index, settings.config.analysis.max_side, |f| {
        batch.push(f);
        if batch.len() == BATCH {
            flush(&mut batch, &mut out);
        }
    })?;
    flush(&mut batch, &mut out);
    if let Some(e) = failure {
        return Err(e);
    }
    Ok((out, stats))
}

/// Faces and objects in one picture (for `proctor detect`).
pub fn observe_picture(
    img: &image::RgbImage,
    models: &Models,
    cfg: &Config,
) -> anyhow::Result<(Vec<crate::observation::FaceObs>, Vec<ObjectObs>)> {
    let faces = match &models.faces {
        Some(m) => crate::observation::observe_faces(&m.analyze(&[img])?.pop().unwrap_or_default()),
        None => Vec::new(),
    };
    let objects = detect_objects(&[img], models, cfg)?.pop().flatten().unwrap_or_default();
    Ok((faces, objects))
}

/// Objects of the proctoring categories in each picture; `None` per picture
/// when there is no object model.
fn detect_objects(images: &[&image::RgbImage], models: &Models, cfg: &Config) -> anyhow::Result<Vec<Option<Vec<ObjectObs>>>> {
    let Some(model) = &models.objects else { return Ok(vec![None; images.len()]) };
    if images.is_empty() {
        return Ok(Vec::new());
    }
    let oc = &cfg.objects;
    let min = oc.min_score.values().cloned().fold(1.0, f64::min) as f32;
    Ok(model.detect_batch(images, min)?.iter().map(|dets| Some(crate::observation::observe_objects(dets, oc))).collect())
}

/// Observations of one batch of frames.
fn detect_batch(frames: &[Frame], object_every: usize, settings: &Settings) -> anyhow::Result<Vec<Observation>> {
    let images: Vec<&image::RgbImage> = frames.iter().map(|f| f.image.as_ref()).collect();
    let found = match &settings.models.faces {
        Some(m) => Some(m.analyze(&images)?),
        None => None,
    };
    let mut faces: Vec<Option<Vec<crate::observation::FaceObs>>> = match &found {
        Some(f) => f.iter().map(|x| Some(crate::observation::observe_faces(x))).collect(),
        None => vec![None; frames.len()],
    };
    let mut embeddings = match (&settings.models.identity, &found) {
        (Some(e), Some(found)) => embed_lone_faces(e, &images, found, frames, settings)?,
        _ => vec![None; frames.len()],
    };
    let object_idx: Vec<usize> = (0..frames.len()).filter(|&i| frames[i].index % object_every == 0).collect();
    let mut objects: Vec<Option<Vec<ObjectObs>>> = vec![None; frames.len()];
    let imgs: Vec<&image::RgbImage> = object_idx.iter().map(|&i| images[i]).collect();
    for (i, found) in object_idx.iter().zip(detect_objects(&imgs, &settings.models, &settings.config)?) {
        objects[*i] = found;
    }
    Ok(frames
        .iter()
        .enumerate()
        .map(|(i, f)| Observation {
            index: f.index,
            t: f.t,
            pts: f.pts,
            width: f.image.width(),
            height: f.image.height(),
            mean_luma: mean_luma(&f.image),
            audio_db: None,
            faces: faces[i].take(),
            objects: objects[i].take(),
            speech: None,
            mouth_motion: None,
            other_voice: None,
            embedding: embeddings[i].take(),
            identity_distance: None,
            reference_distance: None,
        })
        .collect())
}

/// Face descriptors of the lone face (the only one at or above
/// `face_min_score`, with landmarks) on every `fps / identity_fps`-th frame:
/// aligned on five mesh points (eye centres, nose tip, mouth corners) to
/// dlib's 150x150 chip, all chips of the batch through the network at once.
fn embed_lone_faces(
    embedder: &crate::detect::face_embed::FaceEmbedder,
    images: &[&image::RgbImage],
    found: &[Vec<crate::detect::FaceFound>],
    frames: &[Frame],
    settings: &Settings,
) -> anyhow::Result<Vec<Option<Vec<f32>>>> {
    use crate::detect::face_embed::{align_chip, five_points_from_mesh};
    let a = &settings.config.analysis;
    let every = (a.fps / a.identity_fps.max(1e-6)).round().max(1.0) as usize;
    let min = settings.config.events.face_min_score as f32;
    let mut chips = Vec::new();
    let mut at = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        if f.index % every != 0 {
            continue;
        }
        let counted: Vec<&crate::detect::FaceFound> = found[i].iter().filter(|x| x.score >= min).collect();
        let [lone] = counted.as_slice() else { continue };
        let Some(lm) = &lone.landmarks else { continue };
        let Ok(five) = five_points_from_mesh(&lm.mesh) else { continue };
        if let Ok(chip) = align_chip(images[i], &five) {
            chips.push(chip);
            at.push(i);
        }
    }
    let mut out = vec![None; frames.len()];
    if chips.is_empty() {
        return Ok(out);
    }
    let refs: Vec<&image::RgbImage> = chips.iter().collect();
    for (i, e) in at.into_iter().zip(embedder.embed(&refs)?) {
        out[i] = Some(e.to_vec());
    }
    Ok(out)
}
