//! Per-frame observations, in time order, become timed events.
//!
//! Each kind of event has a per-frame test ("is this frame a violation, and
//! how strongly?"). Runs of violating frames become intervals; intervals
//! separated by less than the merge window become one. A kind's minimum
//! duration counts the time the violation was actually *seen* (violating
//! samples x sample interval), not the span the merged interval covers: a few
//! one-frame glitches a second apart join into nothing, because merging joins
//! violations, it does not create them. One continuous violation is one
//! event, however long it lasts.

pub use crate::kinds::EventKind;
pub use crate::records::{Baseline, Event};
use crate::config::{Config, EventConfig, ObjectConfig};
use crate::kinds::median;
use crate::observation::Observation;

impl EventKind {
    /// Why an event of this kind is raised, in words for the report.
    pub fn rule(self, c: &EventConfig) -> String {
        match self {
            EventKind::NoFace => format!(
                "no face found for at least {} s (absences from {} s are drawn on the timeline)",
                c.no_face_min_s, c.absence_mark_s
            ),
            EventKind::MultipleFaces => format!("two or more faces for at least {} s", c.multiple_faces_min_s),
            EventKind::LookingAway => format!(
                "head turned more than {} deg (yaw) or {} deg (pitch) from the candidate's usual pose for at least {} s",
                c.looking_away_yaw_deg, c.looking_away_pitch_deg, c.looking_away_min_s
            ),
            EventKind::GazeAway => crate::kinds::gaze_away::rule(&c.gaze_away()),
            EventKind::EyesClosed => format!(
                "eye aspect ratio below {} and below {} of the candidate's open eyes (upper quartile over the session) \
                 for at least {} s, until it rises {} above that (judged on faces with eyes at least {} px apart)",
                c.eyes_closed_ear, c.eyes_closed_ratio, c.eyes_closed_min_s, c.eyes_closed_hysteresis, c.eye_min_distance_px
            ),
            EventKind::Phone | EventKind::Book | EventKind::Device => format!(
                "a {} seen in at least {} of {} consecutive object samples",
                self.as_str(),
                c.object_min_hits,
                c.object_window
            ),
            EventKind::Person => format!(
                "a person without a face in view besides the candidate, near the camera (box at least {} of the \
                 frame's height), in at least {} of {} consecutive object samples (overlapping boxes are one \
                 person; a box holding a face is that face's person; not raised where a multiple_faces event \
                 already covers the time)",
                c.person_min_height, c.object_min_hits, c.object_window
            ),
            EventKind::LoudAudio => crate::kinds::loud_audio::rule(&c.loud_audio()),
            EventKind::Voices => format!(
                "speech (probability at least {}) while no face is in view or the candidate's lips are still \
                 (lip-opening variation under {}), or in a voice unlike the candidate's enrolled voice \
                 (similarity under {}; at {} or more it is theirs and overrides the picture), for at least {} s",
                c.speech_min, c.mouth_still, c.voice_other_max, c.voice_same_min, c.voices_min_s
            ),
            EventKind::Identity => format!(
                "the lone face does not match the reference photo (face-descriptor distance above {}) for at least {} s",
                c.identity_max_distance, c.identity_min_s
            ),
            EventKind::BackgroundNoise => crate::kinds::background_noise::rule(&c.background_noise()),
            EventKind::CandidateChanged => format!(
                "the lone face does not match the candidate enrolled from the opening of this session (the first {} \
                 lone frontal face descriptors that agree; face-descriptor distance above {}), or (clustering, a second \
                 signal) it belongs to another identity of the recording than the first seen (groups of descriptors \
                 holding at least {} s of samples, their centres at least {} apart), for at least {} s",
                c.identity_enrol_samples, c.identity_max_distance, c.identity_cluster_min_s, c.identity_cluster_gap, c.identity_min_s
            ),
        }
    }
}

/// The kinds whose detector ran, given which inputs were analysed: face kinds
/// need the face models, object kinds the object model, `loud_audio` an audio
/// stream, `voices` speech detection on it (with the face models, which tell
/// whose speech it is). With the face descriptor, `identity` is checked when a
/// reference photo was given, `candidate_changed` when it was not.
pub fn checked_kinds(faces: bool, objects: bool, audio: bool, speech: bool) -> std::collections::BTreeSet<EventKind> {
    checked_kinds_with_identity(faces, objects, audio, speech, None)
}

/// [`checked_kinds`], plus the identity kind: `Some(true)` when faces were
/// compared with a reference photo, `Some(false)` with the enrolled candidate.
pub fn checked_kinds_with_identity(
    faces: bool,
    objects: bool,
    audio: bool,
    speech: bool,
    identity: Option<bool>,
) -> std::collections::BTreeSet<EventKind> {
    use EventKind::*;
    let mut k = std::collections::BTreeSet::new();
    if faces {
        k.extend([NoFace, MultipleFaces, LookingAway, GazeAway, EyesClosed]);
    }
    if objects {
        k.extend([Phone, Book, Device, Person]);
    }
    if audio {
        k.extend([LoudAudio, BackgroundNoise]);
    }
    if speech {
        k.insert(Voices);
    }
    match identity {
        Some(true) => {
            k.insert(Identity);
        }
        Some(false) => {
            k.insert(CandidateChanged);
        }
        None => {}
    }
    k
}

/// One violating sample: its time and how strongly it violates (0..1).
#[derive(Debug, Clone, Copy)]
struct Hit {
    t: f64,
    strength: f32,
}

/// An interval folded from hits, with the samples it spans.
#[derive(Debug, Clone)]
struct Run {
    start: f64,
    end: f64,
    hits: Vec<Hit>,
    /// Number of samples (violating or not) inside [start, end).
    samples: usize,
}

/// Fold a time-ordered signal (one entry per sample, `Some(strength)` where
/// the sample violates) into events. Each sample covers `[t, t + step)`.
///
/// 1. Runs: consecutive violating samples; one missing sample inside a run
///    (a detector dropout) does not break it.
/// 2. A run is a violation when it was seen for at least `min_duration`
///    (violating samples x `step`).
/// 3. Violations separated by less than `merge_gap` are joined into one.
///    Runs too short to count never join or extend anything.
fn fold(signal: &[(f64, Option<f32>)], step: f64, merge_gap: f64, min_duration: f64) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    let mut last_hit = f64::NEG_INFINITY;
    for &(t, s) in signal {
        let Some(strength) = s else { continue };
        let hit = Hit { t, strength };
        match runs.last_mut() {
            Some(r) if t - last_hit <= 2.0 * step + 1e-9 => {
                r.end = t + step;
                r.hits.push(hit);
            }
            _ => runs.push(Run { start: t, end: t + step, hits: vec![hit], samples: 0 }),
        }
        last_hit = t;
    }
    // the time the violation was seen
    runs.retain(|r| r.hits.len() as f64 * step >= min_duration - 1e-9);
    let mut joined: Vec<Run> = Vec::with_capacity(runs.len());
    for r in runs {
        match joined.last_mut() {
            Some(prev) if r.start - prev.end < merge_gap - 1e-9 => {
                prev.end = r.end;
                prev.hits.extend(r.hits);
            }
            _ => joined.push(r),
        }
    }
    for r in &mut joined {
        r.samples = signal.iter().filter(|(t, _)| *t >= r.start - 1e-9 && *t < r.end - 1e-9).count();
    }
    joined
}

impl Run {
    fn coverage(&self) -> f32 {
        self.hits.len() as f32 / self.samples.max(1) as f32
    }

    fn mean_strength(&self) -> f32 {
        self.hits.iter().map(|h| h.strength).sum::<f32>() / self.hits.len().max(1) as f32
    }

    /// The strongest hit (the earliest of equals).
    fn peak(&self) -> Hit {
        *self
            .hits
            .iter()
            .fold(None::<&Hit>, |best, h| match best {
                Some(b) if b.strength >= h.strength => Some(b),
                _ => Some(h),
            })
            .expect("a run has at least one hit")
    }

    fn into_event(self, kind: EventKind, detail: String) -> Event {
        let peak = self.peak();
        Event {
            kind,
            start_s: self.start,
            end_s: self.end,
            confidence: (self.coverage() * self.mean_strength()).clamp(0.0, 1.0),
            detail,
            evidence_t: peak.t,
        }
    }
}

/// The value a quarter of the samples lie above (linear between ranks).
fn upper_quartile(mut v: Vec<f32>) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let k = 0.75 * (v.len() - 1) as f32;
    let (i, f) = (k.floor() as usize, k.fract());
    Some(v[i] + (v[(i + 1).min(v.len() - 1)] - v[i]) * f)
}

