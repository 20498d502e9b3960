//! Tests of `identity.rs`.

use super::*;

fn at(x: f32, y: f32) -> Embedding {
    let mut e = [0f32; EMBEDDING_DIM];
    e[0] = x;
    e[1] = y;
    e
}

#[test]
fn enrollment_follows_the_majority() {
    // six samples of one person around (0, 0), three of another at (1, 0)
    let mut v: Vec<Embedding> = (0..6).map(|i| at(0.02 * i as f32, 0.01)).collect();
    v.extend((0..3).map(|i| at(1.0 + 0.02 * i as f32, 0.0)));
    let c = enroll(&v).unwrap();
    assert!(distance(&c, &at(0.05, 0.01)) < 0.1);
    assert!(distance(&c, &at(1.0, 0.0)) > 0.9);
    assert!(enroll(&[]).is_none());
    // no identity holds more than half the samples: nobody is enrolled
    let tie = [at(0.0, 0.0), at(0.01, 0.0), at(1.0, 0.0), at(1.01, 0.0)];
    assert!(enroll(&tie).is_none());
}

#[test]
fn enrolment_takes_the_opening_wherever_the_swap_falls() {
    // a stand-in (at (1, 0)) takes over after 10%, 50% and 90% of 50 samples
    for k in [5, 25, 45] {
        let v: Vec<Embedding> = (0..50).map(|i| if i < k { at(0.01 * (i % 3) as f32, 0.0) } else { at(1.0, 0.01 * (i % 3) as f32) }).collect();
        let en = enroll_opening(&v, 5).unwrap();
        assert!(distance(&en.embedding, &at(0.0, 0.0)) < 0.05, "swap after {k}");
        assert_eq!(en.members, (0..5).collect::<Vec<_>>());
        // the majority rule enrols the stand-in at 10% and nobody at 50%
        if k == 5 {
            assert!(distance(&enroll(&v).unwrap(), &at(1.0, 0.0)) < 0.05);
        }
        if k == 25 {
            assert!(enroll(&v).is_none());
        }
    }
    // an opening of scattered faces: the window slides to the first identity held 3 times
    let mut v = vec![at(5.0, 0.0), at(0.0, 5.0), at(-5.0, 0.0)];
    v.extend((0..6).map(|i| at(0.0, 0.01 * i as f32)));
    let en = enroll_opening(&v, 5).unwrap();
    assert_eq!(en.members[0], 3);
    assert!(enroll_opening(&v[..4], 5).is_none());
}

fn face(x0: f32) -> crate::observation::FaceObs {
    crate::observation::FaceObs {
        bbox: [x0, 10.0, x0 + 60.0, 80.0],
        score: 0.9,
        keypoints: vec![[x0 + 15.0, 30.0], [x0 + 45.0, 30.0]],
        yaw: Some(0.0),
        pitch: Some(0.0),
        roll: Some(0.0),
        ear_left: None,
        ear_right: None,
        gaze_x: None,
        gaze_y: None,
        mouth_open: None,
    }
}

fn obs(t: f64, faces: Vec<crate::observation::FaceObs>, embeddings: Vec<(usize, Embedding)>) -> Observation {
    Observation {
        embeddings: embeddings.into_iter().map(|(face, e)| FaceEmbedding { face, descriptor: e.to_vec(), distance: None }).collect(),
        ..Observation::with_faces((t * 4.0) as usize, t, (640, 480), faces)
    }
}

#[test]
fn the_candidate_among_several_faces_is_the_one_matching_the_reference() {
    let reference = at(1.0, 0.0);
    let mut v = vec![
        // two faces: the second (on the right) is the candidate
        obs(0.0, vec![face(0.0), face(300.0)], vec![(0, at(0.0, 0.0)), (1, at(1.1, 0.0))]),
        // between samples: followed by its box
        obs(0.25, vec![face(302.0), face(5.0)], vec![]),
        // nobody matches
        obs(2.0, vec![face(0.0), face(300.0)], vec![(0, at(0.0, 0.0)), (1, at(0.0, 1.0))]),
        // alone and the candidate
        obs(4.0, vec![face(300.0)], vec![(0, at(1.05, 0.0))]),
    ];
    assert_eq!(attach_distances(&mut v, Some(&reference), &crate::config::EventConfig::default()), Some(Compared::Reference));
    let picked: Vec<Option<u32>> = v.iter().map(|o| o.candidate_face).collect();
    assert_eq!(picked, [Some(1), Some(0), None, Some(0)]);
    assert!((v[0].candidate_distance.unwrap() - 0.1).abs() < 1e-5);
    // every described face has its distance; only the lone face has reference_distance
    assert!((v[0].embeddings[0].distance.unwrap() - 1.0).abs() < 1e-5);
    assert_eq!(v[0].reference_distance, None);
    assert!((v[3].reference_distance.unwrap() - 0.05).abs() < 1e-5);
}
/// `n` samples 2 s apart, the descriptor of each from `f(i)`.
fn timed(n: usize, f: impl Fn(usize) -> Embedding) -> Vec<(f64, Embedding)> {
    (0..n).map(|i| (2.0 * i as f64, f(i))).collect()
}

