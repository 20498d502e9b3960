//! What the detectors saw in one analysed frame: the record that flows from
//! detection to events, and that the frames Parquet file stores.

pub use crate::records::{FaceEmbedding, FaceObs, ObjectObs, Observation};

/// Fill in [`Observation::mouth_motion`]: the standard deviation of the lone
/// face's lip opening over the frames within 0.5 s of each one (at least 3).
pub fn mouth_motion(obs: &mut [Observation], min_score: f32) {
    let open: Vec<(f64, Option<f32>)> = obs.iter().map(|o| (o.t, o.solo_face(min_score).and_then(|f| f.mouth_open))).collect();
    for (i, o) in obs.iter_mut().enumerate() {
        let near: Vec<f32> = open
            .iter()
            .skip(i.saturating_sub(64))
            .take(129)
            .filter(|(t, _)| (t - open[i].0).abs() <= 0.5 + 1e-9)
            .filter_map(|(_, v)| *v)
            .collect();
        o.mouth_motion = (near.len() >= 3 && open[i].1.is_some()).then(|| {
            let m = near.iter().sum::<f32>() / near.len() as f32;
            (near.iter().map(|v| (v - m).powi(2)).sum::<f32>() / near.len() as f32).sqrt()
        });
    }
}

/// Strength of a claim of another voice made by one signal (the picture or the voice)
/// while the other cannot tell: the speech probability is scaled by this.
pub const ONE_SIGNAL: f32 = 0.75;
/// Partials (1.6 s each, overlapping) the candidate's voice must be enrolled from.
pub const VOICE_ENROL_MIN_PARTIALS: usize = 2;

/// What the picture says of speech at one frame: `Some(true)` another voice (no face in
/// view, or the lone face's lips still), `Some(false)` possibly the candidate's (their
/// lips move), `None` cannot tell (several faces, or lips not measured).
fn picture_says_other(o: &Observation, c: &crate::config::EventConfig) -> Option<bool> {
    match o.faces_above(c.face_min_score as f32).map(|f| f.count()) {
        Some(0) => Some(true),
        Some(1) => o.mouth_motion.map(|m| m < c.mouth_still as f32),
        _ => None,
    }
}

/// What the voice says at one frame: `Some(true)` another voice (similarity to the
/// enrolled candidate below `voice_other_max`), `Some(false)` the candidate's (at least
/// `voice_same_min`), `None` in between or not measured.
pub fn voice_says_other(o: &Observation, c: &crate::config::EventConfig) -> Option<bool> {
    let s = o.voice_similarity?;
    if s < c.voice_other_max as f32 {
        Some(true)
    } else if s >= c.voice_same_min as f32 {
        Some(false)
    } else {
        None
    }
}

/// True when the picture shows no face at this frame (with face detection run).
pub fn nobody_in_view(o: &Observation, c: &crate::config::EventConfig) -> bool {
    o.faces_above(c.face_min_score as f32).is_some_and(|mut f| f.next().is_none())
}

/// True when the picture says the speech at this frame is another voice.
pub fn picture_other(o: &Observation, c: &crate::config::EventConfig) -> bool {
    picture_says_other(o, c) == Some(true)
}

/// True when the picture says the speech at this frame may be the candidate's: a lone
/// face whose lips move.
pub fn picture_talking(o: &Observation, c: &crate::config::EventConfig) -> bool {
    picture_says_other(o, c) == Some(false)
}