impl Baseline {
    /// Medians over the frames with exactly one face (the candidate alone);
    /// eyes and gaze only from faces large enough to measure them.
    pub fn from_observations(obs: &[Observation], eye_min_px: f32) -> Baseline {
        let solo = || obs.iter().filter(|o| o.face_count() == Some(1)).filter_map(|o| o.primary_face());
        let eyes = || solo().filter(|f| f.eye_distance() >= eye_min_px);
        Baseline {
            yaw: median(solo().filter_map(|f| f.yaw).collect()).unwrap_or(0.0),
            pitch: median(solo().filter_map(|f| f.pitch).collect()).unwrap_or(0.0),
            gaze_x: median(eyes().filter_map(|f| f.gaze_x).collect()).unwrap_or(0.0),
            gaze_y: median(eyes().filter_map(|f| f.gaze_y).collect()).unwrap_or(0.0),
            ear: upper_quartile(eyes().filter_map(|f| f.ear()).collect()).unwrap_or(0.0),
        }
    }

    /// The eye aspect ratio under which eyes count as closed.
    pub fn closed_ear(&self, c: &EventConfig) -> f32 {
        let abs = c.eyes_closed_ear as f32;
        if self.ear > 0.0 {
            abs.min(self.ear * c.eyes_closed_ratio as f32)
        } else {
            abs
        }
    }
}

/// Everything the folding produced: the events and the baseline it used.
#[derive(Debug, Clone)]
pub struct Folded {
    pub events: Vec<Event>,
    pub baseline: Baseline,
}

/// Turn time-ordered observations (one every `1 / fps` seconds) into events.
pub fn detect_events(obs: &[Observation], fps: f64, cfg: &Config) -> Folded {
    let c = &cfg.events;
    let step = 1.0 / fps;
    let eye_min = c.eye_min_distance_px as f32;
    let baseline = if c.baseline { Baseline::from_observations(obs, eye_min) } else { Baseline::default() };
    let mut events = Vec::new();

    let faces_of = |o: &Observation| -> Option<Vec<f32>> {
        o.faces_above(c.face_min_score as f32).map(|f| f.map(|x| x.score).collect())
    };

    // no face
    let signal: Vec<_> = obs
        .iter()
        .map(|o| (o.t, faces_of(o).and_then(|f| f.is_empty().then_some(1.0))))
        .collect();
    for r in fold(&signal, step, c.merge_gap_s, c.no_face_min_s) {
        let detail = format!("no face in {} of {} analysed frames", r.hits.len(), r.samples);
        events.push(r.into_event(EventKind::NoFace, detail));
    }

    // several faces: strength is the second face's detector score
    let counts: Vec<(f64, usize)> = obs.iter().map(|o| (o.t, faces_of(o).map_or(0, |f| f.len()))).collect();
    let signal: Vec<_> = obs
        .iter()
        .map(|o| (o.t, faces_of(o).and_then(|f| (f.len() >= 2).then(|| f[1]))))
        .collect();
    for r in fold(&signal, step, c.merge_gap_s, c.multiple_faces_min_s) {
        let n: Vec<f32> = counts
            .iter()
            .filter(|(t, _)| *t >= r.start && *t < r.end)
            .map(|(_, n)| *n as f32)
            .collect();
        let most = n.iter().cloned().fold(0.0, f32::max);
        let mut detail = format!("{} faces at most, in {} of {} frames", most as usize, r.hits.len(), r.samples);
        if let Some(which) = candidate_among(obs, r.start, r.end, c.face_min_score as f32) {
            detail.push_str(&format!("; {which}"));
        }
        events.push(r.into_event(EventKind::MultipleFaces, detail));
    }

    // looking away: head pose relative to the baseline
    let signal: Vec<_> = obs
        .iter()
        .map(|o| {
            let s = (|| {
                let f = o.solo_face(c.face_min_score as f32)?;
                let dy = (f.yaw? - baseline.yaw).abs() / (c.looking_away_yaw_deg as f32);
                let dp = (f.pitch? - baseline.pitch).abs() / (c.looking_away_pitch_deg as f32);
                let d = dy.max(dp);
                Some(d).filter(|d| *d > 1.0).map(|d| (d / 2.0).min(1.0))
            })();
            (o.t, s)
        })
        .collect();
    for r in fold(&signal, step, c.merge_gap_s, c.looking_away_min_s) {
        let (yaws, pitches) = pose_in(obs, r.start, r.end);
        let detail = format!(
            "median yaw {:+.0} deg, pitch {:+.0} deg (usual pose: yaw {:+.0}, pitch {:+.0})",
            median(yaws).unwrap_or(f32::NAN),
            median(pitches).unwrap_or(f32::NAN),
            baseline.yaw,
            baseline.pitch
        );
        events.push(r.into_event(EventKind::LookingAway, detail));
    }

    // gaze away: iris offset relative to the baseline (crate::kinds::gaze_away)
    let gaze = c.gaze_away();
    let signal: Vec<_> = obs
        .iter()
        .map(|o| {
            let s = o
                .solo_face(c.face_min_score as f32)
                .filter(|f| f.eye_distance() >= eye_min)
                .and_then(|f| crate::kinds::gaze_away::strength(f.yaw?, f.gaze_x?, baseline.yaw, baseline.gaze_x, &gaze));
            (o.t, s)
        })
        .collect();
    for r in fold(&signal, step, c.merge_gap_s, gaze.min_s) {
        let gx: Vec<f32> = in_span(obs, r.start, r.end).filter_map(|o| o.primary_face()?.gaze_x).collect();
        let detail = crate::kinds::gaze_away::detail(median(gx).unwrap_or(f32::NAN), baseline.gaze_x);
        events.push(r.into_event(EventKind::GazeAway, detail));
    }

    // eyes closed, against the candidate's own eye openness
    let closed = baseline.closed_ear(c);
    let reopened = closed + c.eyes_closed_hysteresis as f32;
    let mut closing = false;
    let signal: Vec<_> = obs
        .iter()
        .map(|o| {
            let ear = o.solo_face(c.face_min_score as f32).filter(|f| f.eye_distance() >= eye_min).and_then(|f| f.ear());
            // below the threshold closes; only above it plus the hysteresis reopens
            closing = ear.is_some_and(|e| e < closed || (closing && e < reopened));
            (o.t, ear.filter(|_| closing).map(|e| (1.5 - e / closed).clamp(0.0, 1.0)))
        })
        .collect();
    for r in fold(&signal, step, c.merge_gap_s, c.eyes_closed_min_s) {
        let ears: Vec<f32> = in_span(obs, r.start, r.end).filter_map(|o| o.primary_face()?.ear()).collect();
        let detail = format!(
            "median eye aspect ratio {:.3} (threshold {:.3}: the lower of {} and {} x the open-eye {:.3})",
            median(ears).unwrap_or(f32::NAN),
            closed,
            c.eyes_closed_ear,
            c.eyes_closed_ratio,
            baseline.ear
        );
        events.push(r.into_event(EventKind::EyesClosed, detail));
    }

    // a second person whose face is also seen is already a multiple_faces event
    let multi: Vec<(f64, f64)> =
        events.iter().filter(|e| e.kind == EventKind::MultipleFaces).map(|e| (e.start_s, e.end_s)).collect();
    events.extend(object_events(obs, cfg).into_iter().filter(|e| {
        e.kind != EventKind::Person || !multi.iter().any(|(a, b)| e.start_s < *b && *a < e.end_s)
    }));

    // loud audio: the absolute ceiling (crate::kinds::loud_audio), higher under the
    // candidate's own speech (speech no signal calls another voice's)
    let loud = c.loud_audio();
    let own_speech = |o: &Observation| o.speech.is_some_and(|p| p as f64 >= c.speech_min) && !o.other_voice.is_some_and(|v| v > 0.0);
    let speech_db = median(obs.iter().filter(|o| own_speech(o)).filter_map(|o| o.audio_db).collect());
    let signal: Vec<_> = obs
        .iter()
        .map(|o| {
            let ceiling = crate::kinds::loud_audio::ceiling(own_speech(o), speech_db, &loud);
            (o.t, o.audio_db.and_then(|db| crate::kinds::loud_audio::strength(db, ceiling)))
        })
        .collect();
    for r in fold(&signal, step, c.merge_gap_s, loud.min_s) {
        let peak = in_span(obs, r.start, r.end).filter_map(|o| o.audio_db).fold(f32::MIN, f32::max);
        let detail = crate::kinds::loud_audio::detail(peak, speech_db, &loud);
        events.push(r.into_event(EventKind::LoudAudio, detail));
    }

    // background noise: non-speech sound standing out of the room, where loud_audio does not already cover it
    let loud: Vec<(f64, f64)> = events.iter().filter(|e| e.kind == EventKind::LoudAudio).map(|e| (e.start_s, e.end_s)).collect();
    events.extend(
        background_noise(obs, step, c)
            .into_iter()
            .filter(|e| !loud.iter().any(|(a, b)| e.start_s < *b && *a < e.end_s)),
    );

    // identity: the lone face against the reference photo, or the enrolled candidate and,
    // for candidate_changed, the second signal: the identity clustering gave it
    for kind in [EventKind::Identity, EventKind::CandidateChanged] {
        let enrolment = |o: &Observation| if kind == EventKind::Identity { o.reference_distance } else { o.identity_distance };
        let cluster = |o: &Observation| if kind == EventKind::Identity { None } else { o.cluster_distance };
        let sampled: Vec<&Observation> = obs.iter().filter(|o| enrolment(o).is_some() || cluster(o).is_some()).collect();
        if sampled.is_empty() {
            continue;
        }
        let istep = median(sampled.windows(2).map(|w| (w[1].t - w[0].t) as f32).collect()).map_or(step, f64::from).max(step);
        let thr = c.identity_max_distance as f32;
        let gap = c.identity_cluster_gap as f32;
        let strength = |d: f32| ((d - thr) / 0.3 + 0.5).min(1.0);
        let signal: Vec<_> = sampled
            .iter()
            .map(|o| {
                let by_enrolment = enrolment(o).filter(|d| *d > thr).map(strength);
                let by_cluster = cluster(o).filter(|d| *d >= gap).map(strength);
                (o.t, by_enrolment.into_iter().chain(by_cluster).reduce(f32::max))
            })
            .collect();
        for r in fold(&signal, istep, c.merge_gap_s.max(istep * 1.5), c.identity_min_s) {
            let span: Vec<&Observation> = sampled.iter().copied().filter(|o| o.t >= r.start - 1e-9 && o.t < r.end - 1e-9).collect();
            let detail = identity_detail(kind, &span, c, r.hits.len(), r.samples);
            events.push(r.into_event(kind, detail));
        }
    }

    // another voice: speech that the picture or the voice says is not the candidate's
    let signal: Vec<_> = obs.iter().map(|o| (o.t, o.other_voice.filter(|v| *v > 0.0))).collect();
    let enrolled = obs.iter().any(|o| o.voice_similarity.is_some());
    for r in fold(&signal, step, c.merge_gap_s, c.voices_min_s) {
        let span: Vec<&Observation> = in_span(obs, r.start, r.end).collect();
        let detail = voices_detail(&span, c, enrolled, r.hits.len(), r.samples);
        events.push(r.into_event(EventKind::Voices, detail));
    }

    events.sort_by(|a, b| a.start_s.total_cmp(&b.start_s).then(a.kind.cmp(&b.kind)));
    Folded { events, baseline }
}

