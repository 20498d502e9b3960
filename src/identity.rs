//! Is the lone face the candidate? Face descriptors (dlib ResNet, computed
//! on a few frames a second by the detect stage, [`embed_faces`]) are compared
//! with the candidate's: a reference photo's when one is given
//! ([`load_reference`]), else the candidate enrolled from the session itself.
//!
//! Enrolment, as a proctor checks an ID at the start: the candidate is the
//! person of the opening of the recording. The lone-face descriptors are
//! taken in time order; the first `identity_enrol_samples` of them (a
//! window that slides on until it holds one identity) are grouped around the
//! descriptor with the most others within [`ENROLL_RADIUS`] (the same person,
//! with a margin under dlib's 0.6), which must hold at least [`MIN_ENROLL`]
//! of them; those are averaged. Any later stretch where the lone face is
//! someone else is then `candidate_changed`, wherever it falls (a stand-in
//! who takes over at 10%, 50% or 90% of the session alike: no identity needs
//! to hold a majority). When the first such group starts after
//! `identity_opening_s`, the enrolment says so ([`Enrolment::late`]), and the
//! analysis warns. Descriptors stay in memory unless `--save-embeddings`
//! asks for them.
//!
//! Only faces that a descriptor can judge are compared: head within
//! [`MAX_YAW_DEG`] of frontal and eyes at least [`MIN_EYE_PX`] apart; a head
//! turned further changes the descriptor more than a change of person does.
//!
//! Clustering is the second, independent signal (without a reference
//! photo; [`identities`]): the lone-face descriptors of the whole recording
//! are grouped (the densest group of descriptors within [`ENROLL_RADIUS`] of
//! one, then the densest of the rest, ...), groups holding fewer than
//! `identity_cluster_min_s` seconds of samples are left out, so is a group
//! that could be either of two people (closer than `identity_cluster_gap`
//! to two groups that are the gap apart: poor samples between them), and the
//! identities whose centres lie closest are joined while closer than the
//! gap (a person under other light or pose; centroid linkage). The identity seen first is the candidate's; a
//! sample of any other is `cluster_distance` apart from it (at least the
//! gap), and `candidate_changed` is raised on it as on a distance from the
//! enrolled candidate. It does not rest on the opening's few samples: where
//! those are poor (a dim or blurred opening whose mean sits near the stand-in,
//! under dlib's threshold) the identities, each averaged over many seconds,
//! still stand apart. Its gap lies above the same-person threshold and each
//! identity must hold seconds of samples, so one person through light and
//! pose changes is one identity.
//!
//! With several faces in view every face with landmarks is described, and the
//! one closest to the candidate (under the same-person threshold) is marked as
//! the candidate's (`Observation::candidate_face`), so a `multiple_faces`
//! event can say which face is theirs.

use std::path::{Path, PathBuf};


use crate::detect::boxes::{area, iou};
use crate::detect::face_embed::{distance, Embedding, EMBEDDING_DIM};
use crate::config::Config;
use crate::error::{Error, ErrorKind};
use crate::observation::{FaceEmbedding, Observation};
pub use crate::records::{EnrolledFace, IdentityCluster, IdentityInfo, ReferenceInfo};

/// Descriptors this close count as one person when enrolling.
pub const ENROLL_RADIUS: f32 = 0.5;
/// Fewest samples of the dominant identity for an enrollment.
pub const MIN_ENROLL: usize = 3;
/// Faces turned further than this (degrees of yaw) are not compared.
pub const MAX_YAW_DEG: f32 = 25.0;
/// Faces whose eyes are closer than this (pixels) are not compared.
pub const MIN_EYE_PX: f32 = 15.0;

/// Whether a face's descriptor can be judged (near frontal, large enough).
fn judgeable(f: &crate::observation::FaceObs) -> bool {
    !f.yaw.is_some_and(|y| y.abs() > MAX_YAW_DEG) && f.eye_distance() >= MIN_EYE_PX
}

