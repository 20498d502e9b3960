//! The per-frame measurements a view plots over time (faces in view, head
//! yaw, gaze, eye openness, audio, identity distances, speech), bucketed and
//! clamped with the thresholds that apply: one place for the PDF report's
//! figure and the review page's plots.

use serde::Serialize;

use crate::config::Config;
use crate::records::{Baseline, Observation};

/// A per-frame measurement drawn over time: `points` are `[t, value]`
/// (value `None` where it was not measured), bucketed to a few hundred.
#[derive(Debug, Clone, Serialize)]
pub struct Signal {
    pub name: String,
    pub min: f64,
    pub max: f64,
    /// Threshold lines to draw.
    pub marks: Vec<f64>,
    pub points: Vec<(f64, Option<f64>)>,
}

/// Most points per signal in the report's figure.
pub const MAX_SIGNAL_POINTS: usize = 400;

/// The signals: faces in view, head yaw and gaze against the candidate's
/// usual pose, eye openness, audio level, identity distances, speech and
/// voices, with at most `max_points` points each (the review page draws more
/// than the report).
pub fn series(obs: &[Observation], baseline: &Baseline, cfg: &Config, max_points: usize) -> Vec<Signal> {
    if obs.is_empty() {
        return Vec::new();
    }
    let max_points = max_points.max(1);
    let per = obs.len().div_ceil(max_points).max(1);
    // within a bucket keep the value farthest from zero (the one worth seeing)
    let series = |f: &dyn Fn(&Observation) -> Option<f64>| -> Vec<(f64, Option<f64>)> {
        obs.chunks(per)
            .map(|c| (c[0].t, c.iter().filter_map(f).fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| if v.abs() > a.abs() { v } else { a })))))
            .collect()
    };
    let e = &cfg.events;
    let min_score = e.face_min_score as f32;
    let mut out = vec![Signal {
        name: "faces".into(),
        min: 0.0,
        max: 3.0,
        marks: vec![1.0],
        points: series(&|o| o.faces_above(min_score).map(|f| f.count().min(3) as f64)),
    }];
    let yaw = series(&|o| o.solo_face(min_score).and_then(|f| f.yaw).map(|y| (y - baseline.yaw) as f64));
    if yaw.iter().any(|p| p.1.is_some()) {
        let lim = cfg.rules.looking_away.yaw_deg;
        out.push(Signal { name: "head yaw (deg)".into(), min: -2.0 * lim, max: 2.0 * lim, marks: vec![-lim, lim], points: yaw });
        let g = cfg.rules.gaze_away.ratio;
        out.push(Signal {
            name: "gaze sideways".into(),
            min: -3.0 * g,
            max: 3.0 * g,
            marks: vec![-g, g],
            points: series(&|o| o.solo_face(min_score).and_then(|f| f.gaze_x).map(|x| (x - baseline.gaze_x) as f64)),
        });
        out.push(Signal {
            name: "eye aspect ratio".into(),
            min: 0.0,
            max: 0.45,
            marks: vec![cfg.rules.eyes_closed.closed_ear(baseline.ear) as f64],
            points: series(&|o| o.primary_face().and_then(|f| f.ear()).map(f64::from)),
        });
    }
    let audio = series(&|o| o.audio_db.map(|d| (d as f64).max(-80.0)));
    if audio.iter().any(|p| p.1.is_some()) {
        out.push(Signal { name: "audio (dBFS)".into(), min: -80.0, max: 0.0, marks: vec![cfg.rules.loud_audio.db], points: audio });
    }
    for (name, get) in [
        ("identity distance", (|o: &Observation| o.identity_distance) as fn(&Observation) -> Option<f32>),
        ("distance to reference", |o: &Observation| o.reference_distance),
    ] {
        let pts: Vec<(f64, Option<f64>)> = obs.iter().filter_map(|o| get(o).map(|d| (o.t, Some(f64::from(d))))).collect();
        if !pts.is_empty() {
            let step = pts.len().div_ceil(max_points).max(1);
            let points = pts.chunks(step).map(|c| (c[0].0, c.iter().filter_map(|p| p.1).reduce(f64::max))).collect();
            out.push(Signal { name: name.into(), min: 0.0, max: 1.2, marks: vec![e.identity_max_distance], points });
        }
    }
    let speech = series(&|o| o.speech.map(f64::from));
    if speech.iter().any(|p| p.1.is_some()) {
        out.push(Signal { name: "speech probability".into(), min: 0.0, max: 1.0, marks: vec![e.speech_min], points: speech });
        let voice = series(&|o| o.voice_similarity.map(f64::from));
        if voice.iter().any(|p| p.1.is_some()) {
            out.push(Signal {
                name: "voice similarity to the candidate".into(),
                min: 0.0,
                max: 1.0,
                marks: vec![e.voice_other_max, e.voice_same_min],
                points: voice,
            });
        }
        // any value above 0 is another voice (its height: the speech probability, lower
        // when only one of picture and voice says so)
        out.push(Signal {
            name: "other voice".into(),
            min: 0.0,
            max: 1.0,
            marks: vec![],
            points: series(&|o| o.other_voice.map(f64::from)),
        });
    }
    for s in &mut out {
        for p in &mut s.points {
            p.1 = p.1.map(|v| v.clamp(s.min, s.max));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::FaceObs;

    #[test]
    fn signals_are_bucketed_relative_and_clamped() {
        let face = |yaw: f32| FaceObs {
            bbox: [0.0, 0.0, 10.0, 10.0],
            score: 0.9,
            keypoints: vec![],
            yaw: Some(yaw),
            pitch: Some(0.0),
            roll: Some(0.0),
            ear_left: Some(0.3),
            ear_right: Some(0.3),
            gaze_x: Some(0.0),
            gaze_y: Some(0.0),
            mouth_open: None,
        };
        let obs: Vec<Observation> = (0..1000)
            .map(|i| Observation::with_faces(i, i as f64 / 4.0, (10, 10), if i == 500 { vec![face(200.0)] } else { vec![face(10.0)] }))
            .collect();
        let base = Baseline { yaw: 10.0, ..Default::default() };
        let s = series(&obs, &base, &Config::default(), MAX_SIGNAL_POINTS);
        let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["faces", "head yaw (deg)", "gaze sideways", "eye aspect ratio"]);
        let yaw = &s[1];
        assert!(yaw.points.len() <= MAX_SIGNAL_POINTS);
        // relative to the baseline, the outlier kept by its bucket and clamped to the range
        assert_eq!(yaw.points[0].1, Some(0.0));
        assert_eq!(yaw.points.iter().filter_map(|p| p.1).fold(0.0, f64::max), 50.0);
        assert!(series(&[], &base, &Config::default(), MAX_SIGNAL_POINTS).is_empty());
    }
}
