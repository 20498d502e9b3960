//! `background_noise`: sound that is not speech and stands well above the
//! room's own noise (a door, a voice off, music), under the ceiling that
//! [`super::loud_audio`] keeps.
//!
//! This kind's home: its thresholds (`[rules.background_noise]` in
//! proctor.toml; `[events] speech_min` says what counts as speech), the room's levels it is judged
//! against, its per-frame test, the test a run of frames must pass, the wording
//! of its rule and of its events' detail, and its deduction. The events stage
//! folds the per-frame test into runs and leaves out what `loud_audio` covers.

use serde::{Deserialize, Serialize};

/// Points deducted per event under the default policy.
pub const DEDUCTION: f64 = 2.0;

/// Why the deduction is what it is, for docs/rules.md.
pub const WHY: &str = "noise in the room is a reason to listen, as loud_audio is";

/// Frames within this many seconds of speech are not judged (the rises and
/// tails of the candidate's words).
pub const SPEECH_MARGIN_S: f64 = 0.5;

/// What makes sound stand out of the room, and for how long it must.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// dB above the room's noise floor.
    pub above_floor_db: f64,
    /// ... and at least this loud (dBFS): faint sound in digital silence is not flagged.
    pub min_dbfs: f64,
    /// Seconds it must be seen ...
    pub min_s: f64,
    /// ... or this long when it peaks `transient_db` above the floor (a slam).
    pub transient_s: f64,
    pub transient_db: f64,
    /// An impulse (a slam, a knock): a sound whose loudest 32 ms
    /// (`audio_peak_db`) stands at least this many dB over its loudest half
    /// second. A thump of 0.1 s is averaged 8-10 dB down by the half-second
    /// level, so an impulse is judged by its loudest 32 ms against
    /// `transient_db`; a steady sound's 32 ms stand 0.5-1.6 dB over its half
    /// second.
    pub impulse_db: f64,
}

pub const DEFAULTS: Thresholds = Thresholds {
    above_floor_db: 20.0,
    min_dbfs: -45.0,
    min_s: 1.0,
    transient_s: 0.5,
    transient_db: 25.0,
    impulse_db: 5.0,
};

/// The keys of earlier proctor.toml files that set these, and the field each is now.
pub const LEGACY: &[(&str, &str)] = &[
    ("events.background_noise_db", "above_floor_db"),
    ("events.background_noise_min_dbfs", "min_dbfs"),
    ("events.background_noise_min_s", "min_s"),
    ("events.background_noise_transient_s", "transient_s"),
    ("events.background_noise_transient_db", "transient_db"),
    ("events.background_noise_impulse_db", "impulse_db"),
];

/// Why an event of this kind is raised, in words for the report.
pub fn rule(t: &Thresholds, speech_min: f64) -> String {
    format!(
        "sound with no speech in it (speech probability under {} within {} s) at least {} dB above the \
         room's noise floor (the 10th percentile of the recording's levels) and louder than {} dBFS, for \
         at least {} s ({} s when {} dB above it, or when an impulse's loudest 32 ms, {} dB or more over its loudest \
         half second, is {} dB above it); not raised where loud_audio covers the time",
        speech_min, SPEECH_MARGIN_S, t.above_floor_db, t.min_dbfs, t.min_s, t.transient_s, t.transient_db, t.impulse_db, t.transient_db
    )
}

/// The room's levels: its noise floor (the 10th percentile of the frames'
/// levels, at least -100 dBFS) and the candidate's speech level (the median
/// level of the frames with speech).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoomLevels {
    pub floor_db: f32,
    pub speech_db: Option<f32>,
}

impl RoomLevels {
    /// From every frame's level and the levels of the frames with speech;
    /// `None` without any level.
    pub fn of(levels: impl IntoIterator<Item = f32>, speech_levels: impl IntoIterator<Item = f32>) -> Option<RoomLevels> {
        let mut levels: Vec<f32> = levels.into_iter().map(|d| d.max(-100.0)).collect();
        levels.sort_by(|a, b| a.total_cmp(b));
        let floor_db = *levels.get((levels.len().max(1) - 1) / 10)?;
        let speech_db = super::median(speech_levels.into_iter().collect());
        Some(RoomLevels { floor_db, speech_db })
    }

    /// The level a frame must reach: `above_floor_db` over the floor, and at
    /// least `min_dbfs`.
    pub fn threshold(&self, t: &Thresholds) -> f32 {
        (self.floor_db + t.above_floor_db as f32).max(t.min_dbfs as f32)
    }

    /// The level an impulse's loudest 32 ms must reach: `transient_db` over
    /// the floor, and at least `min_dbfs`.
    pub fn impulse_threshold(&self, t: &Thresholds) -> f32 {
        (self.floor_db + t.transient_db as f32).max(t.min_dbfs as f32)
    }
}

