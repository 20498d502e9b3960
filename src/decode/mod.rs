//! Demuxing and decoding with FFmpeg: probe a recording, sample frames at the
//! analysis rate by their timestamps, decode audio to 16 kHz mono.
//!
//! Time in this module is in seconds from the first video timestamp of the
//! recording ("media time"), so a stream that starts at pts 0.067 s still has
//! its first frame at 0.0.

mod audio;
pub(crate) mod probe;
mod video;

pub use audio::{decode_audio, stream_audio, Audio, AudioFormat, AUDIO_RATE};
pub use probe::{probe, MediaInfo};
pub use video::{decode_samples, decode_samples_while, decode_samples_with, frame_at, frames_at, DecodeOptions, Frame, SampleStats};

use std::ops::Range;
use std::sync::Once;

/// Initialise FFmpeg once per process and keep its logging quiet: errors are
/// reported by proctor itself, with the file name.
pub(crate) fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let _ = ffmpeg_next::init();
        ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Fatal);
    });
}

/// The analysis times `k / fps` for `k = 0, 1, ...` that fall inside the video.
pub fn sample_times(duration_s: f64, fps: f64) -> Vec<f64> {
    assert!(fps > 0.0, "analysis rate must be positive");
    let n = ((duration_s * fps) - 1e-9).ceil().max(1.0) as usize;
    (0..n).map(|k| k as f64 / fps).collect()
}

/// Cut `n` samples into at most `chunks` contiguous, end-exclusive ranges of
/// nearly equal length. Every sample belongs to exactly one range. (The
/// analysis decodes in one pass; this serves callers that decode ranges of a
/// file separately, each from its own seek, as the decode tests do.)
pub fn plan_chunks(n: usize, chunks: usize) -> Vec<Range<usize>> {
    let chunks = chunks.clamp(1, n.max(1));
    let base = n / chunks;
    let extra = n % chunks;
    let mut out = Vec::with_capacity(chunks);
    let mut start = 0;
    for i in 0..chunks {
        let len = base + usize::from(i < extra);
        out.push(start..start + len);
        start += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_times_cover_the_video_end_exclusive() {
        assert_eq!(sample_times(1.0, 4.0), vec![0.0, 0.25, 0.5, 0.75]);
        assert_eq!(sample_times(1.01, 4.0).len(), 5);
        // a 0.2 s clip still yields its first frame
        assert_eq!(sample_times(0.2, 4.0), vec![0.0]);
    }

    #[test]
    fn chunks_partition_the_samples() {
        for n in [0usize, 1, 7, 100] {
            for c in [1usize, 3, 8, 200] {
                let plan = plan_chunks(n, c);
                let flat: Vec<usize> = plan.iter().flat_map(|r| r.clone()).collect();
                assert_eq!(flat, (0..n).collect::<Vec<_>>(), "n={n} c={c}");
                assert!(plan.iter().all(|r| n == 0 || !r.is_empty()));
            }
        }
    }
}
