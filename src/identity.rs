//! Is the lone face the candidate? Face descriptors (dlib ResNet, computed
//! on a few frames a second by the detect stage) are compared with the
//! candidate's: a reference photo's when one is given, else the candidate
//! enrolled from the session itself.
//!
//! Enrollment: the dominant identity of the session. For each descriptor,
//! count the others within [`ENROLL_RADIUS`] (the same person, with a margin
//! under dlib's 0.6); the one with the most neighbours and those neighbours
//! are averaged. A stand-in who sits a minority of the session is then the
//! one who does not match. The dominant identity must hold more than half of
//! the samples (and at least [`MIN_ENROLL`]); otherwise nobody is enrolled
//! and `candidate_changed` is not checked. Descriptors are used in memory only.
//!
//! Only faces that a descriptor can judge are compared: head within
//! [`MAX_YAW_DEG`] of frontal and eyes at least [`MIN_EYE_PX`] apart; a head
//! turned further changes the descriptor more than a change of person does.

use crate::detect::face_embed::{distance, Embedding, EMBEDDING_DIM};
use crate::observation::Observation;

/// Descriptors this close count as one person when enrolling.
pub const ENROLL_RADIUS: f32 = 0.5;
/// Fewest samples of the dominant identity for an enrollment.
pub const MIN_ENROLL: usize = 3;
/// Faces turned further than this (degrees of yaw) are not compared.
pub const MAX_YAW_DEG: f32 = 25.0;
/// Faces whose eyes are closer than this (pixels) are not compared.
pub const MIN_EYE_PX: f32 = 15.0;

/// The descriptor of an observation, when its lone face can be judged.
fn usable(o: &Observation) -> Option<Embedding> {
    let f = o.primary_face()?;
    if f.yaw.is_some_and(|y| y.abs() > MAX_YAW_DEG) || f.eye_distance() < MIN_EYE_PX {
        return None;
    }
    o.embedding.as_deref().and_then(as_embedding)
}

fn as_embedding(v: &[f32]) -> Option<Embedding> {
    v.try_into().ok()
}

/// The candidate's descriptor from the session's lone-face descriptors.
pub fn enroll(embeddings: &[Embedding]) -> Option<Embedding> {
    let neighbours = |a: &Embedding| embeddings.iter().filter(|b| distance(a, b) < ENROLL_RADIUS).count();
    let centre = embeddings.iter().max_by_key(|a| neighbours(a))?;
    let members: Vec<&Embedding> = embeddings.iter().filter(|b| distance(centre, b) < ENROLL_RADIUS).collect();
    if members.len() < MIN_ENROLL || 2 * members.len() <= embeddings.len() {
        return None;
    }
    let mut mean = [0f32; EMBEDDING_DIM];
    for m in &members {
        for (s, v) in mean.iter_mut().zip(m.iter()) {
            *s += v / members.len() as f32;
        }
    }
    Some(mean)
}

/// Fill in the distances: to the reference when given (`reference_distance`),
/// else to the enrolled candidate (`identity_distance`). Returns whether
/// faces were compared with anyone (false: no dominant face to enroll).
pub fn attach_distances(obs: &mut [Observation], reference: Option<&Embedding>) -> bool {
    match reference {
        Some(r) => {
            for o in obs.iter_mut() {
                o.reference_distance = usable(o).map(|e| distance(r, &e));
            }
            true
        }
        None => {
            let all: Vec<Embedding> = obs.iter().filter_map(usable).collect();
            let Some(c) = enroll(&all) else { return false };
            for o in obs.iter_mut() {
                o.identity_distance = usable(o).map(|e| distance(&c, &e));
            }
            true
        }
    }
}

#[cfg(test)]
mod tests {
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
}