/// How strongly one frame stands out (0.5 at the threshold, 1 at 10 dB over
/// it), or `None`: under the threshold, or near speech. A frame whose level
/// is under the threshold still counts (at 0.5) when its loudest 32 ms
/// (`short_db`) is an impulse's (`impulse_db` over its level) and reaches the
/// impulse threshold.
pub fn strength(level_db: f32, short_db: Option<f32>, near_speech: bool, room: &RoomLevels, t: &Thresholds) -> Option<f32> {
    if near_speech {
        return None;
    }
    let threshold = room.threshold(t);
    if level_db >= threshold {
        Some(((level_db - threshold) / 20.0 + 0.5).min(1.0))
    } else {
        short_db.is_some_and(|s| s >= room.impulse_threshold(t) && s - level_db >= t.impulse_db as f32).then_some(0.5)
    }
}

/// Whether a run of such frames, seen for `seen_s`, peaking at `peak_db` and
/// with its loudest 32 ms at `short_db`, is an event: seen for `min_s`, or for
/// `transient_s` (the shorter, which the fold asks for) when it peaks
/// `transient_db` above the floor, or when it is an impulse (its loudest 32 ms
/// `impulse_db` over `peak_db`) whose loudest 32 ms reaches the impulse
/// threshold.
pub fn is_event(seen_s: f64, peak_db: f32, short_db: Option<f32>, room: &RoomLevels, t: &Thresholds) -> bool {
    seen_s >= t.min_s - 1e-9
        || peak_db - room.floor_db >= t.transient_db as f32
        || short_db.is_some_and(|s| s >= room.impulse_threshold(t) && s - peak_db >= t.impulse_db as f32)
}

/// An event's detail: its loudest frame against the room's floor and the
/// candidate's speech.
pub fn detail(peak_db: f32, short_db: Option<f32>, room: &RoomLevels, hits: usize, samples: usize) -> String {
    let speech = room.speech_db.map_or_else(|| "no speech heard to compare".to_string(), |s| format!("the candidate's speech is at {s:.0} dBFS"));
    let short = short_db.map_or_else(String::new, |s| format!(" (its loudest 32 ms {s:.1} dBFS, {:.0} dB above)", s - room.floor_db));
    format!(
        "non-speech sound at up to {peak_db:.1} dBFS, {:.0} dB above the room's floor ({:.0} dBFS; {speech}){short}, in {hits} of {samples} frames",
        peak_db - room.floor_db,
        room.floor_db,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_room_is_its_quiet_tenth_and_sound_is_judged_against_it() {
        // 100 frames: 90 of room at -50 dBFS, 10 of speech at -20
        let levels = (0..100).map(|i| if i < 90 { -50.0 } else { -20.0 });
        let room = RoomLevels::of(levels, [-20.0; 10]).unwrap();
        assert_eq!(room, RoomLevels { floor_db: -50.0, speech_db: Some(-20.0) });
        let t = DEFAULTS;
        assert_eq!(room.threshold(&t), -30.0);
        assert_eq!(strength(-31.0, None, false, &room, &t), None, "19 dB above the room");
        assert_eq!(strength(-30.0, None, false, &room, &t), Some(0.5));
        assert_eq!(strength(-10.0, None, true, &room, &t), None, "near speech");
        // a thump: its half second 16 dB above the room, its loudest 32 ms 25 dB
        let short = -25.0;
        assert_eq!(strength(-34.0, Some(short - 0.5), false, &room, &t), None);
        assert_eq!(strength(-34.0, Some(short), false, &room, &t), Some(0.5));
        assert_eq!(strength(-34.0, Some(short), true, &room, &t), None, "near speech");
        // a steady sound's 32 ms stand barely over its half second: not an impulse
        assert_eq!(strength(-26.0, Some(-24.5), false, &room, &t), Some(0.7), "20 dB up on its own level");
        assert_eq!(strength(-31.0, Some(-29.5), false, &room, &t), None);
        // in digital silence the absolute floor decides
        let silent = RoomLevels::of([-120.0; 10], []).unwrap();
        assert_eq!(silent.floor_db, -100.0);
        assert_eq!(silent.threshold(&t), -45.0);
        // a half-second run is an event only when it peaks 25 dB above the floor
        assert!(!is_event(0.5, -26.0, None, &room, &t));
        assert!(!is_event(0.5, -26.0, Some(-24.5), &room, &t), "a steady sound 24 dB up");
        assert!(!is_event(0.5, -34.0, Some(short - 0.5), &room, &t), "an impulse 24.5 dB up");
        assert!(is_event(0.5, -34.0, Some(short), &room, &t), "an impulse by its loudest 32 ms");
        assert!(!is_event(0.5, -29.0, Some(short), &room, &t), "4 dB over its half second: not an impulse");
        assert!(is_event(0.5, -25.0, None, &room, &t));
        assert!(is_event(1.0, -29.0, None, &room, &t));
        assert!(RoomLevels::of([], []).is_none());
    }
}