/// Fill in [`Observation::other_voice`] from speech, the picture and the voice. Speech is
/// another voice when both signals say so (strength = the speech probability), or when
/// one says so and the other cannot tell (× [`ONE_SIGNAL`]); when they disagree, the voice
/// decides (at [`ONE_SIGNAL`] when it says another voice): a candidate talking with still
/// lips, or off camera, in their own voice is not flagged; a second voice while the
/// candidate's lips move is. With several faces in
/// view nothing is claimed (that is `multiple_faces`). Without a voice enrolment
/// (`enrolled` false) the picture decides alone, at full strength, as before there was a
/// voice signal.
pub fn other_voice(obs: &mut [Observation], c: &crate::config::EventConfig, enrolled: bool) {
    for o in obs.iter_mut() {
        let Some(p) = o.speech else { continue };
        let several = o.faces_above(c.face_min_score as f32).is_some_and(|f| f.count() >= 2);
        let strength = if p < c.speech_min as f32 || several {
            0.0
        } else if !enrolled {
            if picture_says_other(o, c) == Some(true) { 1.0 } else { 0.0 }
        } else {
            match (picture_says_other(o, c), voice_says_other(o, c)) {
                (Some(true), Some(true)) => 1.0,
                (Some(true), None) | (_, Some(true)) => ONE_SIGNAL,
                _ => 0.0,
            }
        };
        o.other_voice = Some(p * strength);
    }
}

/// The candidate's voice, enrolled from the session.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceEnrolment {
    /// The L2-normalised mean of the partials' embeddings.
    pub embedding: Vec<f32>,
    /// Partials it was enrolled from.
    pub partials: usize,
    /// Seconds of speech they cover (overlaps counted once).
    pub seconds: f64,
    /// The stretches of media time they cover (overlapping partials joined), so that a
    /// reviewer can listen to what was taken for the candidate's voice.
    pub spans: Vec<(f64, f64)>,
}

/// Why no voice could be enrolled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoEnrolment {
    /// Fewer than [`VOICE_ENROL_MIN_PARTIALS`] partials of speech while the lips moved.
    NotSeenTalking,
    /// No one voice held more than half of them.
    NoDominantVoice,
}

/// Enrol the candidate's voice from the 1.6 s partial utterances of the speech segments
/// during which, in at least half of the analysed frames, a lone face is in view with
/// its lips moving (lip-opening variation at least `mouth_still`): the dominant voice
/// among them (the partial with the most others not unlike it, similarity at least
/// `voice_other_max`, averaged with those), which must hold more than
/// half of them: a second voice heard while the candidate's lips happen to move is not
/// taken for theirs. Needs at least [`VOICE_ENROL_MIN_PARTIALS`] partials.
pub fn enrol_voice(
    obs: &[Observation],
    segments: &[crate::audio::VoiceSegment],
    c: &crate::config::EventConfig,
) -> Result<VoiceEnrolment, NoEnrolment> {
    let min_score = c.face_min_score as f32;
    let talking = |a: f64, b: f64| {
        let (i, j) = (obs.partition_point(|o| o.t < a), obs.partition_point(|o| o.t < b));
        let span = &obs[i..j];
        let moving = span
            .iter()
            .filter(|o| o.solo_face(min_score).is_some() && o.mouth_motion.is_some_and(|m| m >= c.mouth_still as f32))
            .count();
        !span.is_empty() && 2 * moving >= span.len()
    };
    let talked: Vec<&crate::audio::VoicePartial> =
        segments.iter().flat_map(|s| &s.partials).filter(|p| talking(p.start_s, p.end_s)).collect();
    if talked.len() < VOICE_ENROL_MIN_PARTIALS {
        return Err(NoEnrolment::NotSeenTalking);
    }
    let same = c.voice_other_max as f32;
    let near = |p: &crate::audio::VoicePartial| -> Vec<&crate::audio::VoicePartial> {
        talked.iter().copied().filter(|q| crate::audio::cosine(&p.embedding, &q.embedding) >= same).collect()
    };
    let chosen = talked.iter().map(|p| near(p)).max_by_key(|n| n.len()).unwrap_or_default();
    if 2 * chosen.len() <= talked.len() {
        return Err(NoEnrolment::NoDominantVoice);
    }
    let embedding = crate::audio::speaker::mean_embedding(chosen.iter().map(|p| p.embedding.as_slice())).ok_or(NoEnrolment::NotSeenTalking)?;
    let mut spans: Vec<(f64, f64)> = Vec::new();
    for p in &chosen {
        match spans.last_mut() {
            Some(last) if p.start_s <= last.1 => last.1 = last.1.max(p.end_s),
            _ => spans.push((p.start_s, p.end_s)),
        }
    }
    let seconds = spans.iter().map(|(a, b)| b - a).sum();
    Ok(VoiceEnrolment { embedding, partials: chosen.len(), seconds, spans })
}

