//! What the object kinds (`phone`, `book`, `device`, `person`) share: the
//! thresholds of a sighting and the wording of their rule. Each has its own
//! home beside this one (its classes, defaults and deduction).

use serde::{Deserialize, Serialize};

/// What makes an object seen: its score, in enough of the object samples
/// around it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sighting {
    /// The detector's score (objectness x class) a detection of the kind's
    /// classes must reach. At least `objects.keep_min_score`, the score from
    /// which detections are kept in the detections table.
    pub min_score: f64,
    /// An object must be seen in `min_hits` of `window` consecutive object samples.
    pub window: usize,
    pub min_hits: usize,
}

impl Sighting {
    pub const fn new(min_score: f64) -> Sighting {
        Sighting { min_score, window: 3, min_hits: 2 }
    }

    /// Whether a detection scoring `score` reaches [`Sighting::min_score`]:
    /// the one test the rule's signal, its events' detail and the evidence
    /// pictures' boxes all make (compared as the detector's f32).
    pub fn reached_by(&self, score: f32) -> bool {
        score >= self.min_score as f32
    }

    pub fn validate(&self, kind: &str) -> Result<(), String> {
        if self.min_hits == 0 || self.min_hits > self.window {
            return Err(format!("rules.{kind}.min_hits must be in 1..=window, not {} (window {})", self.min_hits, self.window));
        }
        if !(0.0..=1.0).contains(&self.min_score) {
            return Err(format!("rules.{kind}.min_score must be in [0, 1], not {}", self.min_score));
        }
        Ok(())
    }
}

/// The keys of earlier proctor.toml files that set a sighting of `kind`
/// (the window and hits were shared by every object kind).
pub const fn legacy(min_score_key: &'static str) -> [(&'static str, &'static str); 3] {
    [(min_score_key, "min_score"), ("events.object_window", "window"), ("events.object_min_hits", "min_hits")]
}

/// Why an event of an object kind is raised, in words for the report.
pub fn rule(noun: &str, t: &Sighting) -> String {
    format!("a {noun} seen (score at least {}) in at least {} of {} consecutive object samples", t.min_score, t.min_hits, t.window)
}

/// An event's detail: the classes seen, each with its best score, and in how
/// many samples it was held in a hand (`held`, when any), and by which of the
/// subject's hands where the samples that name one all name the same
/// (`hands`: the samples that named the left and the right hand).
pub fn detail(classes: &[(String, f32)], held: usize, hands: [usize; 2], hits: usize, samples: usize) -> String {
    let seen: Vec<String> = classes.iter().map(|(c, s)| format!("{c} (max score {s:.2})")).collect();
    let which = match hands {
        [l, 0] if l > 0 => "the left hand",
        [0, r] if r > 0 => "the right hand",
        _ => "a hand",
    };
    let held = match held {
        0 => String::new(),
        n => format!(", held in {which} in {n} of them"),
    };
    format!("{}; in {hits} of {samples} object samples{held}", seen.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_detail_says_how_often_the_object_was_held() {
        let seen = [("cell phone".to_string(), 0.487f32), ("remote".to_string(), 0.3)];
        assert_eq!(detail(&seen, 0, [0, 0], 5, 7), "cell phone (max score 0.49), remote (max score 0.30); in 5 of 7 object samples");
        assert_eq!(detail(&seen[..1], 4, [0, 0], 5, 7), "cell phone (max score 0.49); in 5 of 7 object samples, held in a hand in 4 of them");
        assert_eq!(detail(&seen[..1], 4, [3, 0], 5, 7), "cell phone (max score 0.49); in 5 of 7 object samples, held in the left hand in 4 of them");
        assert_eq!(detail(&seen[..1], 4, [0, 2], 5, 7), "cell phone (max score 0.49); in 5 of 7 object samples, held in the right hand in 4 of them");
        // samples that disagree name no hand
        assert_eq!(detail(&seen[..1], 4, [2, 1], 5, 7), "cell phone (max score 0.49); in 5 of 7 object samples, held in a hand in 4 of them");
    }
}
