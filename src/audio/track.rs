//! The audio of one recording, analysed as a stream: levels and speech per 32 ms window,
//! placed by the decoded frames' own timestamps.
//!
//! Why a stream: an hour of 16 kHz mono f32 is 230 MB, while what the rules need is one
//! level and one speech probability per window: [`AudioAccumulator`] keeps, for each
//! 512-sample (32 ms) window, the sum of squares and count of its samples and the Silero
//! VAD probability, so memory grows with duration / 32 ms (16 bytes a window, 1.8 MB an hour), not with
//! the samples.
//!
//! Why timestamps: a dropped packet or a track that starts late must not shift every later
//! level. Windows form a grid from the first frame's start time. Each frame is placed at
//! its own timestamp (rounded to a sample): within [`TOLERANCE`] of where the previous one
//! ended it simply follows it; later than that, the gap is no audio (windows without a
//! sample have no level and no speech; silence fills the rest of a partly covered window for
//! the VAD, which sees whole windows); earlier, the part that overlaps audio already placed
//! is dropped. Frames that start after the end of the video (plus a margin) are ignored, so
//! a wild timestamp cannot grow the grid without bound; so are frames that end more than 1 s
//! before the video starts.
//!
//! The VAD is fed the placed samples in blocks, with its LSTM state carried from window to
//! window (across gaps too: skipped windows are simply not fed), so on audio without gaps
//! its probabilities are exactly those of one pass over the whole track
//! ([`crate::audio::SileroVad::probabilities`]).
//!
//! With a speaker encoder, the same samples also go to a [`SpeakerStream`], which cuts them
//! into speech segments by the VAD's probabilities and embeds each segment's voice as it
//! closes ([`VoiceSegment`]: about 1 KB per 1.6 s partial kept, 4.7 MB for an hour of
//! speech). A segment never spans a gap: it is cut where the gap starts.

use crate::audio::speaker::{SegmentParams, SpeakerEncoder, SpeakerStream, StreamSegment, HOP, PARTIAL_FRAMES};
use crate::audio::vad::{SileroVad, VadStream, SAMPLE_RATE, WINDOW};
use crate::decode::{stream_audio, AudioFormat, MediaInfo};
use crate::error::Result;
use crate::records::Observation;
pub use crate::records::{VoicePartial, VoiceSegment};

/// Length of one analysis window in seconds (32 ms).
pub const WINDOW_S: f64 = WINDOW as f64 / SAMPLE_RATE as f64;
/// A frame that starts within this many samples (4 ms) of where the previous one ended
/// follows it directly: resampling and rounding move frame edges by a few samples.
pub const TOLERANCE: u64 = 64;
/// Samples handed to the VAD at once (64 windows, 2 s): batches its convolutional front end.
const VAD_BLOCK: usize = 64 * WINDOW;
/// Audio later than this past the end of the video, or ending earlier than this before its
/// start, is not kept.
const OUTSIDE_VIDEO_S: f64 = 1.0;
/// A sample at or above this magnitude counts as clipped.
const CLIP_LEVEL: f32 = 0.99;
/// A track whose loudest window is below this level (dBFS) is called silent.
const SILENT_DB: f32 = -60.0;
/// More than this fraction of samples at full scale is called clipped.
const CLIPPED_FRACTION: f64 = 0.001;

/// Gaps listed one by one in [`PlacementStats::gap_spans`].
pub const MAX_GAP_SPANS: usize = 20;

const W: u64 = WINDOW as u64;
const RATE: f64 = SAMPLE_RATE as f64;

/// What one 32 ms window of the grid holds.
#[derive(Debug, Clone, Copy)]
struct Win {
    sum_sq: f64,
    /// Decoded samples placed in it (0: no audio there).
    n: u32,
    /// Speech probability; NaN when the VAD did not see this window.
    p: f32,
}

impl Win {
    const EMPTY: Win = Win { sum_sq: 0.0, n: 0, p: f32::NAN };

    /// RMS level in dBFS of the samples placed in it (call only when `n > 0`).
    fn db(&self) -> f32 {
        (10.0 * (self.sum_sq / self.n as f64).max(1e-12).log10()) as f32
    }
}