/// Fill in [`Observation::voice_similarity`]: the cosine similarity to `enrolled` of the
/// speech segment that overlaps most of the `window_s` around each frame (the window the
/// speech probability is taken over).
pub fn voice_similarity(obs: &mut [Observation], segments: &[crate::audio::VoiceSegment], enrolled: &[f32], window_s: f64) {
    let sims: Vec<f32> = segments.iter().map(|s| crate::audio::cosine(&s.embedding, enrolled)).collect();
    for o in obs.iter_mut() {
        let (a, b) = (o.t - window_s / 2.0, o.t + window_s / 2.0);
        let first = segments.partition_point(|s| s.end_s <= a);
        o.voice_similarity = segments[first..]
            .iter()
            .zip(&sims[first..])
            .take_while(|(s, _)| s.start_s < b)
            .map(|(s, &sim)| (s.end_s.min(b) - s.start_s.max(a), sim))
            .filter(|(ov, _)| *ov > 0.0)
            .max_by(|x, y| x.0.total_cmp(&y.0))
            .map(|(_, sim)| sim);
    }
}

/// The observation of one face: the geometry its landmarks give (head pose,
/// eye aspect ratios, gaze, lip opening), computed once, here. Faces come
/// largest first from [`observe_faces`].
pub fn observe_face(f: &crate::detect::FaceFound) -> FaceObs {
    use crate::geometry::{eye_aspect_ratio, gaze, head_pose, mouth_opening, Eye};
    let lm = f.landmarks.as_ref();
    let pose = lm.and_then(|m| head_pose(&m.mesh));
    let g = lm.and_then(|m| gaze(&m.mesh, m.right_iris[0], m.left_iris[0]));
    FaceObs {
        bbox: f.bbox,
        score: f.score,
        keypoints: f.keypoints.clone(),
        yaw: pose.map(|p| p.yaw),
        pitch: pose.map(|p| p.pitch),
        roll: pose.map(|p| p.roll),
        ear_left: lm.map(|m| eye_aspect_ratio(&m.mesh, Eye::Left)),
        ear_right: lm.map(|m| eye_aspect_ratio(&m.mesh, Eye::Right)),
        gaze_x: g.map(|g| g.x),
        gaze_y: g.map(|g| g.y),
        mouth_open: lm.map(|m| mouth_opening(&m.mesh)),
    }
}

/// The faces of one picture, largest first.
pub fn observe_faces(found: &[crate::detect::FaceFound]) -> Vec<FaceObs> {
    let mut faces: Vec<FaceObs> = found.iter().map(observe_face).collect();
    faces.sort_by(|a, b| b.area().total_cmp(&a.area()));
    faces
}

/// The objects of one picture that matter to proctoring: the detections of the
/// categories (phone, book, device, person) scoring at least
/// `objects.keep_min_score`, each with its category; a phone or a book is
/// held in a hand when its box touches one of `hands` (the reach of each palm
/// found in the picture, `detect::objects::hand_reach`, and which of the
/// subject's hands it is where the hand landmark model was sure; only those
/// kinds: a hand on a laptop's keyboard does not hold it). Each kind's rule
/// asks its own score of them.
pub fn observe_objects(found: &[crate::detect::ObjectDetection], hands: &[([f32; 4], Option<crate::detect::hand::Side>)], oc: &crate::config::ObjectConfig) -> Vec<ObjectObs> {
    found
        .iter()
        .filter_map(|d| {
            let category = oc.category_of(d.class_name)?.to_string();
            let holding: Vec<_> = if holdable(d, oc) {
                hands.iter().filter(|(h, _)| crate::detect::objects::touches(h, &d.bbox)).collect()
            } else {
                Vec::new()
            };
            // a hand is named only when every hand it touches that is known is that one
            let sides: Vec<_> = holding.iter().filter_map(|(_, s)| *s).collect();
            let hand = sides.first().filter(|s| sides.iter().all(|x| x == *s)).map(|s| s.as_str().to_string());
            (d.score as f64 >= oc.keep_min_score).then(|| ObjectObs {
                class: d.class_name.to_string(),
                category,
                score: d.score,
                bbox: d.bbox,
                in_hand: !holding.is_empty(),
                hand,
                runner_up: d.runner_up.map(|(c, s)| (c.to_string(), s)),
            })
        })
        .collect()
}

