//! Events and a policy become the integrity score, with its explanation.

use crate::config::Policy;
pub use crate::records::{Band, Score, ScoreLine};
use crate::records::Event;
use crate::kinds::EventKind;

/// How much an event weighs when choosing which to show: its kind's
/// deduction per event, by its confidence, then its length.
pub fn severity(e: &Event, policy: &Policy) -> f64 {
    policy.deductions.get(&e.kind).copied().unwrap_or(0.0) * (0.5 + e.confidence as f64) + e.duration_s() / 1e3
}

pub fn score(events: &[Event], policy: &Policy) -> Score {
    let mut lines = Vec::new();
    for kind in EventKind::ALL {
        let of_kind: Vec<&Event> = events.iter().filter(|e| e.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        let per_event = policy.deductions.get(&kind).copied().unwrap_or(0.0);
        let cap = policy.caps.get(&kind).copied();
        // a kind in `full_at_s` costs its share for events shorter than that
        let share = |e: &&Event| match policy.full_at_s.get(&kind) {
            Some(&full) if full > 0.0 => (e.duration_s() / full).clamp(0.0, 1.0),
            _ => 1.0,
        };
        let raw = per_event * of_kind.iter().map(share).sum::<f64>();
        lines.push(ScoreLine {
            kind,
            count: of_kind.len(),
            total_s: of_kind.iter().map(|e| e.duration_s()).sum(),
            per_event,
            cap,
            deduction: cap.map_or(raw, |c| raw.min(c)),
        });
    }
    let value = (100.0 - lines.iter().map(|l| l.deduction).sum::<f64>()).max(0.0);
    let band = if value >= policy.low_risk_min {
        Band::Low
    } else if value >= policy.medium_risk_min {
        Band::Medium
    } else {
        Band::High
    };
    Score { value, band, lines }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventKind, start: f64, end: f64) -> Event {
        Event { kind, start_s: start, end_s: end, confidence: 1.0, detail: String::new(), evidence_t: start }
    }

    #[test]
    fn empty_timeline_scores_100_low_risk() {
        let s = score(&[], &Policy::default());
        assert_eq!(s.value, 100.0);
        assert_eq!(s.band, Band::Low);
        assert!(s.lines.is_empty());
    }

    #[test]
    fn deductions_by_hand() {
        // 2 x multiple_faces (20) + 1 phone (15) + 3 looking_away (5) = 70 -> 30, high
        let events = vec![
            ev(EventKind::MultipleFaces, 0.0, 3.0),
            ev(EventKind::Phone, 5.0, 9.0),
            ev(EventKind::MultipleFaces, 10.0, 12.5),
            ev(EventKind::LookingAway, 20.0, 26.0),
            ev(EventKind::LookingAway, 30.0, 35.0),
            ev(EventKind::LookingAway, 40.0, 47.0),
        ];
        let s = score(&events, &Policy::default());
        assert_eq!(s.value, 30.0);
        assert_eq!(s.band, Band::High);
        let mf = &s.lines[0];
        assert_eq!((mf.kind, mf.count, mf.total_s, mf.deduction), (EventKind::MultipleFaces, 2, 5.5, 40.0));
        let la = s.lines.iter().find(|l| l.kind == EventKind::LookingAway).unwrap();
        assert_eq!((la.count, la.total_s, la.deduction), (3, 18.0, 15.0));
    }

    #[test]
    fn no_face_costs_its_share_under_ten_seconds() {
        // 5 s: half of 15; 10 s and 600 s: all of it; with full_at_s 0: every event all of it
        let events = vec![ev(EventKind::NoFace, 0.0, 5.0), ev(EventKind::NoFace, 20.0, 30.0), ev(EventKind::NoFace, 40.0, 640.0)];
        let s = score(&events, &Policy::default());
        assert_eq!(s.lines[0].deduction, 7.5 + 15.0 + 15.0);
        let mut p = Policy::default();
        p.full_at_s.insert(EventKind::NoFace, 0.0);
        assert_eq!(score(&events, &p).lines[0].deduction, 45.0);
        let p: crate::config::Policy = toml::from_str("[full_at_s]\nlooking_away = 20\n").unwrap();
        assert_eq!(p.full_at_s.get(&EventKind::NoFace), Some(&10.0), "kinds left out keep their default");
        assert_eq!(score(&[ev(EventKind::LookingAway, 0.0, 5.0)], &p).lines[0].deduction, 1.25);
    }

    #[test]
    fn caps_bands_and_floor() {
        let mut p = Policy::default();
        p.caps.insert(EventKind::LookingAway, 8.0);
        let events: Vec<Event> = (0..4).map(|i| ev(EventKind::LookingAway, i as f64 * 10.0, i as f64 * 10.0 + 6.0)).collect();
        let s = score(&events, &p);
        assert_eq!(s.value, 92.0); // 4 x 5 = 20, capped at 8
        assert_eq!(s.band, Band::Low);
        let s = score(&[ev(EventKind::MultipleFaces, 0.0, 3.0), ev(EventKind::NoFace, 5.0, 20.0)], &p);
        assert_eq!((s.value, s.band), (65.0, Band::High));
        let s = score(&[ev(EventKind::NoFace, 5.0, 20.0)], &p);
        assert_eq!((s.value, s.band), (85.0, Band::Low));
        let many: Vec<Event> = (0..10).map(|i| ev(EventKind::Identity, i as f64, i as f64 + 1.0)).collect();
        assert_eq!(score(&many, &p).value, 0.0);
    }
}