/// Stretches without a counted face seen for at least `c.absence_mark_s` (one missing
/// frame does not break one; none are joined): the report draws them on its timeline,
/// also those too short for a `no_face` event.
pub fn absences(obs: &[Observation], fps: f64, c: &EventConfig) -> Vec<[f64; 2]> {
    let signal: Vec<_> = obs
        .iter()
        .map(|o| (o.t, o.faces_above(c.face_min_score as f32).and_then(|mut f| f.next().is_none().then_some(1.0))))
        .collect();
    fold(&signal, 1.0 / fps, 0.0, c.absence_mark_s).into_iter().map(|r| [r.start, r.end]).collect()
}

/// `background_noise` ([`crate::kinds::background_noise`]): frames with no speech near
/// them (none, or the VAD did not run: then every frame counts as non-speech) standing out
/// of the room's levels, folded into runs; a run is an event when the kind says so.
fn background_noise(obs: &[Observation], step: f64, c: &EventConfig) -> Vec<Event> {
    use crate::kinds::background_noise::{detail, is_event, strength, RoomLevels, SPEECH_MARGIN_S};
    let t = c.background_noise();
    let is_speech = |o: &&Observation| o.speech.is_some_and(|p| p as f64 >= t.speech_min);
    let Some(room) = RoomLevels::of(obs.iter().filter_map(|o| o.audio_db), obs.iter().filter(is_speech).filter_map(|o| o.audio_db))
    else {
        return Vec::new();
    };
    let speech_at: Vec<f64> = obs.iter().filter(is_speech).map(|o| o.t).collect();
    let near_speech = |t: f64| {
        let k = speech_at.partition_point(|s| *s < t - SPEECH_MARGIN_S - 1e-9);
        speech_at.get(k).is_some_and(|s| *s <= t + SPEECH_MARGIN_S + 1e-9)
    };
    let signal: Vec<_> =
        obs.iter().map(|o| (o.t, o.audio_db.and_then(|db| strength(db, o.audio_peak_db, near_speech(o.t), &room, &t)))).collect();
    let mut out = Vec::new();
    for r in fold(&signal, step, c.merge_gap_s, t.transient_s.min(t.min_s)) {
        let peak = in_span(obs, r.start, r.end).filter_map(|o| o.audio_db).fold(f32::MIN, f32::max);
        let short = in_span(obs, r.start, r.end).filter_map(|o| o.audio_peak_db).reduce(f32::max);
        if !is_event(r.hits.len() as f64 * step, peak, short, &room, &t) {
            continue;
        }
        let detail = detail(peak, short, &room, r.hits.len(), r.samples);
        out.push(r.into_event(EventKind::BackgroundNoise, detail));
    }
    out
}

/// What raised an `identity` or `candidate_changed` event over the samples
/// `span`: the distance from the reference photo or the enrolled candidate
/// (enrolment), and for `candidate_changed` the second identity clustering
/// found (see [`crate::identity`]); the detail names the signals that saw it.
fn identity_detail(kind: EventKind, span: &[&Observation], c: &EventConfig, hits: usize, samples: usize) -> String {
    let thr = c.identity_max_distance as f32;
    let gap = c.identity_cluster_gap as f32;
    let (enrolment, whom): (Vec<f32>, &str) = if kind == EventKind::Identity {
        (span.iter().filter_map(|o| o.reference_distance).collect(), "the reference photo")
    } else {
        (span.iter().filter_map(|o| o.identity_distance).collect(), "the candidate enrolled from the session")
    };
    let over = enrolment.iter().filter(|d| **d > thr).count();
    let by_enrolment = format!(
        "median face-descriptor distance {:.2} to {whom} (same person below {}), in {} of {} samples",
        median(enrolment.clone()).unwrap_or(f32::NAN),
        c.identity_max_distance,
        if kind == EventKind::Identity { hits } else { over },
        samples
    );
    if kind == EventKind::Identity {
        return by_enrolment;
    }
    let other: Vec<f32> = span.iter().filter_map(|o| o.cluster_distance).filter(|d| *d >= gap).collect();
    let by_cluster = format!(
        "clustering: another identity of the recording, its centre {:.2} from the first identity seen (different people \
         from {}), in {} of {} samples",
        median(other.clone()).unwrap_or(f32::NAN),
        c.identity_cluster_gap,
        other.len(),
        samples
    );
    match (over > 0, !other.is_empty()) {
        (true, true) => format!("raised by enrolment and clustering: {by_enrolment}; {by_cluster}"),
        (true, false) => format!("raised by enrolment: {by_enrolment}"),
        _ => format!("raised by clustering alone (the distance to the enrolled candidate stayed under {thr}): {by_cluster}; {by_enrolment}"),
    }
}

/// The detail of a `voices` event over the frames `span`: the peak speech probability and
/// the signal(s) that raised it, each with its frame count when it did not cover every
/// flagged frame: the voice (unlike the candidate's enrolled voice, with its median
/// similarity), the picture (no face in view / the candidate's lips still), or both; and
/// when the candidate's lips moved, that the voice alone raised those frames.
fn voices_detail(span: &[&Observation], c: &EventConfig, enrolled: bool, hits: usize, samples: usize) -> String {
    use crate::observation::{nobody_in_view, picture_other, picture_talking, voice_says_other};
    let flagged: Vec<&Observation> = span.iter().copied().filter(|o| o.other_voice.is_some_and(|v| v > 0.0)).collect();
    let all = flagged.len();
    let count = |f: &dyn Fn(&Observation) -> bool| flagged.iter().filter(|o| f(o)).count();
    let frames = |n: usize| if n == all { String::new() } else { format!(" ({n} frame{})", if n == 1 { "" } else { "s" }) };
    let peak = flagged.iter().filter_map(|o| o.speech).fold(0.0, f32::max);
    let by_voice: Vec<f32> = flagged.iter().filter(|o| voice_says_other(o, c) == Some(true)).filter_map(|o| o.voice_similarity).collect();
    let unseen = count(&|o| picture_other(o, c) && nobody_in_view(o, c));
    let still = count(&|o| picture_other(o, c)) - unseen;
    let talking = count(&|o| picture_talking(o, c));
    let mut signals = Vec::new();
    if !by_voice.is_empty() {
        signals.push(format!(
            "in a voice unlike the candidate's{} (median similarity {:.2} to their enrolled voice, under {})",
            frames(by_voice.len()),
            median(by_voice.clone()).unwrap_or(f32::NAN),
            c.voice_other_max,
        ));
    }
    if unseen > 0 {
        signals.push(format!("while no face was in view{}", frames(unseen)));
    }
    if still > 0 {
        signals.push(format!("while the candidate's lips were still{}", frames(still)));
    }
    let signal = signals.join(" and ");
    let moved = match talking {
        0 => String::new(),
        n if n == all => "; the candidate's lips moved meanwhile: the voice alone raised it".to_string(),
        n => format!("; the candidate's lips moved in {n} of them: the voice alone raised those"),
    };
    let note = if enrolled { "" } else { " (judged from the picture alone: no voice of the candidate's could be enrolled)" };
    format!("speech (peak probability {peak:.2}) {signal}, in {hits} of {samples} frames{moved}{note}")
}