/// The categories a hand can hold: looked for around hands, and marked held.
pub const HELD_CATEGORIES: [&str; 2] = [crate::kinds::EventKind::Phone.as_str(), crate::kinds::EventKind::Book.as_str()];

/// Whether `d` is a phone or book kept at `objects.keep_min_score`: something
/// [`observe_objects`] marks held when a hand touches it.
pub fn holdable(d: &crate::detect::ObjectDetection, oc: &crate::config::ObjectConfig) -> bool {
    d.score as f64 >= oc.keep_min_score && oc.category_of(d.class_name).is_some_and(|c| HELD_CATEGORIES.contains(&c))
}

/// Mean BT.601 luma of an RGB picture, sampling every other pixel.
pub fn mean_luma(img: &image::RgbImage) -> f32 {
    let px = img.as_raw();
    let mut sum = 0u64;
    let mut n = 0u64;
    for p in px.chunks_exact(3).step_by(2) {
        sum += 299 * p[0] as u64 + 587 * p[1] as u64 + 114 * p[2] as u64;
        n += 1;
    }
    if n == 0 {
        0.0
    } else {
        sum as f32 / n as f32 / 1000.0
    }
}

#[cfg(test)]
mod tests {

    /// A held phone is the hand's that holds it where the hands that touch it and are
    /// known agree; a laptop under a hand is not held.
    #[test]
    fn a_held_object_names_the_hand_that_holds_it() {
        use crate::detect::hand::Side;
        let det = |class_id: usize, bbox: [f32; 4]| crate::detect::ObjectDetection {
            class_id,
            class_name: crate::detect::COCO_LABELS[class_id],
            score: 0.6,
            bbox,
            runner_up: None,
        };
        let oc = crate::config::ObjectConfig::default();
        let phone = det(67, [100.0, 100.0, 120.0, 140.0]);
        let laptop = det(63, [100.0, 100.0, 220.0, 180.0]);
        let touching = [95.0, 130.0, 125.0, 160.0];
        let away = [300.0, 300.0, 330.0, 330.0];
        let seen = |hands: &[([f32; 4], Option<Side>)]| observe_objects(&[phone.clone(), laptop.clone()], hands, &oc);
        let o = seen(&[(touching, Some(Side::Left)), (away, Some(Side::Right))]);
        assert_eq!((o[0].category.as_str(), o[0].in_hand, o[0].hand.as_deref()), ("phone", true, Some("left")));
        assert_eq!((o[1].category.as_str(), o[1].in_hand, o[1].hand.as_deref()), ("device", false, None));
        // a hand not known: held, by no named hand; two known hands that disagree: the same
        assert_eq!(seen(&[(touching, None)])[0].hand, None);
        assert!(seen(&[(touching, None)])[0].in_hand);
        assert_eq!(seen(&[(touching, Some(Side::Left)), (touching, Some(Side::Right))])[0].hand, None);
        assert_eq!(seen(&[(touching, Some(Side::Right)), (touching, None)])[0].hand.as_deref(), Some("right"));
        assert!(!seen(&[(away, Some(Side::Left))])[0].in_hand);
    }

    use super::*;

    #[test]
    fn luma_of_flat_pictures() {
        let white = image::RgbImage::from_pixel(5, 3, image::Rgb([255, 255, 255]));
        assert!((mean_luma(&white) - 255.0).abs() < 1e-3);
        let red = image::RgbImage::from_pixel(4, 4, image::Rgb([100, 0, 0]));
        assert!((mean_luma(&red) - 29.9).abs() < 1e-3);
    }
}
