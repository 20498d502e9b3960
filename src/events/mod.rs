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
/// What each kind needs is its own ([`crate::kinds::needs`]).
pub fn checked_kinds_with_identity(
    faces: bool,
    objects: bool,
    audio: bool,
    speech: bool,
    identity: Option<bool>,
) -> std::collections::BTreeSet<EventKind> {
    use crate::kinds::Needs;
    EventKind::ALL
        .into_iter()
        .filter(|k| match crate::kinds::needs(*k) {
            Needs::Faces => faces,
            Needs::Objects => objects,
            Needs::Audio => audio,
            Needs::Speech => speech,
            Needs::Reference => identity == Some(true),
            Needs::Enrolment => identity == Some(false),
        })
        .collect()
}

/// What every kind's rule reads: the frames, their interval, the
/// configuration, the candidate's usual pose, and the events of the kinds
/// before it (a kind may leave out what an earlier one covers).
pub(crate) struct Ctx<'a> {
    pub(crate) obs: &'a [Observation],
    pub(crate) step: f64,
    pub(crate) cfg: &'a Config,
    pub(crate) baseline: Baseline,
}

impl Ctx<'_> {
    fn c(&self) -> &EventConfig {
        &self.cfg.events
    }

    fn faces_of(&self, o: &Observation) -> Option<Vec<f32>> {
        o.faces_above(self.c().face_min_score as f32).map(|f| f.map(|x| x.score).collect())
    }
}

/// Turn time-ordered observations (one every `1 / fps` seconds) into events:
/// each kind's rule in turn, in the order of [`EventKind::ALL`].
pub fn detect_events(obs: &[Observation], fps: f64, cfg: &Config) -> Folded {
    let c = &cfg.events;
    let baseline = if c.baseline { Baseline::from_observations(obs, c.eye_min_distance_px as f32) } else { Baseline::default() };
    let ctx = Ctx { obs, step: 1.0 / fps, cfg, baseline };
    let mut events = Vec::new();
    for kind in EventKind::ALL {
        let found = rule(kind, &ctx, &events);
        events.extend(found);
    }
    events.sort_by(|a, b| a.start_s.total_cmp(&b.start_s).then(a.kind.cmp(&b.kind)));
    Folded { events, baseline }
}

/// The rule of `kind` over the frames, given the events raised before it.
fn rule(kind: EventKind, ctx: &Ctx, before: &[Event]) -> Vec<Event> {
    use EventKind::*;
    match kind {
        NoFace => no_face(ctx),
        MultipleFaces => multiple_faces(ctx),
        LookingAway => looking_away(ctx),
        GazeAway => gaze_away(ctx),
        EyesClosed => eyes_closed(ctx),
        Phone | Book | Device => object_events(ctx, kind),
        // a second person whose face is also seen is already a multiple_faces event
        Person => outside(object_events(ctx, kind), before, MultipleFaces),
        LoudAudio => loud_audio(ctx),
        Voices => voices(ctx),
        Identity | CandidateChanged => identity(ctx, kind),
        // where loud_audio covers the time, it says enough
        BackgroundNoise => outside(background_noise(ctx), before, LoudAudio),
    }
}

/// `events` that overlap no event of `kind` in `before`.
fn outside(events: Vec<Event>, before: &[Event], kind: EventKind) -> Vec<Event> {
    let covered: Vec<(f64, f64)> = before.iter().filter(|e| e.kind == kind).map(|e| (e.start_s, e.end_s)).collect();
    events.into_iter().filter(|e| !covered.iter().any(|(a, b)| e.start_s < *b && *a < e.end_s)).collect()
}

fn no_face(ctx: &Ctx) -> Vec<Event> {
    let t = &ctx.cfg.rules.no_face;
    fold(&faceless(ctx.obs, ctx.cfg), ctx.step, ctx.c().merge_gap_s, t.min_s)
        .into_iter()
        .map(|r| {
            let detail = crate::kinds::no_face::detail(r.hits.len(), r.samples);
            r.into_event(EventKind::NoFace, detail)
        })
        .collect()
}