/// The descriptor of an observation's lone face (the only one at or above
/// `min_score`), when it can be judged.
fn usable(o: &Observation, min_score: f32) -> Option<Embedding> {
    let faces = o.faces.as_ref()?;
    let lone = o.solo_face(min_score)?;
    let i = faces.iter().position(|f| std::ptr::eq(f, lone))?;
    if !judgeable(lone) {
        return None;
    }
    o.embeddings.iter().find(|e| e.face == i).and_then(|e| as_embedding(&e.descriptor))
}

fn as_embedding(v: &[f32]) -> Option<Embedding> {
    v.try_into().ok()
}

/// The mean of the descriptors within [`ENROLL_RADIUS`] of the one with the
/// most such neighbours, and those members' indices; `None` with fewer than
/// [`MIN_ENROLL`] members.
fn densest(embeddings: &[Embedding]) -> Option<(Embedding, Vec<usize>)> {
    let neighbours = |a: &Embedding| embeddings.iter().filter(|b| distance(a, b) < ENROLL_RADIUS).count();
    // the first of equals: the earliest descriptor wins a tie
    let centre = embeddings.iter().rev().max_by_key(|a| neighbours(a))?;
    let members: Vec<usize> = (0..embeddings.len()).filter(|&i| distance(centre, &embeddings[i]) < ENROLL_RADIUS).collect();
    if members.len() < MIN_ENROLL {
        return None;
    }
    let mut mean = [0f32; EMBEDDING_DIM];
    for &m in &members {
        for (s, v) in mean.iter_mut().zip(embeddings[m].iter()) {
            *s += v / members.len() as f32;
        }
    }
    Some((mean, members))
}

/// The session's dominant identity (the densest group), when it holds more
/// than half of the descriptors: the enrolment before the opening rule, kept
/// for comparison.
pub fn enroll(embeddings: &[Embedding]) -> Option<Embedding> {
    let (mean, members) = densest(embeddings)?;
    (2 * members.len() > embeddings.len()).then_some(mean)
}

/// The candidate enrolled from the opening of the session.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrolment {
    pub embedding: Embedding,
    /// Indices (into the time-ordered descriptors given) it was averaged from.
    pub members: Vec<usize>,
}

/// Enrol from the first `window` time-ordered lone-face descriptors; when
/// they hold no group of [`MIN_ENROLL`] (the opening shows several people, or
/// too few usable faces), the window slides on one descriptor at a time.
pub fn enroll_opening(embeddings: &[Embedding], window: usize) -> Option<Enrolment> {
    let window = window.max(MIN_ENROLL);
    let last_start = embeddings.len().saturating_sub(window);
    (0..=last_start).find_map(|s| {
        let (embedding, members) = densest(&embeddings[s..(s + window).min(embeddings.len())])?;
        Some(Enrolment { embedding, members: members.into_iter().map(|i| i + s).collect() })
    })
}

/// Most descriptors clustered (an hour at 0.5 a second): a longer
/// recording is clustered on evenly spaced ones, and every descriptor is
/// then given to the nearest group.
pub const MAX_CLUSTERED: usize = 2000;
/// Most groups looked for.
const MAX_GROUPS: usize = 8;

