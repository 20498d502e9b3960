//! Audio models and the audio analysis. [`vad`]: Silero VAD v6, speech probability per
//! 32 ms window of 16 kHz mono audio, and speech segments from it. [`track`]: the
//! recording's audio streamed from the decoder ([`crate::decode::stream_audio`]), placed by
//! its timestamps, reduced to a level and a speech probability per window.

pub mod track;
pub mod vad;

use std::path::Path;

use anyhow::Context;
use candle_core::Device;

pub use track::{analyze_audio, AudioAccumulator, AudioTrack, PlacementStats};
pub use vad::{speech_segments, SileroVad, SpeechParams, SpeechSegment, VadStream, VadWindow};

/// File name of the VAD weights (embedded, or in a `--models` directory).
pub const VAD_FILE: &str = "silero_vad_16k.safetensors";
/// The VAD weights embedded in the binary (made by `models/convert_vad.py`).
pub const VAD_WEIGHTS: &[u8] = include_bytes!("../../models/silero_vad_16k.safetensors");
/// Their provenance record (`models/silero_vad.provenance.json`).
pub const VAD_PROVENANCE: &str = include_str!("../../models/silero_vad.provenance.json");

/// Load the VAD: from `dir/silero_vad_16k.safetensors` when `dir` is given, else embedded.
pub fn load_vad(dir: Option<&Path>, device: &Device) -> anyhow::Result<SileroVad> {
    match dir {
        None => SileroVad::from_bytes(VAD_WEIGHTS, device),
        Some(d) => {
            let p = d.join(VAD_FILE);
            let bytes = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
            SileroVad::from_bytes(&bytes, device).with_context(|| p.display().to_string())
        }
    }
}