/// Several faces: strength is the second face's detector score.
fn multiple_faces(ctx: &Ctx) -> Vec<Event> {
    let (obs, c) = (ctx.obs, ctx.c());
    let counts: Vec<(f64, usize)> = obs.iter().map(|o| (o.t, ctx.faces_of(o).map_or(0, |f| f.len()))).collect();
    let signal: Vec<_> = obs.iter().map(|o| (o.t, ctx.faces_of(o).and_then(|f| (f.len() >= 2).then(|| f[1])))).collect();
    let mut out = Vec::new();
    for r in fold(&signal, ctx.step, c.merge_gap_s, ctx.cfg.rules.multiple_faces.min_s) {
        let most = counts.iter().filter(|(t, _)| *t >= r.start && *t < r.end).map(|(_, n)| *n).max().unwrap_or(0);
        let which = candidate_among(obs, r.start, r.end, c.face_min_score as f32);
        let detail = crate::kinds::multiple_faces::detail(most, r.hits.len(), r.samples, which.as_deref());
        out.push(r.into_event(EventKind::MultipleFaces, detail));
    }
    out
}

/// Head pose relative to the baseline.
fn looking_away(ctx: &Ctx) -> Vec<Event> {
    use crate::kinds::looking_away::{detail, strength};
    let (c, b, t) = (ctx.c(), ctx.baseline, &ctx.cfg.rules.looking_away);
    let signal: Vec<_> = ctx
        .obs
        .iter()
        .map(|o| {
            let f = o.solo_face(c.face_min_score as f32);
            (o.t, f.and_then(|f| strength(f.yaw?, f.pitch?, b.yaw, b.pitch, t)))
        })
        .collect();
    let mut out = Vec::new();
    for r in fold(&signal, ctx.step, c.merge_gap_s, t.min_s) {
        let (yaws, pitches) = pose_in(ctx.obs, r.start, r.end);
        let d = detail(median(yaws).unwrap_or(f32::NAN), median(pitches).unwrap_or(f32::NAN), b.yaw, b.pitch);
        out.push(r.into_event(EventKind::LookingAway, d));
    }
    out
}

/// Iris offset relative to the baseline.
fn gaze_away(ctx: &Ctx) -> Vec<Event> {
    use crate::kinds::gaze_away::{detail, strength};
    let (c, b, t) = (ctx.c(), ctx.baseline, &ctx.cfg.rules.gaze_away);
    let signal: Vec<_> = ctx
        .obs
        .iter()
        .map(|o| {
            let f = o.solo_face(c.face_min_score as f32).filter(|f| f.eye_distance() >= c.eye_min_distance_px as f32);
            (o.t, f.and_then(|f| strength(f.yaw?, f.gaze_x?, b.yaw, b.gaze_x, t)))
        })
        .collect();
    let mut out = Vec::new();
    for r in fold(&signal, ctx.step, c.merge_gap_s, t.min_s) {
        let gx: Vec<f32> = in_span(ctx.obs, r.start, r.end).filter_map(|o| o.primary_face()?.gaze_x).collect();
        let d = detail(median(gx).unwrap_or(f32::NAN), b.gaze_x);
        out.push(r.into_event(EventKind::GazeAway, d));
    }
    out
}

/// Eyes closed, against the candidate's own eye openness.
fn eyes_closed(ctx: &Ctx) -> Vec<Event> {
    let (c, t) = (ctx.c(), &ctx.cfg.rules.eyes_closed);
    let closed = t.closed_ear(ctx.baseline.ear);
    let reopened = closed + t.hysteresis as f32;
    let mut closing = false;
    let signal: Vec<_> = ctx
        .obs
        .iter()
        .map(|o| {
            let ear = o.solo_face(c.face_min_score as f32).filter(|f| f.eye_distance() >= c.eye_min_distance_px as f32).and_then(|f| f.ear());
            // below the threshold closes; only above it plus the hysteresis reopens
            closing = ear.is_some_and(|e| e < closed || (closing && e < reopened));
            (o.t, ear.filter(|_| closing).map(|e| (1.5 - e / closed).clamp(0.0, 1.0)))
        })
        .collect();
    let mut out = Vec::new();
    for r in fold(&signal, ctx.step, c.merge_gap_s, t.min_s) {
        let ears: Vec<f32> = in_span(ctx.obs, r.start, r.end).filter_map(|o| o.primary_face()?.ear()).collect();
        let d = crate::kinds::eyes_closed::detail(median(ears).unwrap_or(f32::NAN), closed, t, ctx.baseline.ear);
        out.push(r.into_event(EventKind::EyesClosed, d));
    }
    out
}