/// Counts of what placement did, for the notes in the summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlacementStats {
    /// Gaps between frames (later than where the previous frame ended).
    pub gaps: u32,
    /// Their total length in seconds.
    pub gap_s: f64,
    /// The first [`MAX_GAP_SPANS`] of them, in media time.
    pub gap_spans: Vec<(f64, f64)>,
    /// Audio dropped because its timestamps overlapped audio already placed, seconds.
    pub overlap_s: f64,
    /// Audio ignored because it lies after the end of the video, seconds.
    pub after_video_s: f64,
    /// Audio ignored because it ends well before the start of the video, seconds.
    pub before_video_s: f64,
    /// Samples placed.
    pub samples: u64,
    /// Of them, at full scale (|x| >= 0.99 after resampling to 16 kHz mono).
    pub clipped: u64,
}

/// Places decoded frames on the window grid and runs the VAD over them (see the module doc).
pub struct AudioAccumulator<'a> {
    /// Media time of grid sample 0: the first frame's start.
    origin_s: Option<f64>,
    /// Media time after which nothing is kept.
    limit_s: f64,
    /// Next grid sample: where the previous frame ended.
    cursor: u64,
    windows: Vec<Win>,
    vad: Option<VadStream<'a>>,
    /// Placed samples not yet given to the VAD.
    vad_buf: Vec<f32>,
    /// Grid sample = VAD stream sample + this (grows by the windows a gap skips).
    vad_delta: u64,
    vad_error: Option<String>,
    speech: bool,
    stats: PlacementStats,
    speaker: Option<SpeakerStream<'a>>,
    voices: Vec<VoiceSegment>,
    speaker_error: Option<String>,
}

impl<'a> AudioAccumulator<'a> {
    /// An empty accumulator that keeps audio up to media time `limit_s` and runs `vad`
    /// when given.
    pub fn new(vad: Option<&'a SileroVad>, limit_s: f64) -> Self {
        Self {
            origin_s: None,
            limit_s,
            cursor: 0,
            windows: Vec::new(),
            vad: vad.map(|v| v.stream()),
            vad_buf: Vec::with_capacity(VAD_BLOCK + 4096),
            vad_delta: 0,
            vad_error: None,
            speech: vad.is_some(),
            stats: PlacementStats::default(),
            speaker: None,
            voices: Vec::new(),
            speaker_error: None,
        }
    }

    /// Also embed the voice of each speech segment (only when the VAD runs).
    pub fn with_speaker(mut self, enc: Option<&'a SpeakerEncoder>) -> Self {
        if self.vad.is_some() {
            self.speaker = enc.map(|e| SpeakerStream::new(e, SegmentParams::default()));
        }
        self
    }

    /// Place one decoded frame of 16 kHz mono `samples` that starts at media time `t`.
    pub fn push(&mut self, t: f64, samples: &[f32]) {
        if samples.is_empty() || !t.is_finite() {
            return;
        }
        let len_s = samples.len() as f64 / RATE;
        if t >= self.limit_s {
            self.stats.after_video_s += len_s;
            return;
        }
        if t + len_s < -OUTSIDE_VIDEO_S {
            self.stats.before_video_s += len_s;
            return;
        }
        let origin = *self.origin_s.get_or_insert(t);
        let at = ((t - origin) * RATE).round();
        let cur = self.cursor as f64;
        let mut s = samples;
        if at < cur - TOLERANCE as f64 {
            let drop = ((cur - at) as usize).min(s.len());
            self.stats.overlap_s += drop as f64 / RATE;
            s = &s[drop..];
        } else if at > cur + TOLERANCE as f64 {
            self.gap_to(at as u64);
        }
        let limit = ((self.limit_s - origin) * RATE).ceil().max(0.0) as u64;
        let room = limit.saturating_sub(self.cursor) as usize;
        if s.len() > room {
            self.stats.after_video_s += (s.len() - room) as f64 / RATE;
            s = &s[..room];
        }
        self.place(s);
    }

    /// No audio from the cursor to grid sample `target`.
    fn gap_to(&mut self, target: u64) {
        self.stats.gaps += 1;
        self.stats.gap_s += (target - self.cursor) as f64 / RATE;
        if self.stats.gap_spans.len() < MAX_GAP_SPANS {
            let origin = self.origin_s.unwrap_or(0.0);
            let t = |s: u64| origin + s as f64 / RATE;
            self.stats.gap_spans.push((t(self.cursor), t(target)));
        }
        // silence to the end of a partly filled window
        if self.cursor % W != 0 {
            let end = (self.cursor / W + 1) * W;
            let fill = target.min(end) - self.cursor;
            self.feed_silence(fill as usize);
            self.cursor += fill;
            if self.cursor == target {
                return;
            }
        }
        // skip the windows that get no sample: the VAD does not see them
        let aligned = target / W * W;
        if aligned > self.cursor {
            self.flush_vad();
            self.cut_speaker();
            self.vad_delta += aligned - self.cursor;
            self.cursor = aligned;
        }
        // silence at the start of the window where audio resumes
        self.feed_silence((target - self.cursor) as usize);
        self.cursor = target;
    }

