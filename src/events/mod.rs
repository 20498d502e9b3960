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

mod objects;
mod runs;
mod wording;

pub use crate::kinds::EventKind;
pub use crate::records::{Baseline, Event};
use crate::config::{Config, EventConfig};
use crate::kinds::median;
use crate::observation::Observation;
use objects::object_events;
use runs::{fold, Folded};
use wording::{candidate_among, identity_detail, voices_detail};

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

fn in_span(obs: &[Observation], start: f64, end: f64) -> impl Iterator<Item = &Observation> {
    obs.iter().filter(move |o| o.t >= start - 1e-9 && o.t < end - 1e-9)
}

fn pose_in(obs: &[Observation], start: f64, end: f64) -> (Vec<f32>, Vec<f32>) {
    let faces: Vec<_> = in_span(obs, start, end).filter_map(|o| o.primary_face()).collect();
    (faces.iter().filter_map(|f| f.yaw).collect(), faces.iter().filter_map(|f| f.pitch).collect())
}

#[cfg(test)]
mod tests;
