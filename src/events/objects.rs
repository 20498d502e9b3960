//! Object events (phones, books, devices) and extra persons, from the object detector's sightings.

use crate::config::Config;
use crate::kinds::{median, EventKind};
use crate::observation::Observation;
use crate::records::Event;

use super::*;

/// The events of object kind `kind`: the object detector runs on a subset of
/// frames (those whose `objects` is `Some`). A sample counts when at least
/// `min_hits` of some `window` consecutive samples around it see the kind's
/// category (named as the kind) at its `min_score`.
pub(super) fn object_events(ctx: &Ctx, kind: EventKind) -> Vec<Event> {
    let (obs, c) = (ctx.obs, &ctx.cfg.events);
    let Some(t) = ctx.cfg.rules.sighting(kind) else { return Vec::new() };
    let samples: Vec<&Observation> = obs.iter().filter(|o| o.objects.is_some()).collect();
    if samples.is_empty() {
        return Vec::new();
    }
    // the object step: the typical interval between object samples
    let step = {
        let d: Vec<f32> = samples.windows(2).map(|w| (w[1].t - w[0].t) as f32).collect();
        median(d).map(f64::from).unwrap_or(1.0)
    };
    let category = kind.as_str();
    let strength: Vec<Option<f32>> = samples.iter().map(|o| object_strength(o, kind, ctx.cfg)).collect();
    let hits: Vec<bool> = strength.iter().map(Option::is_some).collect();
    let w = t.window;
    let confirmed: Vec<bool> = (0..hits.len())
        .map(|i| {
            hits[i]
                && (i.saturating_sub(w - 1)..=i).any(|s| {
                    let e = (s + w).min(hits.len());
                    e - s == w.min(hits.len()) && hits[s..e].iter().filter(|h| **h).count() >= t.min_hits
                })
        })
        .collect();
    let signal: Vec<_> =
        samples.iter().zip(&confirmed).zip(&strength).map(|((o, ok), s)| (o.t, if *ok { *s } else { None })).collect();
    let mut out = Vec::new();
    for r in fold(&signal, step, c.merge_gap_s.max(step * 1.5), 0.0) {
        let mut classes: Vec<(String, f32)> = Vec::new();
        let (mut held, mut hands) = (0, [0, 0]);
        for o in in_span(obs, r.start, r.end) {
            let seen: Vec<_> = o.objects.iter().flatten().filter(|d| d.category == category && t.reached_by(d.score)).collect();
            held += usize::from(seen.iter().any(|d| d.in_hand));
            for (k, side) in [crate::detect::hand::Side::Left, crate::detect::hand::Side::Right].into_iter().enumerate() {
                hands[k] += usize::from(seen.iter().any(|d| d.hand.as_deref() == Some(side.as_str())));
            }
            for d in seen {
                match classes.iter_mut().find(|(c, _)| *c == d.class) {
                    Some((_, s)) => *s = s.max(d.score),
                    None => classes.push((d.class.clone(), d.score)),
                }
            }
        }
        let detail = crate::kinds::objects::detail(&classes, held, hands, r.hits.len(), r.samples);
        out.push(r.into_event(kind, detail));
    }
    out
}

/// How strongly one object sample shows object kind `kind` (its detections
/// of the kind's category at its `min_score`); `None` when it does not. A
/// person counts only when it is not the candidate ([`extra_person`]).
pub(super) fn object_strength(o: &Observation, kind: EventKind, cfg: &Config) -> Option<f32> {
    let t = cfg.rules.sighting(kind)?;
    let category = kind.as_str();
    let seen = || o.objects.iter().flatten().filter(move |d| d.category == category && t.reached_by(d.score));
    if kind != EventKind::Person {
        return seen().map(|d| d.score).reduce(f32::max);
    }
    let faces: Vec<[f32; 4]> = o.faces_above(cfg.events.face_min_score as f32).map_or_else(Vec::new, |f| f.map(|x| x.bbox).collect());
    // people far behind (a crowd, a poster) are not in the room with the candidate
    let near = |b: &[f32; 4]| b[3] - b[1] >= cfg.rules.person.min_height as f32 * o.height as f32;
    let boxes: Vec<([f32; 4], f32)> = seen().map(|d| (d.bbox, d.score)).filter(|(b, _)| near(b)).collect();
    extra_person(&boxes, &faces)
}

/// People, not boxes: person boxes that overlap much (IoU above 0.3, or one
/// mostly inside the other) are one person. A person whose box holds the
/// centre of a counted face is that face's; faces are multiple_faces'
/// business. With no face in view, one faceless person is taken to be the
/// candidate (turned away or covered: no_face's business). Returns the score
/// of the most likely extra person, if there is one.
pub(super) fn extra_person(boxes: &[([f32; 4], f32)], faces: &[[f32; 4]]) -> Option<f32> {
    pub(super) fn inter(a: &[f32; 4], b: &[f32; 4]) -> f32 {
        (a[2].min(b[2]) - a[0].max(b[0])).max(0.0) * (a[3].min(b[3]) - a[1].max(b[1])).max(0.0)
    }
    pub(super) fn area(a: &[f32; 4]) -> f32 {
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
