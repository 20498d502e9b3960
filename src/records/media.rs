//! What is known about a recording's file and streams.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What is known about a recording before decoding it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MediaInfo {
    pub path: PathBuf,
    pub container: String,
    pub video_codec: String,
    pub audio_codec: Option<String>,
    /// Size of the decoded pictures, before rotation.
    pub coded_width: u32,
    pub coded_height: u32,
    /// Size as displayed, after the rotation metadata is applied.
    pub width: u32,
    pub height: u32,
    /// Clockwise rotation applied to decoded pictures: 0, 90, 180 or 270.
    pub rotation: u32,
    /// Seconds from the first to the end of the last video frame.
    pub duration_s: f64,
    /// What the container header claims, if anything.
    pub header_duration_s: Option<f64>,
    /// Number of video packets (frames) in the file.
    pub frame_count: u64,
    /// Average frames per second over the file.
    pub avg_fps: f64,
    /// True when frame intervals vary by more than half of the typical one.
    pub variable_frame_rate: bool,
    /// True when reading stopped on an error or the header promised much more
    /// than the packets hold.
    pub truncated: bool,
    /// Video packets whose timestamps lie far from the rest (a jump of more
    /// than a minute, and of 100 frame intervals, away from the bulk of the
    /// stream): left out of the duration, so one wild timestamp cannot make
    /// a recording hours long.
    pub stray_packets: u64,
    /// Video streams in the file (attached pictures such as cover art not
    /// counted). Only one is analysed: see `video_stream_note`.
    #[serde(default)]
    pub video_streams: usize,
    /// Which stream was analysed, when the file has more than one (a
    /// warning of the summary).
    #[serde(skip)]
    pub(crate) video_stream_note: Option<String>,
    #[serde(skip)]
    pub(crate) video_index: usize,
    /// First video timestamp, in the video stream's time base.
    #[serde(skip)]
    pub(crate) origin_ts: i64,
    #[serde(skip)]
    pub(crate) time_base: (i32, i32),
    /// Media times of the video's keyframes, ascending (from the packet scan):
    /// where a seek can land.
    #[serde(skip)]
    pub(crate) keyframes_s: Vec<f64>,
}

impl MediaInfo {
    pub(crate) fn ts_to_s(&self, ts: i64) -> f64 {
        // i128: crafted timestamps at the ends of i64 must not overflow
        (ts as i128 - self.origin_ts as i128) as f64 * self.time_base.0 as f64 / self.time_base.1 as f64
    }
}


/// Equal when every saved fact is: the decoder's own bookkeeping (stream
/// index, time base, keyframe times) is not saved, so a loaded analysis has
/// none of it and still equals the one that was written.
impl PartialEq for MediaInfo {
    fn eq(&self, o: &Self) -> bool {
        self.path == o.path
            && self.container == o.container
            && self.video_codec == o.video_codec
            && self.audio_codec == o.audio_codec
            && self.coded_width == o.coded_width
            && self.coded_height == o.coded_height
            && self.width == o.width
            && self.height == o.height
            && self.rotation == o.rotation
            && self.duration_s == o.duration_s
            && self.header_duration_s == o.header_duration_s
            && self.frame_count == o.frame_count
            && self.avg_fps == o.avg_fps
            && self.variable_frame_rate == o.variable_frame_rate
            && self.truncated == o.truncated
            && self.stray_packets == o.stray_packets
            && self.video_streams == o.video_streams
    }
}
