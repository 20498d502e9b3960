//! Tests of `events.rs`.

use super::*;
use super::objects::extra_person;
use super::runs::upper_quartile;
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
        .map(|i| Observation { mean_luma: 100.0, ..Observation::with_faces(i, i as f64 / 4.0, (640, 480), faces(i)) })
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
        o.faces_described = true;
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
        o.faces_described = false;
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
    assert_eq!(absences(&obs, 4.0, &cfg), vec![[5.0, 9.75]]);
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
    assert_eq!(absences(&obs, 4.0, &cfg), vec![[10.0, 12.0]]);
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
    let phone = |s: f32| ObjectObs { class: "cell phone".into(), category: "phone".into(), score: s, bbox: [0.0; 4], in_hand: false, hand: None, runner_up: None };
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
    let person = |bbox: [f32; 4]| ObjectObs { class: "person".into(), category: "person".into(), score: 0.8, bbox, in_hand: false, hand: None, runner_up: None };
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
    cfg.rules.eyes_closed.hysteresis = 0.0;
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
                embeddings: vec![crate::observation::FaceEmbedding { face: 0, descriptor: d, distance: None }],
                ..Observation::with_faces(i * 8, 2.0 * i as f64, (320, 240), vec![fo])
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
