//! Audio: the best audio stream, decoded and resampled to mono f32 at 16 kHz, handed on
//! frame by frame with each frame's own timestamp (in media time, the video's origin).
//!
//! Nothing here holds the whole track: [`stream_audio`] calls a sink once per decoded
//! frame, and the analysis ([`crate::audio::analyze_audio`]) keeps only per-window
//! results. Placing the frames by their timestamps (gaps, overlaps) is the sink's job.
//! [`decode_audio`] collects the frames back to back for tests and benchmarks.

use ffmpeg_next as ff;
use ff::format::sample::Type as SampleType;
use ff::format::Sample;
use ff::media::Type;
use ff::ChannelLayout;

use super::probe::{open_input, MediaInfo};
use crate::error::{Error, ErrorKind, Result};

/// Sample rate of decoded audio.
pub const AUDIO_RATE: u32 = 16_000;

/// What the audio stream was before resampling (of its first decoded frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AudioFormat {
    pub rate: u32,
    pub channels: u16,
}

/// Decode the recording's best audio stream and give each decoded frame to `sink` as
/// `(start in media time, 16 kHz mono samples)`, in decoding order. `Ok(None)` when the
/// recording has no audio stream. Damaged packets and frames the resampler rejects are
/// skipped; audio is evidence, not a requirement.
pub fn stream_audio(info: &MediaInfo, mut sink: impl FnMut(f64, &[f32])) -> Result<Option<AudioFormat>> {
    let path = info.path.as_path();
    let mut ictx = open_input(path)?;
    let Some(stream) = ictx.streams().best(Type::Audio) else { return Ok(None) };
    let index = stream.index();
    let tb = stream.time_base();
    let tb_s = tb.numerator() as f64 / tb.denominator().max(1) as f64;
    let mut ctx = ff::codec::context::Context::from_parameters(stream.parameters())
        .map_err(|e| Error::new(path, ErrorKind::Decode(format!("audio: {e}"))))?;
    ctx.set_threading(ff::threading::Config { kind: ff::threading::Type::Frame, count: 1, ..Default::default() });
    let mut decoder = ctx.decoder();
    // so that samples the codec skips (Opus pre-skip, AAC priming) move the frame's timestamp
    decoder.set_packet_time_base(tb);
    let mut decoder = decoder
        .audio()
        .map_err(|e| Error::new(path, ErrorKind::Decode(format!("audio: {e}"))))?;
    // seconds of the video origin on the stream clock
    let video_origin_s = -info.ts_to_s(0);

    let mut fe = FrameResampler { format: None, resampler: None, next_s: None, tb_s, video_origin_s };
    let mut frame = ff::frame::Audio::empty();
    loop {
        // A fresh packet per read: see `probe::fresh_packet`.
        let mut packet = super::probe::fresh_packet();
        match packet.read(&mut ictx) {
            Ok(()) => {
                if packet.stream() != index || decoder.send_packet(&packet).is_err() {
                    continue;
                }
            }
            Err(ff::Error::Eof) => break,
            Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => continue,
            Err(_) => break, // truncated: keep what was decoded
        }
        while decoder.receive_frame(&mut frame).is_ok() {
            fe.take(&mut frame, &mut sink);
        }
    }
    let _ = decoder.send_eof();
    while decoder.receive_frame(&mut frame).is_ok() {
        fe.take(&mut frame, &mut sink);
    }
    Ok(Some(fe.format.unwrap_or_default()))
}

/// Per-frame conversion to 16 kHz mono and the frame's start time.
struct FrameResampler {
    format: Option<AudioFormat>,
    resampler: Option<(ff::software::resampling::Context, Sample, u64, u32)>,
    /// Where the previous frame ended, for frames without a timestamp.
    next_s: Option<f64>,
    tb_s: f64,
    video_origin_s: f64,
}

impl FrameResampler {
    fn take(&mut self, frame: &mut ff::frame::Audio, sink: &mut impl FnMut(f64, &[f32])) {
        // A frame the resampler rejects is dropped, not fatal.
        let _ = self.try_take(frame, sink);
    }

    fn try_take(&mut self, frame: &mut ff::frame::Audio, sink: &mut impl FnMut(f64, &[f32])) -> std::result::Result<(), ff::Error> {
        let rate = frame.rate();
        if rate == 0 || frame.samples() == 0 {
            return Ok(());
        }
        let start = match frame.timestamp().or(frame.pts()) {
            Some(ts) => ts as f64 * self.tb_s - self.video_origin_s,
            None => self.next_s.unwrap_or(0.0),
        };
        self.next_s = Some(start + frame.samples() as f64 / rate as f64);
        if frame.channel_layout().is_empty() {
            frame.set_channel_layout(ChannelLayout::default(frame.channels() as i32));
        }
        self.format.get_or_insert(AudioFormat { rate, channels: frame.channels() });
        let (fmt, layout) = (frame.format(), frame.channel_layout());
        let fresh = !matches!(&self.resampler, Some((_, f, l, r)) if *f == fmt && *l == layout.bits() && *r == rate);
        if fresh {
            let ctx = ff::software::resampling::Context::get(
                fmt,
                layout,
                rate,
                Sample::F32(SampleType::Packed),
                ChannelLayout::MONO,
                AUDIO_RATE,
            )?;
            self.resampler = Some((ctx, fmt, layout.bits(), rate));
        }
        let (ctx, ..) = self.resampler.as_mut().expect("resampler was just built");
        let capacity = frame.samples() * AUDIO_RATE as usize / rate as usize + 64;
        let mut mono = ff::frame::Audio::new(Sample::F32(SampleType::Packed), capacity, ChannelLayout::MONO);
        ctx.run(frame, &mut mono)?;
        sink(start, &mono.plane::<f32>(0)[..mono.samples()]);
        Ok(())
    }
}

/// Mono audio at [`AUDIO_RATE`], starting at media time `start_s`: the decoded frames
/// back to back (gaps closed, not placed by timestamp). For tests and benchmarks; the
/// analysis streams instead.
#[derive(Debug, Clone, Default)]
pub struct Audio {
    pub start_s: f64,
    pub samples: Vec<f32>,
}

impl Audio {
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / AUDIO_RATE as f64
    }
}

/// The whole audio track in memory (see [`Audio`]). `Ok(None)` without an audio stream.
pub fn decode_audio(info: &MediaInfo) -> Result<Option<Audio>> {
    let mut out = Audio::default();
    let mut start = None;
    let found = stream_audio(info, |t, s| {
        start.get_or_insert(t);
        out.samples.extend_from_slice(s);
    })?;
    out.start_s = start.unwrap_or(0.0);
    Ok(found.map(|_| out))
}