/// A small deterministic jitter, different for each sample.
fn jitter(i: usize) -> f32 {
    0.01 * ((i * 7) % 5) as f32
}

#[test]
fn clustering_finds_two_identities_and_the_first_seen_is_the_candidates() {
    // a stand-in (at (0.9, 0)) for the last 6 samples (12 s) of 60
    let v = timed(60, |i| if i < 54 { at(jitter(i), 0.0) } else { at(0.9, jitter(i)) });
    let (apart, found) = identities(&v, 2.0, 0.7, 8.0);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!((found[0].first_s, found[0].samples, found[0].distance), (0.0, 54, 0.0));
    assert_eq!((found[1].first_s, found[1].last_s, found[1].seconds), (108.0, 118.0, 12.0));
    assert!((found[1].distance - 0.88).abs() < 0.05, "{found:?}");
    assert!(apart[..54].iter().all(|d| *d == Some(0.0)));
    assert!(apart[54..].iter().all(|d| d.is_some_and(|d| d > 0.8)));
    // the stand-in for fewer seconds than identity_cluster_min_s: no identity of its own
    let (apart, found) = identities(&v[..57], 2.0, 0.7, 8.0);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(apart[54..].iter().all(Option::is_none));
    // the order does not decide the candidate: the first seen does
    let swapped = timed(60, |i| if i < 6 { at(0.9, jitter(i)) } else { at(jitter(i), 0.0) });
    let (apart, found) = identities(&swapped, 2.0, 0.7, 8.0);
    assert_eq!((found[0].first_s, found[0].samples), (0.0, 6));
    assert!(apart[6..].iter().all(|d| d.is_some_and(|d| d > 0.8)));
}

#[test]
fn a_group_of_poor_samples_between_two_people_does_not_join_them() {
    // 6 poor samples of the candidate, then the candidate (12 samples), then a stand-in
    // (15): the poor group's centre lies about 0.6 from each, the two people 0.82 apart;
    // it is left out, and the candidate, seen first after it, is the first identity
    let v = timed(33, |i| match i {
        0..6 => at(0.41 + jitter(i), 0.466),
        6..18 => at(jitter(i), 0.0),
        _ => at(0.825, jitter(i)),
    });
    let (apart, found) = identities(&v, 2.0, 0.7, 8.0);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!((found[0].first_s, found[0].samples), (12.0, 12));
    assert!(found[1].first_s == 36.0 && found[1].distance > 0.8, "{found:?}");
    assert!(apart[..6].iter().all(Option::is_none));
    assert!(apart[18..].iter().all(|d| d.is_some_and(|d| d > 0.8)));
}

#[test]
fn one_person_through_light_and_pose_changes_is_one_identity() {
    // 20 minutes at 0.5 samples a second: descriptors that wander within 0.3 of the
    // person's centre (pairs up to 0.6 apart), and a minute under other light 0.45 away
    let v = timed(600, |i| {
        let t = i as f32 * 2.0;
        let (x, y) = (0.3 * (t / 50.0).sin(), 0.3 * (t / 70.0).cos());
        if (300..330).contains(&i) { at(0.45 + jitter(i), 0.3 + jitter(i)) } else { at(x, y) }
    });
    let (apart, found) = identities(&v, 2.0, 0.7, 8.0);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(apart.iter().all(|d| d.is_none_or(|d| d == 0.0)), "{found:?}");
    // many more samples than are clustered at once: still one identity
    let long = timed(3 * MAX_CLUSTERED, |i| at(0.2 * (i as f32 / 40.0).sin(), jitter(i)));
    let (apart, found) = identities(&long, 2.0, 0.7, 8.0);
    assert_eq!(found.len(), 1);
    assert!(apart.iter().all(|d| *d == Some(0.0)));
    assert!(identities(&[], 2.0, 0.7, 8.0).1.is_empty());
    // no duration asked (groups emptied by the nearest-centre assignment are not identities)
    let (_, found) = identities(&v, 2.0, 0.7, 0.0);
    assert!(found.iter().all(|f| f.samples > 0));
}