    fn place(&mut self, s: &[f32]) {
        let mut rest = s;
        while !rest.is_empty() {
            let w = (self.cursor / W) as usize;
            let room = (W - self.cursor % W) as usize;
            let (a, b) = rest.split_at(room.min(rest.len()));
            if self.windows.len() <= w {
                self.windows.resize(w + 1, Win::EMPTY);
            }
            let win = &mut self.windows[w];
            for &x in a {
                win.sum_sq += x as f64 * x as f64;
            }
            win.n += a.len() as u32;
            self.stats.clipped += a.iter().filter(|x| x.abs() >= CLIP_LEVEL).count() as u64;
            self.cursor += a.len() as u64;
            rest = b;
        }
        self.stats.samples += s.len() as u64;
        if self.vad.is_some() {
            self.vad_buf.extend_from_slice(s);
            if self.vad_buf.len() >= VAD_BLOCK {
                self.flush_vad();
            }
        }
    }

    fn feed_silence(&mut self, n: usize) {
        if self.vad.is_some() && n > 0 {
            self.vad_buf.resize(self.vad_buf.len() + n, 0.0);
        }
    }

    /// Give the buffered samples to the VAD and store the probabilities of the windows
    /// they complete.
    fn flush_vad(&mut self) {
        let Some(vad) = self.vad.as_mut() else { return };
        if let Some(sp) = self.speaker.as_mut() {
            sp.push_samples(&self.vad_buf);
        }
        match vad.push(&self.vad_buf) {
            Ok(done) => {
                for w in done {
                    self.set_probability(w.start_sample, w.probability);
                    self.speaker_window(w.start_sample, w.probability);
                }
            }
            Err(e) => self.fail_vad(e),
        }
        self.vad_buf.clear();
    }

    fn speaker_window(&mut self, start: usize, p: f32) {
        if let Some(sp) = self.speaker.as_mut() {
            let r = sp.window(start, p);
            self.take_segment(r);
        }
    }

    /// A gap follows (or the end): the open speech segment ends here.
    fn cut_speaker(&mut self) {
        if let Some(sp) = self.speaker.as_mut() {
            let r = sp.cut();
            self.take_segment(r);
        }
    }

    fn take_segment(&mut self, r: anyhow::Result<Option<StreamSegment>>) {
        match r {
            Ok(Some(seg)) => {
                let v = self.to_media(seg);
                self.voices.push(v);
            }
            Ok(None) => {}
            Err(e) => {
                self.speaker = None;
                self.speaker_error.get_or_insert(format!("{e:#}"));
            }
        }
    }

    /// A segment in VAD-stream samples to media time (the stream's offset to the grid is
    /// constant within a segment: segments are cut at gaps).
    fn to_media(&self, seg: StreamSegment) -> VoiceSegment {
        let origin = self.origin_s.unwrap_or(0.0);
        let t = |s: usize| origin + (s as u64 + self.vad_delta) as f64 / RATE;
        let end_s = t(seg.end);
        let partials = seg
            .voice
            .partials
            .into_iter()
            .map(|(off, embedding)| VoicePartial {
                start_s: t(seg.start + off),
                end_s: t(seg.start + off + PARTIAL_FRAMES * HOP).min(end_s),
                embedding,
            })
            .collect();
        VoiceSegment { start_s: t(seg.start), end_s, embedding: seg.voice.embedding, partials }
    }

    fn set_probability(&mut self, vad_sample: usize, p: f32) {
        let g = ((vad_sample as u64 + self.vad_delta) / W) as usize;
        if let Some(win) = self.windows.get_mut(g) {
            win.p = p;
        }
    }

    fn fail_vad(&mut self, e: anyhow::Error) {
        self.vad = None;
        self.speaker = None;
        self.vad_buf = Vec::new();
        self.vad_error.get_or_insert(format!("{e:#}"));
    }

