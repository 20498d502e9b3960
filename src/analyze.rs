//! One recording, end to end: decode → detect → observations → events →
//! score. Writing the files is in [`crate::save`].

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;


use crate::config::{Config, Schedule};
use crate::schedule::{change_with_face, Thumb};
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
/// hands the analysed frames, segment by segment, to `settings.threads`
/// workers. A segment goes to a worker when its first frame is decoded, and
/// its frames follow one at a time as they are decoded, so a worker starts on
/// a segment at once rather than when the whole segment is there. A worker
/// runs every detector on a segment's first frame and decides, frame by frame
/// through the rest, where the face detector and the object detector run (see
/// [`Plan`] and [`detect_segment`]); faces are tracked in between. The object
/// detector's runs go to the thread pool as tasks, so a worker with nothing
/// left to do (the last segment of a recording) takes some of another's.
/// Decoding and inference overlap; at most `threads` segments wait for a
/// worker, so memory stays flat however long the recording is. Segments are
/// cut at fixed sample indices, and nothing a worker found is carried from
/// one segment to the next (only the decoded pictures before it are, for
/// the settle after a change: [`Plan::settle_before`]), so the output does
/// not depend on the number of threads.
fn analyze_video(
    info: &MediaInfo,
    times: &[f64],
    settings: &Settings,
    evidence: Option<&crate::evidence::EvidenceStore>,
    progress: &dyn Progress,
) -> Result<(Vec<Observation>, DecodeSummary)> {
    use std::collections::VecDeque;
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

    let (tx, rx) = mpsc::sync_channel::<Feed>(workers);
    let rx = Mutex::new(rx);
    let failed = AtomicBool::new(false);
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let parts: Mutex<Vec<Vec<Observation>>> = Mutex::new(Vec::with_capacity(times.len() / segment_len + 1));

    let worker = || loop {
        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(feed) = next else { return };
        if failed.load(Ordering::Relaxed) {
            continue; // dropped: the decoder's sends to it fail and are ignored
        }
        // a panic here becomes this recording's error (and the others are dropped, above)
        let result = crate::output::isolate(&info.path, || {
            let (obs, frames) = detect_segment(feed, &plan, settings)
                .map_err(|e| Error::new(&info.path, ErrorKind::Model(format!("{e:#}"))))?;
            // the report's evidence pictures, kept here rather than on the decoder's thread
            if let Some(store) = evidence {
                store.keep_frames(&frames);
            }
            Ok(obs)
        });
        match result {
            Ok(obs) => {
                progress.advance(obs.len() as f64 * step);
                parts.lock().unwrap_or_else(|e| e.into_inner()).push(obs);
            }
            Err(e) => {
                failed.store(true, Ordering::Relaxed);
                failure.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
            }
        }
    };

    let decoded = std::thread::scope(|s| {
        let failed = &failed;
        let plan = &plan;
        let decoder = s.spawn(move || {
            // the segment being filled, and how many frames it has
            let mut current: Option<mpsc::SyncSender<Frame>> = None;
            let mut filled = 0;
            // the last frames, for the next segment's look back
            let mut recent: VecDeque<Before> = VecDeque::new();
            let stats = decode::decode_samples_while(info, times, 0, a.max_side, |f| {
                if filled == 0 {
                    // room for the whole segment: the decoder never waits on one
                    let (frames_tx, frames) = mpsc::sync_channel(segment_len);
                    let before = recent.iter().filter(|b| b.index + plan.look_back() >= f.index).cloned().collect();
                    if tx.send(Feed { before, frames }).is_err() {
                        return false;
                    }
                    current = Some(frames_tx);
                }
                if plan.look_back() > 0 {
                    recent.push_back(Before { index: f.index, image: f.image.clone() });
                    while recent.front().is_some_and(|b| b.index + plan.look_back() < f.index) {
                        recent.pop_front();
                    }
                }
                if let Some(c) = &current {
                    let _ = c.send(f); // a worker that failed has dropped its segment
                }
                filled += 1;
                if filled == segment_len {
                    filled = 0;
                    current = None; // the segment's end, for its worker
                }
                !failed.load(Ordering::Relaxed)
            });
            drop(current);
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

/// A frame just before a segment, for its look back: its sample index and
/// picture.
#[derive(Clone)]
struct Before {
    index: usize,
    image: Arc<image::RgbImage>,
}

/// One segment as a worker receives it: the frames just before it (oldest
/// first, [`Plan::look_back`] samples), then its frames as they are decoded
/// (the channel closes at the segment's end).
struct Feed {
    before: Vec<Before>,
    frames: std::sync::mpsc::Receiver<Frame>,
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
    /// Analysed frames after a change during which the object detector runs
    /// on every frame of its rate ([`crate::config::AnalysisConfig::settle_s`]);
    /// the face detector runs once more after a change (faces are larger than
    /// what an encoder hides at first, and the mesh follows them meanwhile).
    object_settle: usize,
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
        let object_settle = (a.settle_s * a.fps).round() as usize;
        Plan { schedule: a.schedule, segment_len, face_every, object_every, change_level: a.change_level as f32, object_settle }
    }

    /// How many samples before a segment its worker is shown (their
    /// thumbnails): the longer settle and one period of the slower detector.
    fn look_back(&self) -> usize {
        match self.schedule {
            Schedule::Clock => 0,
            Schedule::Changes => self.object_settle.max(self.face_every) + self.face_every.max(self.object_every),
        }
    }

    /// The face detector's period and settle (samples): one more run after a change.
    fn face(&self) -> (usize, usize) {
        (self.face_every, self.face_every)
    }

    /// The object detector's period and settle (samples).
    fn objects(&self) -> (usize, usize) {
        (self.object_every, self.object_settle)
    }

    /// Whether a detector ([`Plan::face`] or [`Plan::objects`]: its frames
    /// are every `every`-th, its settle `len` samples) runs on frame `i`
    /// (sample `index`) of a segment, given how much the part of the picture
    /// it looks at changed since it last ran (`change`) and `settle`, the last
    /// sample of the settle after the latest change: a run for a change is
    /// followed by runs on every frame of its rate for `len` samples (a video
    /// encoder sharpens a new picture over several frames: the first frames
    /// of a change can hide what later ones show).
    fn runs(&self, i: usize, index: usize, (every, len): (usize, usize), settle: &mut Option<usize>, change: impl FnOnce() -> f32) -> bool {
        if index % every != 0 {
            return false;
        }
        match self.schedule {
            Schedule::Clock => true,
            Schedule::Changes if i == 0 => true,
            Schedule::Changes if change() > self.change_level => {
                *settle = Some(index + len);
                true
            }
            Schedule::Changes => settle.is_some_and(|until| index <= until),
        }
    }

    /// The settle left by a change just before a segment, as [`Plan::runs`]
    /// would have set it had the detector run there: among the frames of the
    /// detector's rate in `before` and the segment's `first` frame (the last
    /// `len` samples of them), the last sample of the settle of the latest one
    /// that changed, outside `boxes`,
    /// from the frame of the rate before it, moved by up to
    /// [`crate::schedule::WIDE`] shifts (nobody looked for faces in those
    /// frames, so a candidate's sway is tolerated everywhere). Only decoded pictures are
    /// compared, never what another segment's worker found, so the output
    /// stays the same on any number of threads.
    fn settle_before(
        &self,
        before: &[Before],
        first: (usize, &Thumb),
        (every, len): (usize, usize),
        boxes: &[[f32; 4]],
    ) -> Option<usize> {
        if self.schedule != Schedule::Changes || len == 0 {
            return None;
        }
        // the frames of the rate whose change would still settle past `first`,
        // the latest first: the first change found settles the longest
        let mut now = (first.0, std::borrow::Cow::Borrowed(first.1));
        for e in before.iter().rev().filter(|b| b.index % every == 0 && b.index + every + len > first.0) {
            let earlier = Thumb::of(&e.image);
            if e.index + every == now.0
                && now.1.change_since(&earlier, boxes) > self.change_level
                && now.1.change_since_wide(&Thumb::of_wide(&e.image), boxes) > self.change_level
            {
                return Some(now.0 + len);
            }
            now = (e.index, std::borrow::Cow::Owned(earlier));
        }
        None
    }
}

fn lcm(a: usize, b: usize) -> usize {
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    a / gcd(a, b).max(1) * b
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


/// One object detector run to make: a frame's picture and its faces.
struct ObjectJob {
    i: usize,
    image: Arc<image::RgbImage>,
    faces: Vec<crate::observation::FaceObs>,
}

/// A segment's detection so far, a frame at a time as the frames arrive.
///
/// Faces: the face detector on the first frame and on the later frames the
/// plan gives it (on the clock, or where the picture outside the faces changed
/// since it last ran, and through the settle after), and each other frame's
/// faces tracked from the frame before; the detector runs again on any frame
/// where tracking loses a face. Frames after one where the detector found
/// nobody count nobody until the detector's next run (an empty room costs one
/// detection per segment, and a face that comes into view is found on the
/// next frame of the detector's rate, by the change it makes). Identity
/// describes the faces in batches of one face detection's period, at once
/// where tracking lost a face and the detector found some anew. Objects: on
/// the frames of the object rate, the detector running where the plan says
/// and the other frames of the rate carrying its last run's objects.
struct SegmentWork<'a> {
    plan: &'a Plan,
    settings: &'a Settings,
    before: Vec<Before>,
    frames: Vec<Frame>,
    /// Per frame, by changes only.
    thumbs: Vec<Thumb>,
    found: Vec<Vec<FaceFound>>,
    /// Per frame: the faces there are new (tracking lost a face and the
    /// detector found some anew).
    changed: Vec<bool>,
    faces_detected: Vec<bool>,
    faces: Vec<Option<Vec<crate::observation::FaceObs>>>,
    embeddings: Vec<Vec<crate::observation::FaceEmbedding>>,
    /// The frame where the face detector last ran, and its settle.
    face_last: usize,
    face_settle: Option<usize>,
    /// The frame where the object detector last ran, and its settle; per
    /// frame of the object rate, the frame whose objects it has.
    object_last: Option<usize>,
    object_settle: Option<usize>,
    object_from: Vec<Option<usize>>,
}

impl<'a> SegmentWork<'a> {
    fn new(plan: &'a Plan, settings: &'a Settings, before: Vec<Before>) -> Self {
        SegmentWork {
            plan,
            settings,
            before,
            frames: Vec::new(),
            thumbs: Vec::new(),
            found: Vec::new(),
            changed: Vec::new(),
            faces_detected: Vec::new(),
            faces: Vec::new(),
            embeddings: Vec::new(),
            face_last: 0,
            face_settle: None,
            object_last: None,
            object_settle: None,
            object_from: Vec::new(),
        }
    }

    /// The next frame: its faces, tracked or detected, and the object run it
    /// asks for, if any (made by the caller, perhaps on another thread).
    fn push(&mut self, frame: Frame) -> anyhow::Result<Option<ObjectJob>> {
        let (plan, i, index) = (self.plan, self.frames.len(), frame.index);
        if plan.schedule == Schedule::Changes {
            self.thumbs.push(Thumb::of(&frame.image));
        }
        self.frames.push(frame);
        let img: &image::RgbImage = &self.frames[i].image;
        match &self.settings.models.faces {
            Some(model) => {
                let (out, thumbs, last, frames) = (&self.found, &self.thumbs, self.face_last, &self.frames);
                let scheduled = plan.runs(i, index, plan.face(), &mut self.face_settle, || {
                    // the faces where they were at the detector's run and a frame ago
                    let boxes = |faces: Option<&Vec<FaceFound>>| faces.into_iter().flatten().map(|f| f.bbox).collect::<Vec<_>>();
                    let (was, is) = (boxes(out.get(last)), boxes(out.last()));
                    change_with_face(&thumbs[i], &thumbs[last], &frames[last].image, &was, &is, plan.change_level)
                });
                let tracked = match self.found.last() {
                    _ if scheduled => None,
                    Some(previous) if previous.is_empty() => Some(Vec::new()),
                    Some(previous) => model.track(img, previous)?,
                    None => None,
                };
                let lost = tracked.is_none() && !scheduled && i > 0;
                let faces = match tracked {
                    Some(faces) => faces,
                    None => {
                        self.face_last = i;
                        model.analyze(&[img])?.pop().unwrap_or_default()
                    }
                };
                self.changed.push(lost && !faces.is_empty());
                self.faces_detected.push(self.face_last == i);
                self.faces.push(Some(crate::observation::observe_faces(&faces)));
                self.found.push(faces);
            }
            None => {
                self.changed.push(false);
                self.faces_detected.push(false);
                self.faces.push(None);
            }
        }
        if i == 0 {
            // a change just before the segment settles into it
            let boxes: Vec<[f32; 4]> = self.faces[0].iter().flatten().map(|f| f.bbox).collect();
            let before = std::mem::take(&mut self.before); // its pictures are not needed after this
            if let Some(first) = self.thumbs.first() {
                self.face_settle = plan.settle_before(&before, (index, first), plan.face(), &boxes);
                self.object_settle = plan.settle_before(&before, (index, first), plan.objects(), &boxes);
            }
        }
        if (i + 1) % plan.face_every == 0 {
            self.describe(i + 1 - plan.face_every)?;
        }
        self.object_from.push(None);
        if self.settings.models.objects.is_none() || index % plan.object_every != 0 {
            return Ok(None);
        }
        let (faces, thumbs, frames) = (&self.faces, &self.thumbs, &self.frames);
        let last = self.object_last.unwrap_or(0);
        let runs = plan.runs(i, index, plan.objects(), &mut self.object_settle, || {
            let boxes = |k: usize| faces[k].iter().flatten().map(|f| f.bbox).collect::<Vec<_>>();
            change_with_face(&thumbs[i], &thumbs[last], &frames[last].image, &boxes(last), &boxes(i), plan.change_level)
        });
        let job = (runs || self.object_last.is_none()).then(|| {
            self.object_last = Some(i);
            ObjectJob { i, image: self.frames[i].image.clone(), faces: self.faces[i].clone().unwrap_or_default() }
        });
        self.object_from[i] = self.object_last;
        Ok(job)
    }

    /// Identity's descriptors of the frames from `start` to the last one
    /// (one face detection's period, as on the clock: fewer chips in memory at once).
    fn describe(&mut self, start: usize) -> anyhow::Result<()> {
        let r = start..self.frames.len();
        match &self.settings.models.identity {
            Some(e) if self.settings.models.faces.is_some() => {
                let images: Vec<&image::RgbImage> = self.frames[r.clone()].iter().map(|f| f.image.as_ref()).collect();
                self.embeddings.extend(crate::identity::embed_faces(
                    e,
                    &images,
                    &self.found[r.clone()],
                    &self.frames[r.clone()],
                    &self.changed[r],
                    &self.settings.config,
                )?);
            }
            _ => self.embeddings.resize(self.frames.len(), Vec::new()),
        }
        Ok(())
    }

    /// The segment's observations, given the object detector's runs (by
    /// frame), and its frames.
    fn finish(mut self, seen: Vec<Option<Vec<ObjectObs>>>) -> anyhow::Result<(Vec<Observation>, Vec<Frame>)> {
        let done = self.embeddings.len();
        if done < self.frames.len() {
            self.describe(done)?;
        }
        let obs = self
            .frames
            .iter()
            .enumerate()
            .map(|(i, f)| Observation {
                index: f.index,
                t: f.t,
                pts: f.pts,
                width: f.image.width(),
                height: f.image.height(),
                mean_luma: mean_luma(&f.image),
                faces: self.faces[i].take(),
                objects: self.object_from[i].and_then(|k| seen[k].clone()),
                faces_detected: self.faces_detected[i],
                objects_detected: self.object_from[i] == Some(i),
                embeddings: std::mem::take(&mut self.embeddings[i]),
                // the audio, mouth and identity measures are filled in later
                ..Default::default()
            })
            .collect();
        Ok((obs, self.frames))
    }
}

/// Observations of one segment (see [`SegmentWork`]), its frames taken as
/// the decoder sends them. The object detector's runs are tasks of the
/// worker's thread pool, each on one frame (a batch of several would hold all
/// their activations at once).
fn detect_segment(feed: Feed, plan: &Plan, settings: &Settings) -> anyhow::Result<(Vec<Observation>, Vec<Frame>)> {
    use std::sync::Mutex;
    let Feed { before, frames } = feed;
    let mut work = SegmentWork::new(plan, settings, before);
    // by frame: the objects of the detector's runs
    let seen: Mutex<Vec<Option<Vec<ObjectObs>>>> = Mutex::new(vec![None; plan.segment_len]);
    let failed: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let (work_ref, seen_ref, failed_ref) = (&mut work, &seen, &failed);
    rayon::scope(move |s| -> anyhow::Result<()> {
        for frame in frames.iter() {
            let Some(job) = work_ref.push(frame)? else { continue };
            let (seen, failed) = (seen_ref, failed_ref);
            s.spawn(move |_| {
                let found = detect_objects(&[&job.image], &[&job.faces], &settings.models, &settings.config);
                match found {
                    Ok(mut found) => {
                        seen.lock().unwrap_or_else(|e| e.into_inner())[job.i] = found.pop().flatten();
                    }
                    Err(e) => {
                        failed.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
                    }
                }
            });
        }
        Ok(())
    })?;
    if let Some(e) = failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    work.finish(seen.into_inner().unwrap_or_else(|e| e.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan::of(&Config::default())
    }

    fn grey(v: u8) -> Arc<Thumb> {
        Arc::new(Thumb::of(&picture(v)))
    }

    fn picture(v: u8) -> image::RgbImage {
        image::RgbImage::from_pixel(64, 36, image::Rgb([v, v, v]))
    }

    /// Samples `0..n` before a segment, grey level `v(k)` each.
    fn before(n: usize, v: impl Fn(usize) -> u8) -> Vec<Before> {
        pictures(n, |k| picture(v(k)))
    }

    fn pictures(n: usize, f: impl Fn(usize) -> image::RgbImage) -> Vec<Before> {
        (0..n)
            .map(|k| {
                let img = f(k);
                Before { index: k, image: Arc::new(img) }
            })
            .collect()
    }

    /// A 640x360 grey room with a bright block (a person) at `x`.
    fn person_at(x: u32) -> image::RgbImage {
        let mut img = image::RgbImage::from_pixel(640, 360, image::Rgb([60, 60, 60]));
        for y in 100..300 {
            for px in x..x + 120 {
                img.put_pixel(px, y, image::Rgb([200, 200, 200]));
            }
        }
        img
    }

    #[test]
    fn a_sway_before_a_segment_does_not_settle_into_it_and_a_jump_does() {
        let p = plan();
        // the person 12 px to the right every other second, up to the segment at 20
        let at = |k: usize| if (k / 4) % 2 == 0 { 260 } else { 272 };
        let sway = pictures(20, |k| person_at(at(k)));
        let first = Thumb::of(&person_at(at(20)));
        assert!(first.change_since(&Thumb::of(&sway[16].image), &[]) > p.change_level, "a change as the picture was");
        assert_eq!(p.settle_before(&sway, (20, &first), p.objects(), &[]), None);
        // a jump of 40 px at 16 is something new
        let jump = pictures(20, |k| person_at(if k < 16 { 220 } else { 260 }));
        let first = Thumb::of(&person_at(260));
        assert_eq!(p.settle_before(&jump, (20, &first), p.objects(), &[]), Some(32));
    }

    #[test]
    fn the_default_plan() {
        let p = plan();
        // 4 fps: both detectors once a second, a segment of 5 s, objects settle 4 s
        assert_eq!((p.face_every, p.object_every, p.segment_len), (4, 4, 20));
        assert_eq!((p.face(), p.objects()), ((4, 4), (4, 16)));
        assert_eq!(p.look_back(), 20);
    }

    #[test]
    fn a_change_runs_the_detector_through_its_settle() {
        let p = plan();
        let mut settle = None;
        // the first frame of a segment always runs; a still frame of the rate does not
        assert!(p.runs(0, 20, p.objects(), &mut settle, || 0.0));
        assert!(!p.runs(4, 24, p.objects(), &mut settle, || 0.0));
        // frames off the rate never run
        assert!(!p.runs(5, 25, p.objects(), &mut settle, || 99.0));
        // a change at sample 28: then every frame of the rate up to 28 + 16
        assert!(p.runs(8, 28, p.objects(), &mut settle, || 99.0));
        assert_eq!(settle, Some(44));
        for (i, index) in [(12, 32), (16, 36)] {
            assert!(p.runs(i, index, p.objects(), &mut settle, || 0.0), "{index}");
        }
        let mut face = None;
        assert!(p.runs(8, 28, p.face(), &mut face, || 99.0));
        assert!(p.runs(12, 32, p.face(), &mut face, || 0.0));
        assert!(!p.runs(16, 36, p.face(), &mut face, || 0.0), "the face detector settles for one run");
        // on the clock every frame of the rate runs
        let mut cfg = Config::default();
        cfg.analysis.schedule = Schedule::Clock;
        assert!(Plan::of(&cfg).runs(4, 24, p.objects(), &mut None, || 0.0));
    }

    #[test]
    fn a_change_just_before_a_segment_settles_into_it() {
        let p = plan();
        let first = grey(100);
        // samples 0..20 before a segment at 20; the picture changed at 16 (4 s)
        let before = before(20, |k| if k < 16 { 40 } else { 100 });
        assert_eq!(p.settle_before(&before, (20, &first), p.objects(), &[]), Some(32));
        // the face detector's one more run was the segment's first frame: nothing left
        assert_eq!(p.settle_before(&before, (20, &first), p.face(), &[]), None);
        // a change inside the faces' boxes is not one
        assert_eq!(p.settle_before(&before, (20, &first), p.objects(), &[[0.0, 0.0, 64.0, 36.0]]), None);
        // nothing changed, or the change was longer ago than the settle
        let still = super::tests::before(20, |_| 100);
        assert_eq!(p.settle_before(&still, (20, &first), p.objects(), &[]), None);
        let long_ago = super::tests::before(40, |k| if k < 20 { 40 } else { 100 });
        assert_eq!(p.settle_before(&long_ago, (40, &first), p.objects(), &[]), None);
        // a change at the segment's first frame settles after it
        assert_eq!(p.settle_before(&still, (20, &grey(200)), p.objects(), &[]), Some(36));
    }
}
