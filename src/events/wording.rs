//! What an event says: each kind's rule in words, and the details of identity and voices events.

use crate::config::{Config, EventConfig};
use crate::kinds::{median, EventKind};
use crate::observation::Observation;

use super::*;

impl EventKind {
    /// Why an event of this kind is raised, in words for the report (each
    /// kind's own, from its home in [`crate::kinds`]).
    pub fn rule(self, cfg: &Config) -> String {
        use crate::kinds::*;
        let (r, c) = (&cfg.rules, &cfg.events);
        match self {
            EventKind::NoFace => no_face::rule(&r.no_face),
            EventKind::MultipleFaces => multiple_faces::rule(&r.multiple_faces),
            EventKind::LookingAway => looking_away::rule(&r.looking_away),
            EventKind::GazeAway => gaze_away::rule(&r.gaze_away),
            EventKind::EyesClosed => eyes_closed::rule(&r.eyes_closed, c.eye_min_distance_px),
            EventKind::Phone | EventKind::Book | EventKind::Device => {
                objects::rule(self.as_str(), &r.sighting(self).expect("an object kind"))
            }
            EventKind::Person => person::rule(&r.person),
            EventKind::LoudAudio => loud_audio::rule(&r.loud_audio),
            EventKind::Voices => voices::rule(&r.voices, &c.whose_voice()),
            EventKind::Identity => identity::rule(&r.identity, c.identity_max_distance),
            EventKind::BackgroundNoise => background_noise::rule(&r.background_noise, c.speech_min),
            EventKind::CandidateChanged => candidate_changed::rule(&r.candidate_changed, &c.enrolment()),
        }
    }
}

/// What raised an `identity` or `candidate_changed` event over the samples
/// `span`: the distance from the reference photo or the enrolled candidate
/// (enrolment), and for `candidate_changed` the second identity clustering
/// found (see [`crate::identity`]); the detail names the signals that saw it.
pub(super) fn identity_detail(kind: EventKind, span: &[&Observation], c: &EventConfig, hits: usize, samples: usize) -> String {
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
pub(super) fn voices_detail(span: &[&Observation], c: &EventConfig, enrolled: bool, hits: usize, samples: usize) -> String {
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
pub(super) fn candidate_among(obs: &[Observation], start: f64, end: f64, min_score: f32) -> Option<String> {
    let several: Vec<&Observation> = in_span(obs, start, end)
        .filter(|o| o.faces_above(min_score).is_some_and(|f| f.count() >= 2) && o.faces_described)
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

pub(super) fn ordinal(n: usize) -> String {
    match n {
        2 => "second".into(),
        3 => "third".into(),
        n => format!("{n}th"),
    }
}