    /// End of the stream: the last partial window goes through the VAD zero-padded.
    pub fn finish(mut self, format: AudioFormat) -> AudioTrack {
        self.flush_vad();
        if let Some(vad) = self.vad.take() {
            match vad.finish() {
                Ok(Some(w)) => {
                    self.set_probability(w.start_sample, w.probability);
                    self.speaker_window(w.start_sample, w.probability);
                }
                Ok(None) => {}
                Err(e) => self.fail_vad(e),
            }
        }
        self.cut_speaker();
        AudioTrack {
            origin_s: self.origin_s.unwrap_or(0.0),
            windows: self.windows,
            format,
            stats: self.stats,
            speech: self.speech && self.vad_error.is_none(),
            vad_error: self.vad_error,
            voices_checked: self.speaker.is_some(),
            voices: self.voices,
            speaker_error: self.speaker_error,
        }
    }
}

/// Decode the recording's audio and analyse it as a stream: levels, and speech when `vad`
/// is given, and the voice of each speech segment when `speaker` is given too.
/// `Ok(None)` when the recording has no audio stream.
pub fn analyze_audio(info: &MediaInfo, vad: Option<&SileroVad>, speaker: Option<&SpeakerEncoder>) -> Result<Option<AudioTrack>> {
    let mut acc = AudioAccumulator::new(vad, info.duration_s + OUTSIDE_VIDEO_S).with_speaker(speaker);
    let format = stream_audio(info, |t, s| acc.push(t, s))?;
    Ok(format.map(|f| acc.finish(f)))
}

/// The analysed audio of one recording: per 32 ms window, level and speech probability.
#[derive(Debug, Clone)]
pub struct AudioTrack {
    /// Media time where window 0 starts.
    pub origin_s: f64,
    windows: Vec<Win>,
    /// The stream's own rate and channels.
    pub format: AudioFormat,
    pub stats: PlacementStats,
    speech: bool,
    vad_error: Option<String>,
    voices: Vec<VoiceSegment>,
    voices_checked: bool,
    speaker_error: Option<String>,
}

impl AudioTrack {
    /// The speech segments and their voices, in time order.
    pub fn voice_segments(&self) -> &[VoiceSegment] {
        &self.voices
    }

    /// True when every speech segment's voice was embedded.
    pub fn voices_checked(&self) -> bool {
        self.voices_checked && self.speech
    }

    /// Why the speaker embedding stopped, if it failed.
    pub fn speaker_error(&self) -> Option<&str> {
        self.speaker_error.as_deref()
    }

    /// Windows overlapping media time `[t0, t1)`.
    fn span(&self, t0: f64, t1: f64) -> &[Win] {
        let a = ((t0 - self.origin_s) / WINDOW_S).floor().max(0.0) as usize;
        let b = (((t1 - self.origin_s) / WINDOW_S).ceil().max(0.0) as usize).min(self.windows.len());
        if a < b {
            &self.windows[a..b]
        } else {
            &[]
        }
    }

    /// RMS level in dBFS of the audio in the windows overlapping `[t0, t1)`; `None` when
    /// they hold no audio.
    pub fn rms_db(&self, t0: f64, t1: f64) -> Option<f32> {
        let (sq, n) = self.span(t0, t1).iter().fold((0.0, 0u64), |(sq, n), w| (sq + w.sum_sq, n + w.n as u64));
        (n > 0).then(|| (10.0 * (sq / n as f64).max(1e-12).log10()) as f32)
    }

    /// Level in dBFS of the loudest 32 ms window overlapping `[t0, t1)`; `None` when none
    /// of them holds audio.
    pub fn peak_db(&self, t0: f64, t1: f64) -> Option<f32> {
        self.span(t0, t1).iter().filter(|w| w.n > 0).map(Win::db).reduce(f32::max)
    }

    /// Highest speech probability of the windows overlapping `[t0, t1)`; `None` when none
    /// of them was seen by the VAD.
    pub fn speech(&self, t0: f64, t1: f64) -> Option<f32> {
        self.span(t0, t1).iter().filter(|w| w.n > 0 && !w.p.is_nan()).map(|w| w.p).reduce(f32::max)
    }

    /// Fill [`Observation::audio_db`]: the level of the `window_s` around each frame time,
    /// and [`Observation::audio_peak_db`]: the level of its loudest 32 ms window.
    pub fn attach_levels(&self, obs: &mut [Observation], window_s: f64) {
        for o in obs {
            let (t0, t1) = (o.t - window_s / 2.0, o.t + window_s / 2.0);
            o.audio_db = self.rms_db(t0, t1);
            o.audio_peak_db = self.peak_db(t0, t1);
        }
    }

    /// Fill [`Observation::speech`]: the highest speech probability of the VAD windows that
    /// overlap the `window_s` around each frame time. Nothing when the VAD did not run.
    pub fn attach_speech(&self, obs: &mut [Observation], window_s: f64) {
        if !self.speech {
            return;
        }
        for o in obs {
            o.speech = self.speech(o.t - window_s / 2.0, o.t + window_s / 2.0);
        }
    }