/// Which of several faces is the candidate's, in words: "the candidate is the
/// left face (descriptor distance 0.31)", from the sampled frame of the span
/// with several counted faces whose candidate face matched best. With faces
/// described but none matching (or none near enough to frontal to judge):
/// "no face could be matched to the candidate".
/// `None` when no face of the span was described (identity off or not sampled).
fn candidate_among(obs: &[Observation], start: f64, end: f64, min_score: f32) -> Option<String> {
    let several: Vec<&Observation> = in_span(obs, start, end)
        .filter(|o| o.faces_above(min_score).is_some_and(|f| f.count() >= 2) && !o.embeddings.is_empty())
        .collect();
    if several.is_empty() {
        return None;
    }
    let best = several
        .iter()
        .filter_map(|o| Some((*o, o.candidate_face? as usize, o.candidate_distance?)))
        .min_by(|a, b| a.2.total_cmp(&b.2));
    let Some((o, i, d)) = best else { return Some("no face could be matched to the candidate".into()) };
    let faces = o.faces.as_deref()?;
    let me = faces.get(i)?;
    let centre = |f: &crate::observation::FaceObs| (f.bbox[0] + f.bbox[2]) / 2.0;
    let others: Vec<f32> = faces.iter().enumerate().filter(|(j, f)| *j != i && f.score >= min_score).map(|(_, f)| centre(f)).collect();
    let left_of_me = others.iter().filter(|x| **x < centre(me)).count();
    let place = if left_of_me == 0 {
        "on the left of the picture".to_string()
    } else if left_of_me == others.len() {
        "on the right of the picture".to_string()
    } else {
        format!("{} from the left", ordinal(left_of_me + 1))
    };
    Some(format!("the candidate is the face {place} (descriptor distance {d:.2}, at {:.1} s)", o.t))
}

fn ordinal(n: usize) -> String {
    match n {
        2 => "second".into(),
        3 => "third".into(),
        n => format!("{n}th"),
    }
}

fn in_span(obs: &[Observation], start: f64, end: f64) -> impl Iterator<Item = &Observation> {
    obs.iter().filter(move |o| o.t >= start - 1e-9 && o.t < end - 1e-9)
}

fn pose_in(obs: &[Observation], start: f64, end: f64) -> (Vec<f32>, Vec<f32>) {
    let faces: Vec<_> = in_span(obs, start, end).filter_map(|o| o.primary_face()).collect();
    (faces.iter().filter_map(|f| f.yaw).collect(), faces.iter().filter_map(|f| f.pitch).collect())
}

/// Object events: the object detector runs on a subset of frames (those whose
/// `objects` is `Some`). A sample counts when at least `object_min_hits` of
/// some `object_window` consecutive samples around it see the category.
fn object_events(obs: &[Observation], cfg: &Config) -> Vec<Event> {
    let c = &cfg.events;
    let samples: Vec<&Observation> = obs.iter().filter(|o| o.objects.is_some()).collect();
    if samples.is_empty() {
        return Vec::new();
    }
    // the object step: the typical interval between object samples
    let step = {
        let d: Vec<f32> = samples.windows(2).map(|w| (w[1].t - w[0].t) as f32).collect();
        median(d).map(f64::from).unwrap_or(1.0)
    };
    let mut out = Vec::new();
    for (kind, category) in [
        (EventKind::Phone, "phone"),
        (EventKind::Book, "book"),
        (EventKind::Device, "device"),
        (EventKind::Person, "person"),
    ] {
        let strength: Vec<Option<f32>> = samples.iter().map(|o| object_strength(o, category, &cfg.objects, c)).collect();
        let hits: Vec<bool> = strength.iter().map(Option::is_some).collect();
        let w = c.object_window;
        let confirmed: Vec<bool> = (0..hits.len())
            .map(|i| {
                hits[i]
                    && (i.saturating_sub(w - 1)..=i).any(|s| {
                        let e = (s + w).min(hits.len());
                        e - s == w.min(hits.len()) && hits[s..e].iter().filter(|h| **h).count() >= c.object_min_hits
                    })
            })
            .collect();
        let signal: Vec<_> = samples
            .iter()
            .zip(&confirmed)
            .zip(&strength)
            .map(|((o, ok), s)| (o.t, if *ok { *s } else { None }))
            .collect();
        for r in fold(&signal, step, c.merge_gap_s.max(step * 1.5), 0.0) {
            let mut classes: Vec<(String, f32)> = Vec::new();
            for o in in_span(obs, r.start, r.end) {
                for d in o.objects.iter().flatten().filter(|d| d.category == category) {
                    match classes.iter_mut().find(|(c, _)| *c == d.class) {
                        Some((_, s)) => *s = s.max(d.score),
                        None => classes.push((d.class.clone(), d.score)),
                    }
                }
            }
            let seen: Vec<String> = classes.iter().map(|(c, s)| format!("{c} (max score {s:.2})")).collect();
            let detail = format!("{}; in {} of {} object samples", seen.join(", "), r.hits.len(), r.samples);
            out.push(r.into_event(kind, detail));
        }
    }
    out
}

/// How strongly one object sample shows a category; `None` when it does not.
fn object_strength(o: &Observation, category: &str, oc: &ObjectConfig, c: &EventConfig) -> Option<f32> {
    let min = oc.min_score_of(category);
    let found: Vec<f32> = o
        .objects
        .iter()
        .flatten()
        .filter(|d| d.category == category && d.score >= min)
        .map(|d| d.score)
        .collect();
    if category == "person" {
        let boxes: Vec<([f32; 4], f32)> = o
            .objects
            .iter()
            .flatten()
            .filter(|d| d.category == category && d.score >= min)
            .map(|d| (d.bbox, d.score))
            .collect();
        let faces: Vec<[f32; 4]> = o.faces_above(c.face_min_score as f32).map_or_else(Vec::new, |f| f.map(|x| x.bbox).collect());
        // people far behind (a crowd, a poster) are not in the room with the candidate
        let near = |b: &[f32; 4]| b[3] - b[1] >= c.person_min_height as f32 * o.height as f32;
        let boxes: Vec<([f32; 4], f32)> = boxes.into_iter().filter(|(b, _)| near(b)).collect();
        return extra_person(&boxes, &faces);
    }
    found.into_iter().reduce(f32::max)
}

