//! Audio models and the audio analysis. [`vad`]: Silero VAD v6, speech probability per
//! 32 ms window of 16 kHz mono audio, and speech segments from it. [`track`]: the
//! recording's audio streamed from the decoder ([`crate::decode::stream_audio`]), placed by
//! its timestamps, reduced to a level and a speech probability per window, and cut into
//! speech segments whose voices [`speaker`] embeds (Resemblyzer).

pub mod speaker;
pub mod track;
pub mod vad;

use std::path::Path;

use anyhow::Context;
use candle_core::Device;

pub use speaker::{cosine, SegmentParams, SpeakerEncoder, SpeakerStream, Utterance};
pub use track::{analyze_audio, AudioAccumulator, AudioTrack, PlacementStats, VoicePartial, VoiceSegment};
pub use vad::{speech_segments, SileroVad, SpeechParams, SpeechSegment, VadStream, VadWindow};

/// File name of the VAD weights (embedded, or in a `--models` directory).
pub const VAD_FILE: &str = "silero_vad_16k.safetensors";
/// The VAD weights embedded in the binary (made by `models/convert_vad.py`).
pub const VAD_WEIGHTS: &[u8] = include_bytes!("../../models/silero_vad_16k.safetensors");
/// Their provenance record (`models/silero_vad.provenance.json`).
pub const VAD_PROVENANCE: &str = include_str!("../../models/silero_vad.provenance.json");

/// Load the VAD: from `dir/silero_vad_16k.safetensors` when `dir` is given, else embedded.
pub fn load_vad(dir: Option<&Path>, device: &Device) -> anyhow::Result<SileroVad> {
    load_model(dir, VAD_FILE, VAD_WEIGHTS, |b| SileroVad::from_bytes(b, device))
}

/// An audio model from `dir/file` when `dir` is given (errors name that file), else from
/// its embedded bytes.
fn load_model<T>(dir: Option<&Path>, file: &str, embedded: &[u8], from_bytes: impl Fn(&[u8]) -> anyhow::Result<T>) -> anyhow::Result<T> {
    match dir {
        None => from_bytes(embedded),
        Some(d) => {
            let p = d.join(file);
            let bytes = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
            from_bytes(&bytes).with_context(|| p.display().to_string())
        }
    }
}

/// File name of the speaker-embedding weights (embedded, or in a `--models` directory).
pub const SPEAKER_FILE: &str = "resemblyzer.safetensors";
/// The speaker-embedding weights embedded in the binary (made by
/// `models/convert_resemblyzer.py`).
pub const SPEAKER_WEIGHTS: &[u8] = include_bytes!("../../models/resemblyzer.safetensors");
/// Their provenance record (`models/resemblyzer.provenance.json`).
pub const SPEAKER_PROVENANCE: &str = include_str!("../../models/resemblyzer.provenance.json");

/// Load the speaker encoder: from `dir/resemblyzer.safetensors` when `dir` is given, else
/// embedded.
pub fn load_speaker(dir: Option<&Path>, device: &Device) -> anyhow::Result<SpeakerEncoder> {
    load_model(dir, SPEAKER_FILE, SPEAKER_WEIGHTS, |b| SpeakerEncoder::from_bytes(b, device))
}