/// The identities of time-ordered lone-face descriptors `samples` (time,
/// descriptor), each standing for `step_s` seconds (see the module's doc):
/// for each sample the distance of its identity from the first identity
/// seen (0 for the first's own samples; `None` in no identity), and the
/// identities, the first seen first.
pub fn identities(samples: &[(f64, Embedding)], step_s: f64, gap: f32, min_s: f64) -> (Vec<Option<f32>>, Vec<IdentityCluster>) {
    let none = (vec![None; samples.len()], Vec::new());
    let stride = samples.len().div_ceil(MAX_CLUSTERED).max(1);
    let mut rest: Vec<Embedding> = samples.iter().step_by(stride).map(|s| s.1).collect();
    let mut centres: Vec<Embedding> = Vec::new();
    while centres.len() < MAX_GROUPS {
        let Some((centre, members)) = densest(&rest) else { break };
        centres.push(centre);
        let mut k = 0;
        rest.retain(|_| {
            k += 1;
            members.binary_search(&(k - 1)).is_err()
        });
    }
    // every sample to the nearest group centre within the radius
    let group: Vec<Option<usize>> = samples
        .iter()
        .map(|(_, e)| {
            centres
                .iter()
                .enumerate()
                .map(|(g, c)| (g, distance(c, e)))
                .filter(|(_, d)| *d < ENROLL_RADIUS)
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(g, _)| g)
        })
        .collect();
    // the groups holding enough seconds
    let mut ids: Vec<Vec<usize>> = (0..centres.len())
        .map(|g| (0..samples.len()).filter(|&i| group[i] == Some(g)).collect::<Vec<usize>>())
        .filter(|m| !m.is_empty() && (m.len() as f64) * step_s >= min_s - 1e-9)
        .collect();
    let centre = |m: &[usize]| -> Embedding {
        let mut mean = [0f32; EMBEDDING_DIM];
        for &i in m {
            for (s, v) in mean.iter_mut().zip(samples[i].1.iter()) {
                *s += v / m.len() as f32;
            }
        }
        mean
    };
    // a group that could be either of two people (closer than the gap to two groups that
    // are the gap apart: poor samples, dark or blurred, between them) is left out
    let cs: Vec<Embedding> = ids.iter().map(|m| centre(m)).collect();
    let near = |g: usize, h: usize| g != h && distance(&cs[g], &cs[h]) < gap;
    let ambiguous: Vec<bool> = (0..ids.len())
        .map(|g| (0..ids.len()).any(|a| near(g, a) && (0..ids.len()).any(|b| near(g, b) && distance(&cs[a], &cs[b]) >= gap)))
        .collect();
    let mut k = 0;
    ids.retain(|_| {
        k += 1;
        !ambiguous[k - 1]
    });
    if ids.is_empty() {
        return none;
    }
    // identities: the two whose centres (the means of all their samples) are closest are
    // joined while those lie closer than the gap (centroid linkage: a group of poor samples
    // between two people joins one of them, it does not chain them into one)
    loop {
        let cs: Vec<Embedding> = ids.iter().map(|m| centre(m)).collect();
        let mut best: Option<(f32, usize, usize)> = None;
        for i in 0..ids.len() {
            for j in 0..i {
                let d = distance(&cs[i], &cs[j]);
                if d < gap && best.is_none_or(|b| d < b.0) {
                    best = Some((d, i, j));
                }
            }
        }
        let Some((_, i, j)) = best else { break };
        let moved = ids.remove(i);
        ids[j].extend(moved);
    }
    for m in &mut ids {
        m.sort_unstable();
    }
    ids.sort_by(|a, b| samples[a[0]].0.total_cmp(&samples[b[0]].0));
    let first = centre(&ids[0]);
    let mut per_sample = vec![None; samples.len()];
    let mut out = Vec::new();
    for (k, members) in ids.iter().enumerate() {
        // every other identity's centre lies at least the gap from the first's
        let d = if k == 0 { 0.0 } else { distance(&centre(members), &first) };
        for &m in members {
            per_sample[m] = Some(d);
        }
        out.push(IdentityCluster {
            first_s: samples[members[0]].0,
            last_s: samples[members[members.len() - 1]].0,
            samples: members.len(),
            seconds: members.len() as f64 * step_s,
            distance: d,
        });
    }
    (per_sample, out)
}

/// Whom the faces were compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Compared {
    /// The reference photo.
    Reference,
    /// The candidate enrolled from the session, seen best in this frame, and
    /// the identities clustering found (see [`identities`]).
    Enrolled(EnrolledFace, Vec<IdentityCluster>),
}