/// The absolute ceiling ([`crate::kinds::loud_audio`]), higher under the
/// candidate's own speech (speech no signal calls another voice's).
fn loud_audio(ctx: &Ctx) -> Vec<Event> {
    use crate::kinds::loud_audio::{ceiling, detail, strength};
    let (obs, c, t) = (ctx.obs, ctx.c(), &ctx.cfg.rules.loud_audio);
    let own_speech = |o: &Observation| o.speech.is_some_and(|p| p as f64 >= c.speech_min) && !o.other_voice.is_some_and(|v| v > 0.0);
    let speech_db = median(obs.iter().filter(|o| own_speech(o)).filter_map(|o| o.audio_db).collect());
    let signal: Vec<_> =
        obs.iter().map(|o| (o.t, o.audio_db.and_then(|db| strength(db, ceiling(own_speech(o), speech_db, t))))).collect();
    let mut out = Vec::new();
    for r in fold(&signal, ctx.step, c.merge_gap_s, t.min_s) {
        let peak = in_span(obs, r.start, r.end).filter_map(|o| o.audio_db).fold(f32::MIN, f32::max);
        out.push(r.into_event(EventKind::LoudAudio, detail(peak, speech_db, t)));
    }
    out
}

/// The lone face against the reference photo (`identity`), or the enrolled
/// candidate and, for `candidate_changed`, the second signal: the identity
/// clustering gave it.
fn identity(ctx: &Ctx, kind: EventKind) -> Vec<Event> {
    let (obs, c) = (ctx.obs, ctx.c());
    let min_s = if kind == EventKind::Identity { ctx.cfg.rules.identity.min_s } else { ctx.cfg.rules.candidate_changed.min_s };
    let enrolment = |o: &Observation| if kind == EventKind::Identity { o.reference_distance } else { o.identity_distance };
    let cluster = |o: &Observation| if kind == EventKind::Identity { None } else { o.cluster_distance };
    let sampled: Vec<&Observation> = obs.iter().filter(|o| enrolment(o).is_some() || cluster(o).is_some()).collect();
    if sampled.is_empty() {
        return Vec::new();
    }
    let step = ctx.step;
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
    let mut out = Vec::new();
    for r in fold(&signal, istep, c.merge_gap_s.max(istep * 1.5), min_s) {
        let span: Vec<&Observation> = sampled.iter().copied().filter(|o| o.t >= r.start - 1e-9 && o.t < r.end - 1e-9).collect();
        let detail = identity_detail(kind, &span, c, r.hits.len(), r.samples);
        out.push(r.into_event(kind, detail));
    }
    out
}

/// Another voice: speech that the picture or the voice says is not the candidate's.
fn voices(ctx: &Ctx) -> Vec<Event> {
    let (obs, c) = (ctx.obs, ctx.c());
    let signal: Vec<_> = obs.iter().map(|o| (o.t, o.other_voice.filter(|v| *v > 0.0))).collect();
    let enrolled = obs.iter().any(|o| o.voice_similarity.is_some());
    let mut out = Vec::new();
    for r in fold(&signal, ctx.step, c.merge_gap_s, ctx.cfg.rules.voices.min_s) {
        let span: Vec<&Observation> = in_span(obs, r.start, r.end).collect();
        let detail = voices_detail(&span, c, enrolled, r.hits.len(), r.samples);
        out.push(r.into_event(EventKind::Voices, detail));
    }
    out
}

/// Stretches without a counted face seen for at least `[rules.no_face]
/// absence_mark_s` (one missing frame does not break one; none are joined):
/// the report draws them on its timeline, also those too short for a
/// `no_face` event.
pub fn absences(obs: &[Observation], fps: f64, cfg: &Config) -> Vec<[f64; 2]> {
    fold(&faceless(obs, cfg), 1.0 / fps, 0.0, cfg.rules.no_face.absence_mark_s).into_iter().map(|r| [r.start, r.end]).collect()
}

/// Per frame, 1 where the face detector's view holds no counted face (none
/// at `face_min_score` or more), nothing where it counts one or did not look:
/// `no_face`'s signal and the report's absences alike.
fn faceless(obs: &[Observation], cfg: &Config) -> Vec<(f64, Option<f32>)> {
    let min = cfg.events.face_min_score as f32;
    obs.iter().map(|o| (o.t, o.faces_above(min).and_then(|mut f| f.next().is_none().then_some(1.0)))).collect()
}

/// `background_noise` ([`crate::kinds::background_noise`]): frames with no speech near
/// them (none, or the VAD did not run: then every frame counts as non-speech) standing out
/// of the room's levels, folded into runs; a run is an event when the kind says so.
fn background_noise(ctx: &Ctx) -> Vec<Event> {
    use crate::kinds::background_noise::{detail, is_event, strength, RoomLevels, SPEECH_MARGIN_S};
    let (obs, step, c, t) = (ctx.obs, ctx.step, ctx.c(), ctx.cfg.rules.background_noise);
    let is_speech = |o: &&Observation| o.speech.is_some_and(|p| p as f64 >= c.speech_min);
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