    /// True when the VAD ran over the whole track.
    pub fn speech_checked(&self) -> bool {
        self.speech
    }

    /// Why the VAD stopped, if it failed.
    pub fn speech_error(&self) -> Option<&str> {
        self.vad_error.as_deref()
    }

    /// Per-window speech probabilities from window 0 (`None`: not seen by the VAD).
    pub fn probabilities(&self) -> Vec<Option<f32>> {
        self.windows.iter().map(|w| (w.n > 0 && !w.p.is_nan()).then_some(w.p)).collect()
    }

    /// Seconds of audio placed.
    pub fn duration_s(&self) -> f64 {
        self.stats.samples as f64 / RATE
    }

    /// Media time from the start of the first window with audio to the end of the last.
    pub fn covered_s(&self) -> Option<(f64, f64)> {
        let first = self.windows.iter().position(|w| w.n > 0)?;
        let last = self.windows.iter().rposition(|w| w.n > 0)?;
        let t = |k: usize| self.origin_s + k as f64 * WINDOW_S;
        Some((t(first), t(last) + self.windows[last].n as f64 / RATE))
    }

    /// Level of the loudest window, dBFS.
    pub fn peak_window_db(&self) -> Option<f32> {
        self.windows.iter().filter(|w| w.n > 0).map(Win::db).reduce(f32::max)
    }

    /// Plain-language notes on anything odd about the audio of a recording whose video
    /// lasts `video_s`: for the summary's warnings and the report's first page.
    pub fn notes(&self, video_s: f64) -> Vec<String> {
        let mut out = Vec::new();
        let f = self.format;
        if f.rate > 0 && f.rate < SAMPLE_RATE as u32 {
            out.push(format!(
                "the audio is sampled at {} kHz: it holds nothing above {} kHz, so speech detection (made for 16 kHz) is less reliable",
                f.rate as f64 / 1000.0,
                f.rate as f64 / 2000.0
            ));
        }
        if f.channels > 2 {
            out.push(format!("the audio has {} channels: they were mixed down to mono", f.channels));
        }
        let Some((a, b)) = self.covered_s() else {
            out.push("the audio stream holds no audio that could be decoded: loud_audio and voices saw nothing".into());
            return out;
        };
        let (a, b) = (a.clamp(0.0, video_s), b.clamp(0.0, video_s));
        if a > 0.5 || b < video_s - 0.5 {
            out.push(format!(
                "audio covers {a:.1}–{b:.1} s of {video_s:.1} s of video: frames outside that have no audio level or speech"
            ));
        }
        if self.stats.gap_s >= 0.1 {
            let g = &self.stats;
            let spans: Vec<String> = g.gap_spans.iter().take(3).map(|(a, b)| format!("{a:.1}–{b:.1} s")).collect();
            let more = if g.gaps > 3 { ", ..." } else { "" };
            out.push(if g.gaps == 1 {
                format!("the audio has a gap at {} (no audio between two frames' timestamps): treated as no audio, the audio after it is not shifted", spans[0])
            } else {
                format!(
                    "the audio has {} gaps ({:.1} s in all, at {}{more}) between its frames' timestamps: treated as no audio, the audio after them is not shifted",
                    g.gaps,
                    g.gap_s,
                    spans.join(", ")
                )
            });
        }
        if self.stats.overlap_s >= 0.1 {
            out.push(format!(
                "{:.1} s of audio whose timestamps overlap earlier audio were dropped",
                self.stats.overlap_s
            ));
        }
        if self.stats.before_video_s >= 1.0 {
            out.push(format!("{:.1} s of audio before the start of the video were ignored", self.stats.before_video_s));
        }
        if self.stats.after_video_s >= 1.0 {
            out.push(format!("{:.1} s of audio after the end of the video were ignored", self.stats.after_video_s));
        }
        if self.peak_window_db().is_some_and(|db| db < SILENT_DB) {
            out.push(format!(
                "the audio track is silent (never above {SILENT_DB} dBFS): no voice or loud sound could be heard; check the microphone"
            ));
        }
        let clipped = self.stats.clipped as f64 / self.stats.samples.max(1) as f64;
        if clipped > CLIPPED_FRACTION {
            out.push(format!(
                "the audio is clipped ({:.1}% of samples at full scale): it was recorded too loud, and speech detection may be less reliable",
                100.0 * clipped
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests;
