//! `voices`: speech that is not the candidate's (someone coaching, a call).
//!
//! This kind's home: its thresholds (`[rules.voices]` in proctor.toml), the
//! wording of its rule, and its deduction. Whose voice a frame's speech is
//! was judged with the frames (`[events]` `speech_min`, `mouth_still`,
//! `voice_other_max`, `voice_same_min`): the frames table's `other_voice`.

/// Points deducted per event under the default policy.
pub const DEDUCTION: f64 = 10.0;

/// Why the deduction is what it is, for docs/rules.md.
pub const WHY: &str = "a voice that is not the candidate's is someone who can help, as notes in reach can: \
less than a second face, because speech heard is a weaker witness than a face seen (a television, a \
neighbour); it was 2, as much as a loud noise, which said a coach counts for nothing";

pub type Thresholds = super::Lasting;

pub const DEFAULTS: Thresholds = super::Lasting { min_s: 2.0 };

/// The keys of earlier proctor.toml files that set these, and the field each is now.
pub const LEGACY: &[(&str, &str)] = &[("events.voices_min_s", "min_s")];

/// What judged whose voice each frame's speech is (shared `[events]` settings).
pub struct Whose {
    pub speech_min: f64,
    pub mouth_still: f64,
    pub voice_other_max: f64,
    pub voice_same_min: f64,
}

/// Why an event of this kind is raised, in words for the report.
pub fn rule(t: &Thresholds, w: &Whose) -> String {
    format!(
        "speech (probability at least {}) while no face is in view or the candidate's lips are still \
         (lip-opening variation under {}), or in a voice unlike the candidate's enrolled voice \
         (similarity under {}; at {} or more it is theirs and overrides the picture), for at least {} s",
        w.speech_min, w.mouth_still, w.voice_other_max, w.voice_same_min, t.min_s
    )
}