/// People, not boxes: person boxes that overlap much (IoU above 0.3, or one
/// mostly inside the other) are one person. A person whose box holds the
/// centre of a counted face is that face's; faces are multiple_faces'
/// business. With no face in view, one faceless person is taken to be the
/// candidate (turned away or covered: no_face's business). Returns the score
/// of the most likely extra person, if there is one.
fn extra_person(boxes: &[([f32; 4], f32)], faces: &[[f32; 4]]) -> Option<f32> {
    fn inter(a: &[f32; 4], b: &[f32; 4]) -> f32 {
        (a[2].min(b[2]) - a[0].max(b[0])).max(0.0) * (a[3].min(b[3]) - a[1].max(b[1])).max(0.0)
    }
    fn area(a: &[f32; 4]) -> f32 {
        (a[2] - a[0]).max(0.0) * (a[3] - a[1]).max(0.0)
    }
    // greedy clustering, best score first
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|a, b| boxes[*b].1.total_cmp(&boxes[*a].1));
    let mut people: Vec<(Vec<[f32; 4]>, f32)> = Vec::new();
    for i in order {
        let (b, s) = boxes[i];
        let same = people.iter_mut().find(|(members, _)| {
            members.iter().any(|m| {
                let i = inter(m, &b);
                let union = area(m) + area(&b) - i;
                (union > 0.0 && i / union > 0.3) || i > 0.7 * area(m).min(area(&b))
            })
        });
        match same {
            Some((members, _)) => members.push(b),
            None => people.push((vec![b], s)),
        }
    }
    let holds_face = |members: &[[f32; 4]]| {
        faces.iter().any(|f| {
            let (cx, cy) = ((f[0] + f[2]) / 2.0, (f[1] + f[3]) / 2.0);
            members.iter().any(|m| cx >= m[0] && cx <= m[2] && cy >= m[1] && cy <= m[3])
        })
    };
    let mut faceless: Vec<f32> = people.iter().filter(|(m, _)| !holds_face(m)).map(|(_, s)| *s).collect();
    faceless.sort_by(|a, b| b.total_cmp(a));
    let candidate_unseen = usize::from(faces.is_empty());
    faceless.get(candidate_unseen).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::{FaceObs, ObjectObs};

    fn face(yaw: f32, ear: f32) -> FaceObs {
        FaceObs {
            bbox: [0.0, 0.0, 100.0, 100.0],
            score: 0.9,
            keypoints: vec![],
            yaw: Some(yaw),
            pitch: Some(0.0),
            roll: Some(0.0),
            ear_left: Some(ear),
            ear_right: Some(ear),
            gaze_x: Some(0.0),
            gaze_y: Some(0.0),
            mouth_open: None,
        }
    }

    /// Observations at 4 fps; `faces(i)` gives frame i's faces.
    fn seq(n: usize, faces: impl Fn(usize) -> Vec<FaceObs>) -> Vec<Observation> {
        (0..n)
            .map(|i| Observation {
                index: i,
                t: i as f64 / 4.0,
                pts: i as f64 / 4.0,
                width: 640,
                height: 480,
                mean_luma: 100.0,
                audio_db: None,
                audio_peak_db: None,
                faces: Some(faces(i)),
                objects: None,
                faces_detected: false,
                objects_detected: false,
                speech: None,
                mouth_motion: None,
                voice_similarity: None, other_voice: None,
                embeddings: Vec::new(),
                identity_distance: None,
                reference_distance: None,
                candidate_face: None,
                candidate_distance: None,
                cluster_distance: None,
            })
            .collect()
    }

    /// 6 s at 4 fps, one face; speech 0.9 at 1-4 s with the lips moving or still and the
    /// voice at a given similarity to the enrolled candidate (`None`: not enrolled).
    fn voices_of(lips_move: bool, similarity: Option<f32>, faces: usize) -> (Vec<Observation>, Vec<Event>) {
        let c = Config::default();
        let mut obs = seq(24, |_| vec![face(0.0, 0.3); faces]);
        for o in &mut obs {
            let talk = (1.0..4.0).contains(&o.t);
            o.speech = Some(if talk { 0.9 } else { 0.1 });
            o.mouth_motion = Some(if lips_move && talk { 0.1 } else { 0.01 });
            o.voice_similarity = similarity.filter(|_| talk);
        }
        crate::observation::other_voice(&mut obs, &c.events, similarity.is_some());
        let events = detect_events(&obs, 4.0, &c).events.into_iter().filter(|e| e.kind == EventKind::Voices).collect();
        (obs, events)
    }

    #[test]
    fn voices_weigh_the_picture_and_the_voice_and_name_them() {
        // both say another voice: full strength
        let (obs, both) = voices_of(false, Some(0.5), 1);
        assert_eq!(both.len(), 1, "{both:?}");
        assert!((obs[8].other_voice.unwrap() - 0.9).abs() < 1e-6);
        assert!(both[0].detail.contains("in a voice unlike the candidate's (median similarity 0.50"), "{}", both[0].detail);
        assert!(both[0].detail.contains("and while the candidate's lips were still, in"), "{}", both[0].detail);
        // the voice alone, while the lips move: raised, weaker, and said so
        let (obs, voice) = voices_of(true, Some(0.5), 1);
        assert_eq!(voice.len(), 1, "{voice:?}");
        assert!((obs[8].other_voice.unwrap() - 0.9 * crate::observation::ONE_SIGNAL).abs() < 1e-6);
        assert!(voice[0].detail.contains("the voice alone raised it"), "{}", voice[0].detail);
        assert!(!voice[0].detail.contains("lips were still"), "{}", voice[0].detail);
        assert!(voice[0].confidence < both[0].confidence, "{} {}", voice[0].confidence, both[0].confidence);
        // still lips but the candidate's own voice: nothing
        assert!(voices_of(false, Some(0.9), 1).1.is_empty());
        // still lips, the voice undecided (between 0.7 and 0.8): the picture alone, weaker
        let (obs, picture) = voices_of(false, Some(0.75), 1);
        assert_eq!(picture.len(), 1);
        assert!((obs[8].other_voice.unwrap() - 0.9 * crate::observation::ONE_SIGNAL).abs() < 1e-6);
        assert!(!picture[0].detail.contains("voice unlike"), "{}", picture[0].detail);
        // no enrolment: the picture alone at full strength, as before, and said so
        let (obs, alone) = voices_of(false, None, 1);
        assert_eq!(alone.len(), 1);
        assert!((obs[8].other_voice.unwrap() - 0.9).abs() < 1e-6);
        assert!(alone[0].detail.contains("judged from the picture alone"), "{}", alone[0].detail);
        // lips moving, voice the candidate's or not enrolled: nothing; several faces: nothing
        assert!(voices_of(true, Some(0.9), 1).1.is_empty());
        assert!(voices_of(true, None, 1).1.is_empty());
        assert!(voices_of(false, Some(0.5), 2).1.is_empty());
    }

    #[test]
    fn the_voice_is_enrolled_from_the_dominant_voice_while_the_lips_move() {
        use crate::audio::{VoicePartial, VoiceSegment};
        use crate::observation::{enrol_voice, voice_similarity, NoEnrolment};
        let c = Config::default().events;
        let unit = |k: usize, wobble: f32| {
            let mut v = vec![0f32; 256];
            v[k] = 1.0;
            v[10] = wobble;
            v
        };
        let seg = |a: f64, b: f64, e: Vec<f32>| VoiceSegment {
            start_s: a,
            end_s: b,
            embedding: e.clone(),
            partials: vec![VoicePartial { start_s: a, end_s: b, embedding: e }],
        };
        // 10 s; lips move at 0-2, 4-6 and 8-10 s
        let mut obs = seq(40, |_| vec![face(0.0, 0.3)]);
        for o in &mut obs {
            o.mouth_motion = Some(if (o.t % 4.0) < 2.0 { 0.1 } else { 0.01 });
        }
        let a1 = seg(0.2, 1.8, unit(0, 0.1));
        let a_still = seg(2.2, 3.8, unit(1, 0.0)); // lips still: not enrolled, whoever it is
        let a2 = seg(4.2, 5.8, unit(0, -0.1));
        let b = seg(8.2, 9.8, unit(2, 0.0));
        let segs = vec![a1.clone(), a_still.clone(), a2.clone(), b.clone()];
        let v = enrol_voice(&obs, &segs, &c).unwrap();
        assert_eq!(v.partials, 2);
        assert!((v.seconds - 3.2).abs() < 1e-9, "{}", v.seconds);
        assert_eq!(v.spans, vec![(0.2, 1.8), (4.2, 5.8)]);
        assert!(crate::audio::cosine(&v.embedding, &unit(0, 0.0)) > 0.99);
        voice_similarity(&mut obs, &segs, &v.embedding, 0.5);
        assert!(obs[4].voice_similarity.unwrap() > 0.99, "{:?}", obs[4].voice_similarity); // 1.0 s: A
        assert!(obs[36].voice_similarity.unwrap() < 0.01); // 9.0 s: B
        assert!(obs[28].voice_similarity.is_none()); // 7.0 s: no segment within 0.25 s
        // one partial only; two voices with one partial each
        assert_eq!(enrol_voice(&obs, &[a1.clone(), a_still], &c), Err(NoEnrolment::NotSeenTalking));
        assert_eq!(enrol_voice(&obs, &[a1, b], &c), Err(NoEnrolment::NoDominantVoice));
    }

    #[test]
    fn multiple_faces_say_which_face_is_the_candidate() {
        let at = |x: f32| FaceObs { bbox: [x, 0.0, x + 100.0, 100.0], ..face(0.0, 0.3) };
        // three faces for 4 s; every 8th frame described, the candidate the middle one (index 2)
        let mut obs = seq(16, |_| vec![at(0.0), at(400.0), at(200.0)]);
        let described = |o: &mut Observation| {
            o.embeddings = (0..3).map(|face| crate::observation::FaceEmbedding { face, descriptor: vec![0.0; 128], distance: Some(0.9) }).collect();
        };
        for o in obs.iter_mut().step_by(8) {
            described(o);
            o.candidate_face = Some(2);
            o.candidate_distance = Some(0.3 + o.t as f32 / 10.0);
        }
        let cfg = Config::default();
        let multi = |obs: &[Observation]| detect_events(obs, 4.0, &cfg).events.into_iter().find(|e| e.kind == EventKind::MultipleFaces).unwrap();
        let e = multi(&obs);
        assert!(e.detail.ends_with("; the candidate is the face second from the left (descriptor distance 0.30, at 0.0 s)"), "{}", e.detail);
        // the right one
        obs[8].candidate_face = Some(1);
        obs[8].candidate_distance = Some(0.1);
        assert!(multi(&obs).detail.contains("the candidate is the face on the right of the picture (descriptor distance 0.10, at 2.0 s)"));
        // described, nobody matched
        for o in obs.iter_mut() {
            o.candidate_face = None;
            o.candidate_distance = None;
        }
        assert!(multi(&obs).detail.ends_with("; no face could be matched to the candidate"));
        // not described (identity off): nothing is said
        for o in obs.iter_mut() {
            o.embeddings.clear();
        }
        assert!(multi(&obs).detail.ends_with("frames"), "{}", multi(&obs).detail);
    }

    fn kinds(f: &Folded, k: EventKind) -> Vec<(f64, f64)> {
        f.events.iter().filter(|e| e.kind == k).map(|e| (e.start_s, e.end_s)).collect()
    }

    #[test]
    fn no_face_needs_five_seconds_and_absences_from_two_are_marked() {
        let cfg = Config::default();
        // 4.75 s without a face (19 frames) is not enough ...
        let obs = seq(80, |i| if (20..39).contains(&i) { vec![] } else { vec![face(0.0, 0.3)] });
        assert!(kinds(&detect_events(&obs, 4.0, &cfg), EventKind::NoFace).is_empty());
        assert_eq!(absences(&obs, 4.0, &cfg.events), vec![[5.0, 9.75]]);
        // ... 5 s (20 frames) is, from the first to the end of the last empty frame
        let obs = seq(80, |i| if (20..40).contains(&i) { vec![] } else { vec![face(0.0, 0.3)] });
        let f = detect_events(&obs, 4.0, &cfg);
        assert_eq!(kinds(&f, EventKind::NoFace), vec![(5.0, 10.0)]);
        let e = &f.events[0];
        assert!((e.confidence - 1.0).abs() < 1e-6);
        assert_eq!(e.detail, "no face in 20 of 20 analysed frames");
        // leaning out for 1.75 s is neither an event nor a mark; 2 s is a mark only
        let obs = seq(80, |i| if (20..27).contains(&i) || (40..48).contains(&i) { vec![] } else { vec![face(0.0, 0.3)] });
        assert!(kinds(&detect_events(&obs, 4.0, &cfg), EventKind::NoFace).is_empty());
        assert_eq!(absences(&obs, 4.0, &cfg.events), vec![[10.0, 12.0]]);
    }

    #[test]
    fn short_gaps_merge_into_one_event_and_long_gaps_do_not() {
        let cfg = Config::default();
        // two faces 0-3 s, one face for 1 s (gap < 1.5 s), two faces 4-6 s
        let two = |i: usize| (0..12).contains(&i) || (16..24).contains(&i);
        let obs = seq(40, |i| if two(i) { vec![face(0.0, 0.3), face(0.0, 0.3)] } else { vec![face(0.0, 0.3)] });
        let f = detect_events(&obs, 4.0, &cfg);
        assert_eq!(kinds(&f, EventKind::MultipleFaces), vec![(0.0, 6.0)]);
        // coverage 20 of 24 frames, second face score 0.9
        assert!((f.events[0].confidence - 0.9 * 20.0 / 24.0).abs() < 1e-5);
        // with a 2 s gap they stay apart
        let two = |i: usize| (0..12).contains(&i) || (20..28).contains(&i);
        let obs = seq(40, |i| if two(i) { vec![face(0.0, 0.3), face(0.0, 0.3)] } else { vec![face(0.0, 0.3)] });
        assert_eq!(kinds(&detect_events(&obs, 4.0, &cfg), EventKind::MultipleFaces), vec![(0.0, 3.0), (5.0, 7.0)]);
    }

    #[test]
    fn sparse_glitches_do_not_add_up_to_an_event() {
        let cfg = Config::default();
        // three one-frame glitches 1.5 s apart: seen for 0.75 s in all, not 2 s
        let glitch = |i: usize| [4, 10, 16].contains(&i);
        let obs = seq(40, |i| if glitch(i) { vec![face(0.0, 0.3), face(0.0, 0.3)] } else { vec![face(0.0, 0.3)] });
        assert!(kinds(&detect_events(&obs, 4.0, &cfg), EventKind::MultipleFaces).is_empty());
        // eight glitches 1.25 s apart: 2 s of hits, but no run was seen for 2 s
        let glitch = |i: usize| i % 5 == 0 && i < 40;
        let obs = seq(44, |i| if glitch(i) { vec![face(0.0, 0.3), face(0.0, 0.3)] } else { vec![face(0.0, 0.3)] });
        assert!(kinds(&detect_events(&obs, 4.0, &cfg), EventKind::MultipleFaces).is_empty());
        // a real 3 s violation with a one-frame dropout stays one event
        let two = |i: usize| (0..6).contains(&i) || (7..13).contains(&i);
        let obs = seq(40, |i| if two(i) { vec![face(0.0, 0.3), face(0.0, 0.3)] } else { vec![face(0.0, 0.3)] });
        assert_eq!(kinds(&detect_events(&obs, 4.0, &cfg), EventKind::MultipleFaces), vec![(0.0, 3.25)]);
    }

    #[test]
    fn looking_away_is_judged_against_the_candidates_own_pose() {
        let cfg = Config::default();
        // camera placed to the side: the candidate's usual yaw is 30 deg;
        // 6 s at 65 deg is an event, the usual 30 deg is not
        let obs = seq(100, |i| vec![face(if (40..64).contains(&i) { 65.0 } else { 30.0 }, 0.3)]);
        let f = detect_events(&obs, 4.0, &cfg);
        assert_eq!(f.baseline.yaw, 30.0);
        assert_eq!(kinds(&f, EventKind::LookingAway), vec![(10.0, 16.0)]);
        // without the baseline the whole session would be flagged
        let mut raw = cfg.clone();
        raw.events.baseline = false;
        assert_eq!(kinds(&detect_events(&obs, 4.0, &raw), EventKind::LookingAway), vec![(0.0, 25.0)]);
    }

    #[test]
    fn pose_is_not_judged_while_someone_else_is_in_the_frame() {
        let cfg = Config::default();
        // 6 s with the largest face turned 60 deg: an event when it is alone ...
        let obs = seq(100, |i| if (40..64).contains(&i) { vec![face(60.0, 0.3)] } else { vec![face(0.0, 0.3)] });
        assert_eq!(kinds(&detect_events(&obs, 4.0, &cfg), EventKind::LookingAway), vec![(10.0, 16.0)]);
        // ... none when a second face is there (that is a multiple_faces event)
        let obs = seq(100, |i| {
            if (40..64).contains(&i) { vec![face(60.0, 0.3), face(0.0, 0.3)] } else { vec![face(0.0, 0.3)] }
        });
        let f = detect_events(&obs, 4.0, &cfg);
        assert!(kinds(&f, EventKind::LookingAway).is_empty());
        assert_eq!(kinds(&f, EventKind::MultipleFaces), vec![(10.0, 16.0)]);
    }

    #[test]
    fn eyes_closed_at_the_threshold_boundary() {
        let cfg = Config::default();
        // exactly 3 s below 0.21 is an event; 2.75 s is not; 0.21 itself is open
        let obs = seq(40, |i| vec![face(0.0, if (8..20).contains(&i) { 0.1 } else { 0.21 })]);
        assert_eq!(kinds(&detect_events(&obs, 4.0, &cfg), EventKind::EyesClosed), vec![(2.0, 5.0)]);
        let obs = seq(40, |i| vec![face(0.0, if (8..19).contains(&i) { 0.1 } else { 0.3 })]);
        assert!(kinds(&detect_events(&obs, 4.0, &cfg), EventKind::EyesClosed).is_empty());
    }

    #[test]
    fn objects_need_two_of_three_samples() {
        let cfg = Config::default();
        let phone = |s: f32| ObjectObs { class: "cell phone".into(), category: "phone".into(), score: s, bbox: [0.0; 4] };
        // object samples once a second; a phone in samples 2, 3 and 6 (lone)
        let mut obs = seq(40, |_| vec![face(0.0, 0.3)]);
        for (k, o) in obs.iter_mut().enumerate().filter(|(i, _)| i % 4 == 0) {
            let s = k / 4;
            o.objects = Some(if [2, 3, 6].contains(&s) { vec![phone(0.8)] } else { vec![] });
        }
        let f = detect_events(&obs, 4.0, &cfg);
        assert_eq!(kinds(&f, EventKind::Phone), vec![(2.0, 4.0)]);
        assert!(f.events[0].detail.starts_with("cell phone (max score 0.80)"));
        // below the category's score threshold nothing counts
        for o in obs.iter_mut().filter(|o| o.objects.is_some()) {
            for d in o.objects.as_mut().unwrap() {
                d.score = 0.2;
            }
        }
        assert!(kinds(&detect_events(&obs, 4.0, &cfg), EventKind::Phone).is_empty());
    }

    #[test]
    fn loud_audio_events_follow_the_level() {
        let cfg = Config::default();
        let mut obs = seq(40, |_| vec![face(0.0, 0.3)]);
        for o in &mut obs {
            o.audio_db = Some(if (12..20).contains(&o.index) { -6.0 } else { -45.0 });
        }
        let f = detect_events(&obs, 4.0, &cfg);
        assert_eq!(kinds(&f, EventKind::LoudAudio), vec![(3.0, 5.0)]);
        assert!(f.events[0].detail.contains("-6.0 dBFS"));
        // one frame over the ceiling is half a second of sound over it (each frame's level
        // is the RMS of the 0.5 s around it): a loud_audio event; loud speech under the
        // ceiling (speech_loud.webm's loudest half second is -16.4 dBFS) is nothing
        for o in &mut obs {
            o.audio_db = Some(match o.index {
                8 => -11.0,
                20..=27 => -16.4,
                _ => -45.0,
            });
            o.speech = Some(if (20..=27).contains(&o.index) { 1.0 } else { 0.0 });
        }
        let f = detect_events(&obs, 4.0, &cfg);
        assert_eq!(kinds(&f, EventKind::LoudAudio), vec![(2.0, 2.25)], "{:?}", f.events);
    }

    /// The candidate's own speech recorded loud (its median at -9 dBFS, its loudest half
    /// second at -6) is nothing; a burst at -6 dBFS without speech, or one well over the
    /// voice (-1 dBFS under the same speech), is loud_audio; the same loud speech said by
    /// another voice is over the ceiling.
    #[test]
    fn the_candidates_own_speech_never_fires_loud_audio_at_any_level() {
        let cfg = Config::default();
        let mut obs = seq(60, |_| vec![face(0.0, 0.3)]);
        for o in &mut obs {
            let talk = (8..40).contains(&o.index);
            o.speech = Some(if talk { 0.99 } else { 0.02 });
            o.other_voice = Some(0.0);
            o.audio_db = Some(match o.index {
                i if talk && i % 4 == 0 => -6.0,
                30 => -1.0,
                _ if talk => -9.0,
                50..=52 => -6.0,
                _ => -50.0,
            });
        }
        let f = detect_events(&obs, 4.0, &cfg);
        assert_eq!(kinds(&f, EventKind::LoudAudio), vec![(7.5, 7.75), (12.5, 13.25)], "{:?}", f.events);
        let e = f.events.iter().find(|e| e.kind == EventKind::LoudAudio).unwrap();
        assert!(e.detail.contains("under the candidate's speech (at -9 dBFS)"), "{}", e.detail);
        // another voice's speech: the plain ceiling
        for o in obs.iter_mut().filter(|o| (8..40).contains(&o.index)) {
            o.other_voice = Some(0.99);
        }
        let f = detect_events(&obs, 4.0, &cfg);
        assert_eq!(kinds(&f, EventKind::LoudAudio), vec![(2.0, 10.0), (12.5, 13.25)], "{:?}", f.events);
    }

    /// A thump whose half second is 16 dB over a -45 dBFS room but whose loudest 32 ms
    /// stand 27 dB over it (11 dB over its half second) is background_noise; a steady
    /// sound of the same half-second level and 32 ms 1 dB over it is not; neither is the
    /// thump near speech.
    #[test]
    fn an_impulse_is_judged_by_its_loudest_32_ms() {
        let cfg = Config::default();
        let mut obs = seq(80, |_| vec![face(0.0, 0.3)]);
        for o in &mut obs {
            o.speech = Some(if (60..70).contains(&o.index) { 0.9 } else { 0.0 });
            (o.audio_db, o.audio_peak_db) = match o.index {
                20 | 21 => (Some(-29.0), Some(-18.0)),
                40 | 41 => (Some(-29.0), Some(-28.0)),
                70 | 71 => (Some(-29.0), Some(-18.0)),
                60..=69 => (Some(-25.0), Some(-20.0)),
                _ => (Some(-45.0), Some(-44.0)),
            };
        }
        let f = detect_events(&obs, 4.0, &cfg);
        assert_eq!(kinds(&f, EventKind::BackgroundNoise), vec![(5.0, 5.5)], "{:?}", f.events);
        let e = f.events.iter().find(|e| e.kind == EventKind::BackgroundNoise).unwrap();
        assert!(e.detail.contains("its loudest 32 ms -18.0 dBFS, 27 dB above"), "{}", e.detail);
        // frames saved before audio_peak_dbfs was kept: judged on the half second alone
        for o in &mut obs {
            o.audio_peak_db = None;
        }
        assert!(kinds(&detect_events(&obs, 4.0, &cfg), EventKind::BackgroundNoise).is_empty());
    }

    #[test]
    fn background_noise_is_judged_against_the_room_and_never_on_speech() {
        let cfg = Config::default();
        // 30 s at 4 fps: a room at -50 dBFS; the candidate talks at -20 dBFS (8-12 s, and
        // very loud at -13 dBFS 20-22 s); noise at -28 dBFS 4-6 s; a slam of 0.5 s at
        // -14 dBFS at 15 s; a hum at -38 dBFS (12 dB above the room) 24-27 s
        let mut obs = seq(120, |_| vec![face(0.0, 0.3)]);
        for o in &mut obs {
            let t = o.t;
            let talk = (8.0..12.0).contains(&t) || (20.0..22.0).contains(&t);
            o.speech = Some(if talk { 0.9 } else { 0.05 });
            o.audio_db = Some(match t {
                t if (4.0..6.0).contains(&t) => -28.0,
                t if (8.0..12.0).contains(&t) => -20.0,
                t if (15.0..15.5).contains(&t) => -14.0,
                t if (20.0..22.0).contains(&t) => -13.0,
                t if (24.0..27.0).contains(&t) => -38.0,
                _ => -50.0,
            });
        }
        let f = detect_events(&obs, 4.0, &cfg);
        assert_eq!(kinds(&f, EventKind::BackgroundNoise), vec![(4.0, 6.0), (15.0, 15.5)], "{:?}", f.events);
        let e = f.events.iter().find(|e| e.kind == EventKind::BackgroundNoise).unwrap();
        assert!(e.detail.contains("22 dB above the room's floor (-50 dBFS; the candidate's speech is at -20 dBFS)"), "{}", e.detail);
        // the same slam 20 dB above the room (under the transient's 25 dB) is too short
        for o in obs.iter_mut().filter(|o| (15.0..15.5).contains(&o.t)) {
            o.audio_db = Some(-30.0);
        }
        assert_eq!(kinds(&detect_events(&obs, 4.0, &cfg), EventKind::BackgroundNoise), vec![(4.0, 6.0)]);
        // a sound over the ceiling is loud_audio, not also background_noise
        for o in obs.iter_mut().filter(|o| (4.0..6.0).contains(&o.t)) {
            o.audio_db = Some(-8.0);
        }
        let f = detect_events(&obs, 4.0, &cfg);
        assert_eq!(kinds(&f, EventKind::LoudAudio), vec![(4.0, 6.0)]);
        assert!(kinds(&f, EventKind::BackgroundNoise).is_empty(), "{:?}", f.events);
        // in digital silence a faint sound (under -45 dBFS) is not flagged, a -40 dBFS one is
        for o in &mut obs {
            o.speech = Some(0.0);
            o.audio_db = Some(if (4.0..6.0).contains(&o.t) { -48.0 } else if (10.0..12.0).contains(&o.t) { -40.0 } else { -95.0 });
        }
        assert_eq!(kinds(&detect_events(&obs, 4.0, &cfg), EventKind::BackgroundNoise), vec![(10.0, 12.0)]);
    }

    #[test]
    fn person_far_behind_is_not_in_the_room() {
        let cfg = Config::default();
        let person = |bbox: [f32; 4]| ObjectObs { class: "person".into(), category: "person".into(), score: 0.8, bbox };
        let mut obs = seq(40, |_| vec![face(0.0, 0.3)]);
        for o in obs.iter_mut().filter(|o| o.index % 4 == 0) {
            // the candidate's face is at [0, 0, 100, 100]: a small figure at the back, and
            // (from 5 s) someone standing near the camera beside the candidate
            let mut v = vec![person([400.0, 200.0, 440.0, 300.0])];
            if o.t >= 5.0 {
                v.push(person([300.0, 100.0, 520.0, 480.0]));
            }
            o.objects = Some(v);
        }
        let f = detect_events(&obs, 4.0, &cfg);
        assert_eq!(kinds(&f, EventKind::Person), vec![(5.0, 10.0)], "{:?}", f.events);
    }

    #[test]
    fn person_counts_people_not_boxes() {
        let face = [100.0, 50.0, 160.0, 120.0];
        let body = [60.0, 30.0, 220.0, 480.0];
        let body2 = [70.0, 40.0, 230.0, 470.0];
        let other = [400.0, 60.0, 600.0, 480.0];
        // one man: two overlapping boxes holding his face
        assert_eq!(extra_person(&[(body, 0.9), (body2, 0.6)], &[face]), None);
        // a torso box inside the body box is the same man
        assert_eq!(extra_person(&[(body, 0.9), ([80.0, 150.0, 200.0, 400.0], 0.7)], &[face]), None);
        // a second person with no face in view
        assert_eq!(extra_person(&[(body, 0.9), (other, 0.8)], &[face]), Some(0.8));
        // the candidate turned away (no face) and nobody else: nothing
        assert_eq!(extra_person(&[(body, 0.9)], &[]), None);
        assert_eq!(extra_person(&[(body, 0.9), (other, 0.7)], &[]), Some(0.7));
        // both people show faces: that is multiple_faces, not person
        assert_eq!(extra_person(&[(body, 0.9), (other, 0.8)], &[face, [450.0, 80.0, 520.0, 160.0]]), None);
    }

    #[test]
    fn eyes_are_judged_on_faces_big_enough_and_against_their_own_openness() {
        let cfg = Config::default();
        let with_eyes = |ear: f32, gap: f32| FaceObs { keypoints: vec![[100.0, 100.0], [100.0 + gap, 100.0]], ..face(0.0, ear) };
        // narrow eyes (usual EAR 0.2): not closed at 0.19; closed at 0.1
        let obs = seq(80, |i| vec![with_eyes(if (40..56).contains(&i) { 0.1 } else if i % 2 == 0 { 0.2 } else { 0.19 }, 40.0)]);
        let f = detect_events(&obs, 4.0, &cfg);
        assert!((f.baseline.ear - 0.195).abs() < 0.01, "{}", f.baseline.ear);
        assert_eq!(kinds(&f, EventKind::EyesClosed), vec![(10.0, 14.0)]);
        // a face too small to measure raises nothing, whatever the mesh said
        let obs = seq(80, |i| vec![with_eyes(if (40..56).contains(&i) { 0.05 } else { 0.3 }, 12.0)]);
        let f = detect_events(&obs, 4.0, &cfg);
        assert!(kinds(&f, EventKind::EyesClosed).is_empty());
        assert!(f.events.iter().all(|e| e.kind != EventKind::NoFace), "the small face still counts");
    }

    /// Eyes cast down for 7 s of a 12 s session, their openness hovering at the
    /// threshold (0.20, 0.22, 0.22 in turn; open eyes 0.32): one eyes_closed event.
    /// The yardstick is the open eyes (upper quartile 0.32, so the threshold is
    /// 0.21), not the median (0.22, which would put the threshold at 0.154), and
    /// the hysteresis keeps the 0.22 frames inside the closing: without it, runs
    /// of one frame broken by two open-looking ones never last 3 s.
    #[test]
    fn eyes_closing_at_the_threshold_is_one_event_against_open_eyes() {
        let mut cfg = Config::default();
        let down = |i: usize, other: f32| if (20..48).contains(&i) { [0.20, other, other][i % 3] } else { 0.32 };
        let obs = seq(48, |i| vec![face(0.0, down(i, 0.22))]);
        let f = detect_events(&obs, 4.0, &cfg);
        assert!((f.baseline.ear - 0.32).abs() < 1e-6, "{}", f.baseline.ear);
        // from the first frame under 0.21 (frame 21; frame 20 is a 0.22) to the end
        assert_eq!(kinds(&f, EventKind::EyesClosed), vec![(5.25, 12.0)]);
        // reopening above threshold + hysteresis (0.23) ends each run
        let obs = seq(48, |i| vec![face(0.0, down(i, 0.235))]);
        assert!(kinds(&detect_events(&obs, 4.0, &cfg), EventKind::EyesClosed).is_empty());
        // and without the hysteresis 0.22 is open
        cfg.events.eyes_closed_hysteresis = 0.0;
        let obs = seq(48, |i| vec![face(0.0, down(i, 0.22))]);
        assert!(kinds(&detect_events(&obs, 4.0, &cfg), EventKind::EyesClosed).is_empty());
        assert_eq!(upper_quartile(vec![4.0, 1.0, 3.0, 2.0, 5.0]), Some(4.0));
        assert_eq!(upper_quartile(vec![]), None);
    }

    #[test]
    fn no_observations_no_events() {
        assert!(detect_events(&[], 4.0, &Config::default()).events.is_empty());
    }
    /// Observations 2 s apart for 120 s, each with one frontal face described
    /// by `f(i)` (a descriptor with `x`, `y` in its first two values).
    fn described(f: impl Fn(usize) -> (f32, f32)) -> Vec<Observation> {
        (0..60)
            .map(|i| {
                let (x, y) = f(i);
                let mut d = vec![0f32; crate::detect::face_embed::EMBEDDING_DIM];
                d[0] = x;
                d[1] = y;
                let mut fo = face(0.0, 0.3);
                fo.bbox = [100.0, 50.0, 200.0, 170.0];
                fo.keypoints = vec![[125.0, 90.0], [175.0, 90.0]];
                Observation {
                    index: i * 8,
                    t: 2.0 * i as f64,
                    pts: 2.0 * i as f64,
                    width: 320,
                    height: 240,
                    faces: Some(vec![fo]),
                    embeddings: vec![crate::observation::FaceEmbedding { face: 0, descriptor: d, distance: None }],
                    ..Default::default()
                }
            })
            .collect()
    }

    /// Poor enrolled samples: the opening's 5 descriptors (a dim opening) lie 0.35 from
    /// the candidate's usual face, towards the stand-in, so the stand-in is 0.55 from
    /// the enrolled mean: under the same-person threshold, and enrolment alone raises
    /// nothing. Clustering, on the identities' centres over the whole recording (0.85
    /// apart), raises candidate_changed at the swap, and the detail says so.
    #[test]
    fn clustering_raises_a_swap_that_poor_enrolled_samples_miss() {
        let jitter = |i: usize| 0.01 * ((i * 7) % 5) as f32;
        let mut obs = described(|i| match i {
            0..5 => (0.35, jitter(i)),
            5..30 => (jitter(i), 0.0),
            _ => (0.9, jitter(i)),
        });
        let cfg = Config::default();
        let compared = crate::identity::attach_distances(&mut obs, None, &cfg.events);
        let Some(crate::identity::Compared::Enrolled(face, found)) = compared else { panic!("{compared:?}") };
        assert!(face.t < 10.0);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(obs[30..].iter().all(|o| o.identity_distance.is_some_and(|d| d < 0.6)), "the enrolment alone sees no one else");
        let ev = detect_events(&obs, 4.0, &cfg).events;
        assert_eq!(ev.len(), 1, "{ev:?}");
        let e = &ev[0];
        assert_eq!(e.kind, EventKind::CandidateChanged);
        assert!((e.start_s - 60.0).abs() < 1e-9 && e.end_s >= 118.0, "{e:?}");
        assert!(e.detail.starts_with("raised by clustering alone"), "{}", e.detail);
        // with clustering off (a gap no two identities reach), nothing is raised
        let mut off = cfg.clone();
        off.events.identity_cluster_gap = 10.0;
        let mut obs2 = obs.clone();
        crate::identity::attach_distances(&mut obs2, None, &off.events);
        assert!(detect_events(&obs2, 4.0, &off).events.is_empty());
        // a good opening: both signals see the stand-in, and the detail names both
        let mut good = described(|i| if i < 30 { (jitter(i), 0.0) } else { (0.9, jitter(i)) });
        crate::identity::attach_distances(&mut good, None, &cfg.events);
        let ev = detect_events(&good, 4.0, &cfg).events;
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert!(ev[0].detail.starts_with("raised by enrolment and clustering"), "{}", ev[0].detail);
    }
}
