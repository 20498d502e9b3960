//! What the audio analysis found, beyond the per-frame levels.

/// The voice of one speech segment (media time), from the speaker embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceSegment {
    pub start_s: f64,
    pub end_s: f64,
    /// The segment's embedding (unit length, 256-d).
    pub embedding: Vec<f32>,
    /// Its 1.6 s partial utterances.
    pub partials: Vec<VoicePartial>,
}

/// One 1.6 s partial utterance of a [`VoiceSegment`] (its end clamped to the segment's).
#[derive(Debug, Clone, PartialEq)]
pub struct VoicePartial {
    pub start_s: f64,
    pub end_s: f64,
    pub embedding: Vec<f32>,
}

