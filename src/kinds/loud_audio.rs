//! `loud_audio`: sound at clipping level, whatever makes it (the absolute
//! ceiling; [`super::background_noise`] judges quieter sound against the room).
//!
//! This kind's home: its thresholds (`[rules.loud_audio]` in proctor.toml),
//! its per-frame test, the wording of its rule and of its events' detail,
//! and its deduction. The events stage folds the per-frame test into events.
//!
//! A frame's level is the RMS of the half second around it
//! (`analysis.audio_window_s`), so one frame over the ceiling is already half a
//! second of sound over it.
//!
//! Under the candidate's own speech (speech probability at least `speech_min`
//! and no signal saying it is another voice's) the ceiling is higher: the
//! candidate's speech level (the median level of those frames) plus
//! `speech_over_db`, when that is above -12 dBFS. So the candidate's own
//! voice never fires it however loud it is recorded (its loudest half second
//! stands 6-7 dB over its median), while a loud sound under the speech
//! (a burst well over the voice) still does.

use serde::{Deserialize, Serialize};

/// Points deducted per event under the default policy.
pub const DEDUCTION: f64 = 2.0;

/// Why the deduction is what it is, for docs/rules.md.
pub const WHY: &str = "a loud sound says little about honesty (a dropped cup, a siren): a reason to listen, not to doubt";

/// How loud a frame must be, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// The ceiling: RMS level in dBFS over a frame's level window.
    pub db: f64,
    /// Seconds the level must be seen over it (frames x frame interval).
    pub min_s: f64,
    /// Under the candidate's own speech: dB over the candidate's speech level
    /// (when that is higher than `db`).
    pub speech_over_db: f64,
}

/// One frame at 4 fps (0.25 s): chosen on the level clips of the tuning half
/// (`fixtures/make_hard_fixtures.py`, `lv_*_t`), where it found the 12 loud
/// bursts of 0.5-3 s at -11 to -4 dBFS; seen for 1 s it found 5 (a burst of 1 s
/// at -11 dBFS is seen over -12 dBFS for 0.75 s through half-second windows).
/// `speech_over_db`: chosen on the tuning clips (docs/accuracy.md, "The
/// candidate's own speech at any level").
pub const DEFAULTS: Thresholds = Thresholds { db: -12.0, min_s: 0.25, speech_over_db: 5.5 };

/// The keys of earlier proctor.toml files that set these, and the field each is now.
pub const LEGACY: &[(&str, &str)] =
    &[("events.loud_audio_db", "db"), ("events.loud_audio_min_s", "min_s"), ("events.loud_audio_speech_over_db", "speech_over_db")];

/// Why an event of this kind is raised, in words for the report.
pub fn rule(t: &Thresholds) -> String {
    format!(
        "audio louder than {} dBFS RMS over the level window around a frame (half a second), seen for at least {} s; \
         under the candidate's own speech, also at least {} dB over the candidate's speech level",
        t.db, t.min_s, t.speech_over_db
    )
}

/// The ceiling of one frame: `db`, or under the candidate's own speech
/// (`own_speech`) the candidate's speech level `speech_db` plus
/// `speech_over_db` when that is higher.
pub fn ceiling(own_speech: bool, speech_db: Option<f32>, t: &Thresholds) -> f32 {
    match speech_db {
        Some(s) if own_speech => (s + t.speech_over_db as f32).max(t.db as f32),
        _ => t.db as f32,
    }
}

/// How strongly one frame at `level_db` is loud (0.5 at the ceiling, 1 at 10 dB
/// over it), or `None` when it is not over the ceiling.
pub fn strength(level_db: f32, ceiling: f32) -> Option<f32> {
    (level_db > ceiling).then(|| ((level_db - ceiling) / 20.0 + 0.5).min(1.0))
}

/// An event's detail: its loudest frame against the ceiling, and the
/// candidate's speech level when speech was heard.
pub fn detail(peak_db: f32, speech_db: Option<f32>, t: &Thresholds) -> String {
    let speech = speech_db.map_or_else(String::new, |s| {
        format!("; under the candidate's speech (at {s:.0} dBFS) {:.0} dBFS", (s + t.speech_over_db as f32).max(t.db as f32))
    });
    format!("peak {peak_db:.1} dBFS (threshold {} dBFS{speech})", t.db)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loud_only_over_the_ceiling() {
        let t = DEFAULTS;
        let c = ceiling(false, None, &t);
        assert_eq!(strength(-12.0, c), None, "at the ceiling is not over it");
        assert_eq!(strength(-16.4, c), None, "speech_loud.webm's loudest half second");
        assert!(strength(-11.0, c).is_some_and(|s| (s - 0.55).abs() < 1e-6));
        assert_eq!(strength(0.0, c), Some(1.0), "clamped");
        assert_eq!(detail(-6.04, None, &t), "peak -6.0 dBFS (threshold -12 dBFS)");
        // under the candidate's own speech, recorded loud (its median at -12 dBFS)
        let over = -12.0 + t.speech_over_db as f32;
        assert_eq!(ceiling(true, Some(-12.0), &t), over);
        // its loudest half second 4 dB over its median (2.2-3.7 dB measured)
        assert_eq!(strength(-8.0, ceiling(true, Some(-12.0), &t)), None, "the candidate's loudest half second");
        assert!(strength(-8.0, ceiling(false, Some(-12.0), &t)).is_some(), "the same level without speech");
        assert!(strength(-5.0, ceiling(true, Some(-12.0), &t)).is_some(), "a burst 7 dB over the voice");
        // speech at an ordinary level leaves the ceiling at -12
        assert_eq!(ceiling(true, Some(-30.0), &t), -12.0);
        assert_eq!(detail(-1.0, Some(-12.0), &t), format!("peak -1.0 dBFS (threshold -12 dBFS; under the candidate's speech (at -12 dBFS) {over:.0} dBFS)"));
    }
}