/// Fill in the distances: to the reference when given (`reference_distance`),
/// else to the candidate enrolled from the opening (`identity_distance`; see
/// the module's doc) and, by clustering, between the identity of each lone
/// face and the first identity seen (`cluster_distance`), and on every frame with descriptors which face is the
/// candidate's (`candidate_face`, `candidate_distance`: the judgeable face
/// closest to the candidate, when closer than `identity_max_distance`).
/// Returns whom faces were compared with (`None`: no face to enrol).
pub fn attach_distances(obs: &mut [Observation], reference: Option<&Embedding>, c: &crate::config::EventConfig) -> Option<Compared> {
    let min_score = c.face_min_score as f32;
    let max_distance = c.identity_max_distance as f32;
    let (target, compared) = match reference {
        Some(r) => (*r, Compared::Reference),
        None => {
            let all: Vec<(usize, Embedding)> = obs.iter().enumerate().filter_map(|(i, o)| Some((i, usable(o, min_score)?))).collect();
            let embs: Vec<Embedding> = all.iter().map(|(_, e)| *e).collect();
            let en = enroll_opening(&embs, c.identity_enrol_samples)?;
            let mean = en.embedding;
            let (i, d) = en.members.iter().map(|&m| (all[m].0, distance(&mean, &all[m].1))).min_by(|a, b| a.1.total_cmp(&b.1))?;
            let span = [obs[all[en.members[0]].0].t, obs[all[*en.members.last()?].0].t];
            let o = &obs[i];
            let f = o.solo_face(min_score)?;
            let (w, h) = (o.width.max(1) as f32, o.height.max(1) as f32);
            let bbox = [f.bbox[0] / w, f.bbox[1] / h, f.bbox[2] / w, f.bbox[3] / h];
            let face = EnrolledFace { t: o.t, bbox, distance: d, from_s: Some(span) };
            // the second signal: the identities of the whole recording
            let timed: Vec<(f64, Embedding)> = all.iter().map(|(i, e)| (obs[*i].t, *e)).collect();
            let step = sample_step(obs);
            let (apart, found) = identities(&timed, step, c.identity_cluster_gap as f32, c.identity_cluster_min_s);
            for ((i, _), d) in all.iter().zip(apart) {
                obs[*i].cluster_distance = d;
            }
            (en.embedding, Compared::Enrolled(face, found))
        }
    };
    for o in obs.iter_mut() {
        let d = usable(o, min_score).map(|e| distance(&target, &e));
        match compared {
            Compared::Reference => o.reference_distance = d,
            Compared::Enrolled(..) => o.identity_distance = d,
        }
        for e in o.embeddings.iter_mut() {
            e.distance = as_embedding(&e.descriptor).map(|v| distance(&target, &v));
        }
        let faces = o.faces.as_deref().unwrap_or_default();
        let best = o
            .embeddings
            .iter()
            .filter(|e| faces.get(e.face).is_some_and(|f| f.score >= min_score && judgeable(f)))
            .filter_map(|e| Some((e.face, e.distance?)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .filter(|(_, d)| *d < max_distance);
        o.candidate_face = best.map(|(i, _)| i as u32);
        o.candidate_distance = best.map(|(_, d)| d);
    }
    follow_candidate(obs, min_score);
    Some(compared)
}

/// The seconds one identity sample stands for: the interval between the
/// frames sampled for identity (`fps / identity_fps` frames), read from the
/// observations' times.
fn sample_step(obs: &[Observation]) -> f64 {
    let sampled: Vec<f64> = obs.iter().filter(|o| !o.embeddings.is_empty()).map(|o| o.t).collect();
    let mut gaps: Vec<f64> = sampled.windows(2).map(|w| w[1] - w[0]).filter(|g| *g > 0.0).collect();
    gaps.sort_by(f64::total_cmp);
    gaps.get(gaps.len() / 2).copied().unwrap_or(0.0)
}

/// Frames between identity samples farther than this (seconds) from the
/// nearest sample are not given a candidate face.
pub const FOLLOW_S: f64 = 2.0;
/// A face of a frame between samples is the candidate's when its box
/// overlaps the candidate's box of the nearest sample by at least this IoU.
pub const FOLLOW_IOU: f32 = 0.5;

/// Carry the candidate face from the identity samples to the frames between
/// them: on each frame without descriptors, the counted face whose box
/// overlaps the candidate's face of the nearest sample (within [`FOLLOW_S`],
/// IoU at least [`FOLLOW_IOU`]) is the candidate's, at that sample's distance.
fn follow_candidate(obs: &mut [Observation], min_score: f32) {
    let samples: Vec<(f64, Option<([f32; 4], f32)>)> = obs
        .iter()
        .filter(|o| !o.embeddings.is_empty())
        .map(|o| {
            let c = o.candidate_face.and_then(|i| o.faces.as_ref()?.get(i as usize)).map(|f| f.bbox);
            (o.t, c.zip(o.candidate_distance))
        })
        .collect();
    if samples.is_empty() {
        return;
    }
    for o in obs.iter_mut().filter(|o| o.embeddings.is_empty()) {
        let k = samples.partition_point(|(t, _)| *t < o.t);
        let near = [k.checked_sub(1), Some(k)]
            .into_iter()
            .flatten()
            .filter_map(|j| samples.get(j))
            .min_by(|a, b| (a.0 - o.t).abs().total_cmp(&(b.0 - o.t).abs()));
        let Some((t, Some((bbox, d)))) = near else { continue };
        if (t - o.t).abs() > FOLLOW_S {
            continue;
        }
        let best = o
            .faces
            .iter()
            .flatten()
            .enumerate()
            .filter(|(_, f)| f.score >= min_score)
            .map(|(i, f)| (i, iou(&f.bbox, bbox)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .filter(|(_, v)| *v >= FOLLOW_IOU);
        o.candidate_face = best.map(|(i, _)| i as u32);
        o.candidate_distance = best.map(|_| *d);
    }
}

/// Face descriptors on every `fps / identity_fps`-th frame of a batch, and on
/// the frames marked in `changed` (where tracking lost a face and the
/// detector found the faces anew: a replaced candidate is described at once,
/// not at the next scheduled sample): every face at or above
/// `face_min_score` with landmarks, aligned on five mesh
/// points (eye centres, nose tip, mouth corners) to dlib's 150x150 chip, all
/// chips of the batch through the network at once. The face index of each
/// is its place in the observation's faces (largest first, the order of
/// [`crate::observation::observe_faces`]).
pub fn embed_faces(
    embedder: &crate::detect::face_embed::FaceEmbedder,
    images: &[&image::RgbImage],
    found: &[Vec<crate::detect::FaceFound>],
    frames: &[crate::decode::Frame],
    changed: &[bool],
    cfg: &Config,
) -> anyhow::Result<Vec<Vec<FaceEmbedding>>> {
    use crate::detect::face_embed::{align_chip, five_points_from_mesh};
    let a = &cfg.analysis;
    let every = (a.fps / a.identity_fps.max(1e-6)).round().max(1.0) as usize;
    let min = cfg.events.face_min_score as f32;
    let mut chips = Vec::new();
    let mut at = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        if f.index % every != 0 && !changed.get(i).copied().unwrap_or(false) {
            continue;
        }
        for (j, face) in found[i].iter().enumerate() {
            if face.score < min {
                continue;
            }
            let Some(lm) = &face.landmarks else { continue };
            let Ok(five) = five_points_from_mesh(&lm.mesh) else { continue };
            if let Ok(chip) = align_chip(images[i], &five) {
                chips.push(chip);
                at.push((i, face_index(&found[i], j)));
            }
        }
    }
    let mut out = vec![Vec::new(); frames.len()];
    if chips.is_empty() {
        return Ok(out);
    }
    let refs: Vec<&image::RgbImage> = chips.iter().collect();
    for ((i, face), e) in at.into_iter().zip(embedder.embed(&refs)?) {
        out[i].push(FaceEmbedding { face, descriptor: e.to_vec(), distance: None });
    }
    Ok(out)
}

/// Where detection `j` lands among the faces sorted largest first (a stable
/// sort by area, as [`crate::observation::observe_faces`] does).
fn face_index(found: &[crate::detect::FaceFound], j: usize) -> usize {
    let mut order: Vec<usize> = (0..found.len()).collect();
    order.sort_by(|&a, &b| area(&found[b].bbox).total_cmp(&area(&found[a].bbox)));
    order.iter().position(|&x| x == j).unwrap_or(j)
}

/// Reference photos larger than this (pixels) are refused before decoding.
pub const MAX_REFERENCE_PIXELS: u64 = 50_000_000;

/// A reference photo of the candidate, read and described once.
#[derive(Debug, Clone)]
pub struct Reference {
    pub path: PathBuf,
    /// sha256 of the photo file (part of a batch's resume key).
    pub sha256: String,
    pub embedding: Embedding,
    /// The face's box as fractions of the photo's width and height.
    pub bbox: [f32; 4],
}

impl Reference {
    pub fn info(&self) -> ReferenceInfo {
        ReferenceInfo { path: self.path.clone(), sha256: self.sha256.clone(), bbox: self.bbox }
    }
}

/// Read a reference photo: exactly one face (at or above `face_min_score`),
/// with landmarks. Any problem is an error naming the photo.
pub fn load_reference(photo: &Path, models: &crate::detect::Models, cfg: &Config) -> Result<Reference, Error> {
    use crate::detect::face_embed::{align_chip, five_points_from_mesh};
    let bad = |why: String| Error::new(photo, ErrorKind::Config(format!("reference photo: {why}")));
    crate::decode::probe::check_file(photo)?;
    let not_image = |e: &dyn std::fmt::Display| Error::new(photo, ErrorKind::NotMedia(format!("not an image proctor can read: {e}")));
    let reader = image::ImageReader::open(photo).map_err(|e| Error::new(photo, ErrorKind::Unreadable(e)))?;
    let reader = reader.with_guessed_format().map_err(|e| Error::new(photo, ErrorKind::Unreadable(e)))?;
    let (w, h) = reader.into_dimensions().map_err(|e| not_image(&e))?;
    if w as u64 * h as u64 > MAX_REFERENCE_PIXELS {
        return Err(bad(format!("{w}x{h} pixels is too large (at most {} megapixels)", MAX_REFERENCE_PIXELS / 1_000_000)));
    }
    let img = image::open(photo).map_err(|e| not_image(&e))?.to_rgb8();
    // very large photos are scaled down first: faces stay far above the chip size
    let img = if img.width().max(img.height()) > 2048 {
        let s = 2048.0 / img.width().max(img.height()) as f32;
        image::imageops::resize(&img, ((img.width() as f32 * s) as u32).max(1), ((img.height() as f32 * s) as u32).max(1), image::imageops::FilterType::Triangle)
    } else {
        img
    };
    let (Some(faces), Some(embedder)) = (&models.faces, &models.identity) else {
        return Err(bad("the face models are not loaded (analysis.identity_fps = 0?)".into()));
    };
    let found = faces.analyze(&[&img]).map_err(|e| bad(format!("{e:#}")))?.pop().unwrap_or_default();
    let counted: Vec<_> = found.iter().filter(|f| f.score >= cfg.events.face_min_score as f32).collect();
    let lone = match counted.as_slice() {
        [] => return Err(bad("no face found in it".into())),
        [one] => *one,
        many => return Err(bad(format!("{} faces found in it; it must show the candidate alone", many.len()))),
    };
    let lm = lone.landmarks.as_ref().ok_or_else(|| bad("the face is too unclear for its landmarks".into()))?;
    let five = five_points_from_mesh(&lm.mesh).map_err(|e| bad(format!("{e:#}")))?;
    let chip = align_chip(&img, &five).map_err(|e| bad(format!("{e:#}")))?;
    let embedding = embedder.embed(&[&chip]).map_err(|e| bad(format!("{e:#}")))?.pop().ok_or_else(|| bad("no descriptor".into()))?;
    let (iw, ih) = (img.width() as f32, img.height() as f32);
    let b = lone.bbox;
    Ok(Reference {
        path: photo.to_path_buf(),
        sha256: crate::ids::sha256_file(photo)?,
        embedding,
        bbox: [b[0] / iw, b[1] / ih, b[2] / iw, b[3] / ih],
    })
}

#[cfg(test)]
mod tests;
