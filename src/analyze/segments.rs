//! The segment pipeline of one recording: the decoded frames cut into
//! segments, each segment's detectors run by a worker as the schedule's
//! [`Plan`] says (faces tracked in between), the observations put back in
//! order.

use crate::config::Schedule;
use crate::schedule::{change_with_face, Before, Plan, Thumb};
use crate::decode::{self, Frame, MediaInfo};
use crate::detect::FaceFound;
use crate::error::{Error, ErrorKind, Result};
use crate::observation::{mean_luma, ObjectObs, Observation};
use crate::progress::Progress;

use super::Settings;
use crate::records::DecodeSummary;
use super::objects::{detect_objects, ObjectJob};

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
pub(super) fn analyze_video(
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
            // the object detector's frames keep their source-size picture, for the crops
            let oc = &settings.config.objects;
            let crops = settings.models.objects.is_some() && (oc.face_crop || oc.hand_crop);
            let opts = decode::DecodeOptions { source_every: if crops { plan.object_every } else { 0 }, ..Default::default() };
            let stats = decode::decode_samples_with(info, times, 0, a.max_side, opts, |f| {
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

/// One segment as a worker receives it: the frames just before it (oldest
/// first, [`Plan::look_back`] samples), then its frames as they are decoded
/// (the channel closes at the segment's end).
pub(super) struct Feed {
    before: Vec<Before>,
    frames: std::sync::mpsc::Receiver<Frame>,
}

/// The result of a scoped thread; its panic goes on up to the caller.
pub(super) fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
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
pub(super) struct SegmentWork<'a> {
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
    /// Per frame: what the face mesh cannot explain happened there (tracking
    /// lost a face, or there is a face more or fewer than a frame before):
    /// the object detector wakes for it whatever the picture's change.
    unexplained: Vec<bool>,
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
            unexplained: Vec::new(),
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
                self.unexplained.push(lost || self.found.last().is_some_and(|before| before.len() != faces.len()));
                self.faces_detected.push(self.face_last == i);
                self.faces.push(Some(crate::observation::observe_faces(&faces)));
                self.found.push(faces);
            }
            None => {
                self.changed.push(false);
                self.unexplained.push(false);
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
        let (faces, thumbs, frames, unexplained) = (&self.faces, &self.thumbs, &self.frames, &self.unexplained);
        let last = self.object_last.unwrap_or(0);
        let runs = plan.runs(i, index, plan.objects(), &mut self.object_settle, || {
            if unexplained[last + 1..=i].iter().any(|&u| u) {
                return f32::INFINITY;
            }
            let boxes = |k: usize| faces[k].iter().flatten().map(|f| f.bbox).collect::<Vec<_>>();
            change_with_face(&thumbs[i], &thumbs[last], &frames[last].image, &boxes(last), &boxes(i), plan.change_level)
        });
        let job = (runs || self.object_last.is_none()).then(|| {
            self.object_last = Some(i);
            let frame = &self.frames[i];
            ObjectJob { i, image: frame.image.clone(), source: frame.source.clone(), faces: self.faces[i].clone().unwrap_or_default() }
        });
        self.object_from[i] = self.object_last;
        self.frames[i].source = None; // the job holds it when the detector runs: free it with the job
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
pub(super) fn detect_segment(feed: Feed, plan: &Plan, settings: &Settings) -> anyhow::Result<(Vec<Observation>, Vec<Frame>)> {
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
                let found = detect_objects(&[&job.image], &[job.source.as_deref()], &[&job.faces], &settings.models, &settings.config);
                match found {
                    Ok(mut found) => {
                        seen.lock().unwrap_or_else(|e| e.into_inner())[job.i] = found.pop().flatten().map(|l| l.objects);
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
    use std::sync::Arc;

    use super::*;
    use crate::config::Config;
    use crate::detect::{Models, ObjectDetection, ObjectModel};

    /// An object detector that finds nothing: the test looks at the jobs, not at detections.
    struct Blind;

    impl ObjectModel for Blind {
        fn name(&self) -> &str {
            "blind"
        }
        fn detect_batch(&self, images: &[&image::RgbImage], _min_score: f32) -> anyhow::Result<Vec<Vec<ObjectDetection>>> {
            Ok(vec![Vec::new(); images.len()])
        }
    }

    fn frame(index: usize, source: bool) -> Frame {
        let image = Arc::new(image::RgbImage::from_pixel(64, 48, image::Rgb([90, 90, 90])));
        let source = source.then(|| Arc::new(image::RgbImage::from_pixel(128, 96, image::Rgb([90, 90, 90]))));
        Frame { index, t: index as f64 / 4.0, pts: index as f64 / 4.0, image, source }
    }

    /// The object job of a frame decoded at a larger size carries that picture (the crops
    /// around faces and hands are cut from it), and the segment keeps no copy of it.
    #[test]
    fn an_object_job_carries_the_source_picture_and_the_segment_lets_it_go() {
        let config = Config::default();
        let plan = Plan::of(&config);
        let models = Models { objects: Some(Box::new(Blind)), ..Default::default() };
        let settings = Settings { config, models, threads: 1 };
        let mut work = SegmentWork::new(&plan, &settings, Vec::new());
        let job = work.push(frame(0, true)).unwrap().expect("the segment's first frame runs the object detector");
        let source = job.source.as_ref().expect("the job has the source picture");
        assert_eq!(source.dimensions(), (128, 96));
        assert_eq!(job.image.dimensions(), (64, 48));
        assert!(work.frames[0].source.is_none(), "the segment still holds the source picture");
        // a frame between the object rate's samples asks for no run
        assert!(work.push(frame(1, false)).unwrap().is_none());
    }
}
