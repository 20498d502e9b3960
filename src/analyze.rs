//! One recording, end to end: decode → detect → observations → events →
//! score. Writing the files is in [`crate::save`].

use std::path::Path;
use std::time::Instant;


use crate::config::{Config, Schedule};
use crate::schedule::Thumb;
use crate::decode::{self, Frame, MediaInfo};
use crate::detect::{FaceFound, Models};
use crate::error::{Error, ErrorKind, Result};
use crate::events::detect_events;
use crate::observation::{mean_luma, ObjectObs, Observation};
use crate::progress::Progress;
use crate::score::score;
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
    let folded = detect_events(&observations, fps, cfg);
    let score = score(&folded.events, &cfg.policy);
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
        identity: identity_info,
        evidence: Vec::new(),
    };
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

/// The video pipeline: one decoder reads the file once, start to end, and
/// hands the analysed frames in segments through a bounded channel to
/// `settings.threads` workers. A worker runs every detector on a segment's
/// first frame and decides, frame by frame through the rest, where the face
/// detector and the object detector run (see [`Plan`] and [`detect_segment`]);
/// faces are tracked in between. Decoding and inference overlap; at most
/// `threads` segments wait in the channel, so memory stays flat however long
/// the recording is. Segments are cut at fixed sample indices, and nothing
/// is carried from one segment to the next, so the output does not depend on
/// the number of threads.
fn analyze_video(
    info: &MediaInfo,
    times: &[f64],
    settings: &Settings,
    evidence: Option<&crate::evidence::EvidenceStore>,
    progress: &dyn Progress,
) -> Result<(Vec<Observation>, DecodeSummary)> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Mutex};

    let a = &settings.config.analysis;
    let plan = Plan::of(&settings.config);
    let segment_len = plan.segment_len;
    let step = 1.0 / a.fps;
    let workers = settings.threads.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .map_err(|e| Error::new(&info.path, ErrorKind::Decode(format!("thread pool: {e}"))))?;

    let (tx, rx) = mpsc::sync_channel::<Vec<Frame>>(workers);
    let rx = Mutex::new(rx);
    let failed = AtomicBool::new(false);
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let parts: Mutex<Vec<Vec<Observation>>> = Mutex::new(Vec::with_capacity(times.len() / segment_len + 1));

    let worker = || loop {
        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(segment) = next else { return };
        if failed.load(Ordering::Relaxed) {
            continue; // drain, so the decoder is never left blocked
        }
        // a panic here becomes this recording's error (and the others drain, above)
        let result = crate::output::isolate(&info.path, || {
            let obs = detect_segment(&segment, &plan, settings)
                .map_err(|e| Error::new(&info.path, ErrorKind::Model(format!("{e:#}"))))?;
            // the report's evidence pictures, kept here rather than on the decoder's thread
            if let Some(store) = evidence {
                store.keep_frames(&segment);
            }
            Ok(obs)
        });
        match result {
            Ok(obs) => parts.lock().unwrap_or_else(|e| e.into_inner()).push(obs),
            Err(e) => {
                failed.store(true, Ordering::Relaxed);
                failure.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
            }
        }
        progress.advance(segment.len() as f64 * step);
    };

    let decoded = std::thread::scope(|s| {
        let failed = &failed;
        let decoder = s.spawn(move || {
            let mut segment = Vec::with_capacity(segment_len);
            let stats = decode::decode_samples_while(info, times, 0, a.max_side, |f| {
                segment.push(f);
                if segment.len() == segment_len {
                    let full = std::mem::replace(&mut segment, Vec::with_capacity(segment_len));
                    if tx.send(full).is_err() {
                        return false;
                    }
                }
                !failed.load(Ordering::Relaxed)
            });
            if !segment.is_empty() {
                let _ = tx.send(segment);
            }
            stats // dropping `tx` here ends the workers' loops
        });
        pool.scope(|ps| {
            for _ in 0..workers {
                ps.spawn(|_| worker());
            }
        });
        joined(decoder)
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let stats = decoded?;
    let mut parts = parts.into_inner().unwrap_or_else(|e| e.into_inner());
    parts.sort_by_key(|p| p.first().map_or(0, |o| o.index));
    let observations: Vec<Observation> = parts.into_iter().flatten().collect();
    let summary = DecodeSummary {
        segments: observations.len().div_ceil(segment_len),
        frames_decoded: stats.decoded,
        frames_converted: stats.converted,
        corrupt_packets: stats.corrupt_packets,
    };
    Ok((observations, summary))
}

/// The result of a scoped thread; its panic goes on up to the caller.
fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// Which frames of a segment the detectors may run on.
#[derive(Debug, Clone, Copy)]
struct Plan {
    schedule: Schedule,
    /// Analysed frames per segment: the first frame of each runs every
    /// detector (the clock's period, or the floor of the schedule by changes).
    segment_len: usize,
    /// The face detector's frames: every `face_every`-th analysed frame.
    face_every: usize,
    /// The object detector's frames: every `object_every`-th analysed frame.
    object_every: usize,
    /// Grey levels: see [`crate::config::AnalysisConfig::change_level`].
    change_level: f32,
}

impl Plan {
    fn of(cfg: &Config) -> Plan {
        let a = &cfg.analysis;
        let face_every = (a.fps / a.face_detect_fps).round().max(1.0) as usize;
        let object_every = (a.fps / a.object_fps).round().max(1.0) as usize;
        let segment_len = match a.schedule {
            // as before the schedule by changes: a segment per face detection
            Schedule::Clock => face_every,
            // the floor, a whole number of both detectors' periods
            Schedule::Changes => {
                let both = lcm(face_every, object_every);
                let floor = (a.schedule_floor_s * a.fps).round().max(1.0) as usize;
                floor.div_ceil(both).max(1) * both
            }
        };
        Plan { schedule: a.schedule, segment_len, face_every, object_every, change_level: a.change_level as f32 }
    }

    /// Whether a detector whose frames are every `every`-th runs on frame
    /// `i` of a segment, given how much the part of the picture it looks at
    /// changed since it last ran (`change`, computed only when asked) and
    /// `settle`, set when its last run was for a change: it then runs once
    /// more on its next frame, as the picture settles after the change (a
    /// video encoder sharpens a new picture over a few frames: the first
    /// frame of a change can hide what the next ones show).
    fn runs(&self, i: usize, index: usize, every: usize, settle: &mut bool, change: impl FnOnce() -> f32) -> bool {
        if index % every != 0 {
            return false;
        }
        match self.schedule {
            Schedule::Clock => true,
            Schedule::Changes if i == 0 => true,
            Schedule::Changes if change() > self.change_level => {
                *settle = true;
                true
            }
            Schedule::Changes => std::mem::take(settle),
        }
    }
}

fn lcm(a: usize, b: usize) -> usize {
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    a / gcd(a, b).max(1) * b
}

/// Faces in consecutive frames (oldest first): the detector on the first
/// frame and on the later frames the plan gives it (on the clock, or where the
/// picture outside the faces changed since it last ran: `thumbs`), and each
/// other frame's faces tracked from the frame before; the detector runs again
/// on any frame where tracking loses a face. Frames after one where the
/// detector found nobody count nobody until the detector's next run (an empty
/// room costs one detection per segment, and a face that comes into view is
/// found on the next frame of the detector's rate, by the change it makes).
///
/// Also returns, per frame, whether the faces there are new (tracking lost a
/// face and the detector found some anew: identity describes those frames at
/// once), and whether the detector ran.
fn track_faces(
    model: &dyn crate::detect::FaceAnalyzer,
    images: &[&image::RgbImage],
    indices: &[usize],
    thumbs: &[Thumb],
    plan: &Plan,
) -> anyhow::Result<(Vec<Vec<FaceFound>>, Vec<bool>, Vec<bool>)> {
    let mut out: Vec<Vec<FaceFound>> = Vec::with_capacity(images.len());
    let mut changed = Vec::with_capacity(images.len());
    let mut detected = Vec::with_capacity(images.len());
    // the frame where the detector last ran
    let mut last = 0;
    let mut settle = false;
    for (i, img) in images.iter().enumerate() {
        let scheduled = plan.runs(i, indices[i], plan.face_every, &mut settle, || {
            // the faces where they were at the detector's run and a frame ago
            let boxes: Vec<[f32; 4]> = out[last].iter().chain(out.last().into_iter().flatten()).map(|f| f.bbox).collect();
            thumbs[i].change_since(&thumbs[last], &boxes)
        });
        let tracked = match out.last() {
            _ if scheduled => None,
            Some(previous) if previous.is_empty() => Some(Vec::new()),
            Some(previous) => model.track(img, previous)?,
            None => None,
        };
        let lost = tracked.is_none() && !scheduled && i > 0;
        let faces = match tracked {
            Some(faces) => faces,
            None => {
                last = i;
                model.analyze(&[img])?.pop().unwrap_or_default()
            }
        };
        changed.push(lost && !faces.is_empty());
        detected.push(last == i);
        out.push(faces);
    }
    Ok((out, changed, detected))
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
    let objects = detect_objects(&[img], &[&faces], models, cfg)?.pop().flatten().unwrap_or_default();
    Ok((faces, objects))
}

/// Objects of the proctoring categories in each picture (`faces`: each
/// picture's faces, largest first); `None` per picture when there is no
/// object model.
fn detect_objects(
    images: &[&image::RgbImage],
    faces: &[&[crate::observation::FaceObs]],
    models: &Models,
    cfg: &Config,
) -> anyhow::Result<Vec<Option<Vec<ObjectObs>>>> {
    let Some(model) = &models.objects else { return Ok(vec![None; images.len()]) };
    if images.is_empty() {
        return Ok(Vec::new());
    }
    let oc = &cfg.objects;
    let mut min = oc.min_score.values().cloned().fold(1.0, f64::min) as f32;
    if oc.large_phone_min_area <= 1.0 {
        min = min.min(crate::detect::objects::LARGE_PHONE_FLOOR);
    }
    let mut found = model.detect_batch(images, min)?;
    for (dets, img) in found.iter_mut().zip(images) {
        *dets = crate::detect::objects::join_large_phones(std::mem::take(dets), img.width(), img.height(), oc.large_phone_min_area as f32);
    }
    if oc.face_crop {
        look_near_faces(model.as_ref(), images, faces, &mut found, cfg)?;
    }
    Ok(found.iter().map(|dets| Some(crate::observation::observe_objects(dets, oc))).collect())
}

/// The categories taken from the crop around a face (the rest of what the
/// crop shows is in the whole-frame pass already).
const FACE_CROP_CATEGORIES: [&str; 1] = ["phone"];

/// The second look for held phones (`objects.face_crop`): on each picture with
/// a face, the object detector runs again on a magnified crop around the
/// largest face ([`crate::detect::objects::face_crop`]), in one batch, and the
/// phones it finds there join the picture's detections.
fn look_near_faces(
    model: &dyn crate::detect::ObjectModel,
    images: &[&image::RgbImage],
    faces: &[&[crate::observation::FaceObs]],
    found: &mut [Vec<crate::detect::ObjectDetection>],
    cfg: &Config,
) -> anyhow::Result<()> {
    use crate::detect::objects::{face_crop, merge_crop};
    let min_face = cfg.events.face_min_score as f32;
    let crops: Vec<(usize, [u32; 4])> = images
        .iter()
        .zip(faces)
        .enumerate()
        .filter_map(|(i, (img, f))| {
            let face = f.iter().find(|f| f.score >= min_face)?;
            Some((i, face_crop(face.bbox, img.width(), img.height())?))
        })
        .collect();
    if crops.is_empty() {
        return Ok(());
    }
    let cut: Vec<image::RgbImage> = crops
        .iter()
        .map(|&(i, [x0, y0, x1, y1])| image::imageops::crop_imm(images[i], x0, y0, x1 - x0, y1 - y0).to_image())
        .collect();
    let oc = &cfg.objects;
    let min = FACE_CROP_CATEGORIES.iter().map(|c| oc.min_score_of(c)).fold(1.0, f32::min);
    let wanted = |d: &crate::detect::ObjectDetection| {
        oc.category_of(d.class_name).is_some_and(|c| FACE_CROP_CATEGORIES.contains(&c))
    };
    let seen = model.detect_batch(&cut.iter().collect::<Vec<_>>(), min)?;
    for (&(i, c), dets) in crops.iter().zip(seen) {
        let full = std::mem::take(&mut found[i]);
        found[i] = merge_crop(full, dets, (c[0], c[1]), wanted, 0.45);
    }
    Ok(())
}

/// Observations of one segment of consecutive frames: faces as
/// [`track_faces`] finds them; objects on the frames of the object rate, the
/// detector running where the plan says (every such frame on the clock; by
/// changes, the first and those where the picture outside the faces changed
/// since its last run) and the other frames of the rate carrying its last
/// run's objects.
fn detect_segment(frames: &[Frame], plan: &Plan, settings: &Settings) -> anyhow::Result<Vec<Observation>> {
    let images: Vec<&image::RgbImage> = frames.iter().map(|f| f.image.as_ref()).collect();
    let indices: Vec<usize> = frames.iter().map(|f| f.index).collect();
    let thumbs: Vec<Thumb> = match plan.schedule {
        Schedule::Changes => images.iter().map(|i| Thumb::of(i)).collect(),
        Schedule::Clock => Vec::new(),
    };
    let (found, changed, faces_detected) = match &settings.models.faces {
        Some(m) => {
            let (found, changed, detected) = track_faces(m.as_ref(), &images, &indices, &thumbs, plan)?;
            (Some(found), changed, detected)
        }
        None => (None, Vec::new(), vec![false; frames.len()]),
    };
    let mut faces: Vec<Option<Vec<crate::observation::FaceObs>>> = match &found {
        Some(f) => f.iter().map(|x| Some(crate::observation::observe_faces(x))).collect(),
        None => vec![None; frames.len()],
    };
    // identity in batches of one face detection's period, as on the clock (the
    // batches, not only the frames, stay as they were: fewer chips in memory at once)
    let mut embeddings = Vec::with_capacity(frames.len());
    match (&settings.models.identity, &found) {
        (Some(e), Some(found)) => {
            for start in (0..frames.len()).step_by(plan.face_every) {
                let end = (start + plan.face_every).min(frames.len());
                let r = start..end;
                embeddings.extend(crate::identity::embed_faces(
                    e,
                    &images[r.clone()],
                    &found[r.clone()],
                    &frames[r.clone()],
                    &changed[r],
                    &settings.config,
                )?);
            }
        }
        _ => embeddings.resize(frames.len(), Vec::new()),
    }
    // the object detector's frames, and for each frame of its rate the frame
    // whose objects it has (itself, or the last one the detector ran on)
    let mut object_idx: Vec<usize> = Vec::new();
    let mut object_from: Vec<Option<usize>> = vec![None; frames.len()];
    if settings.models.objects.is_some() {
        let mut last = 0;
        let mut settle = false;
        for i in 0..frames.len() {
            if indices[i] % plan.object_every != 0 {
                continue;
            }
            let runs = plan.runs(i, indices[i], plan.object_every, &mut settle, || {
                let boxes: Vec<[f32; 4]> = [last, i].iter().flat_map(|&k| faces[k].iter().flatten()).map(|f| f.bbox).collect();
                thumbs[i].change_since(&thumbs[last], &boxes)
            });
            if runs || object_idx.is_empty() {
                last = i;
                object_idx.push(i);
            }
            object_from[i] = Some(last);
        }
    }
    let mut objects: Vec<Option<Vec<ObjectObs>>> = vec![None; frames.len()];
    // one frame at a time: a batch of several would hold all their activations at once
    for &i in &object_idx {
        let seen = faces[i].as_deref().unwrap_or_default();
        objects[i] = detect_objects(&[images[i]], &[seen], &settings.models, &settings.config)?.pop().flatten();
    }
    let objects: Vec<Option<Vec<ObjectObs>>> = object_from.iter().map(|from| from.and_then(|k| objects[k].clone())).collect();
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
            faces: faces[i].take(),
            objects: objects[i].clone(),
            faces_detected: faces_detected[i],
            objects_detected: object_from[i] == Some(i),
            embeddings: std::mem::take(&mut embeddings[i]),
            // the audio, mouth and identity measures are filled in later
            ..Default::default()
        })
        .collect())
}
