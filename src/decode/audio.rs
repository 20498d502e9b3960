//! Audio: the best audio stream, decoded and resampled to mono f32 at 16 kHz.

use ffmpeg_next as ff;
use ff::format::sample::Type as SampleType;
use ff::format::Sample;
use ff::media::Type;
use ff::ChannelLayout;

use super::probe::{open_input, MediaInfo};
use crate::error::{Error, ErrorKind, Result};

/// Sample rate of decoded audio.
pub const AUDIO_RATE: u32 = 16_000;

/// Mono audio at [`AUDIO_RATE`], starting at media time `start_s`.
#[derive(Debug, Clone, Default)]
pub struct Audio {
    pub start_s: f64,
    pub samples: Vec<f32>,
}

impl Audio {
    /// Root-mean-square level in dBFS of the window `[t0, t1)`; `None` when
    /// the window holds no audio.
    pub fn rms_db(&self, t0: f64, t1: f64) -> Option<f32> {
        let rate = AUDIO_RATE as f64;
        let a = (((t0 - self.start_s) * rate).floor().max(0.0)) as usize;
        let b = (((t1 - self.start_s) * rate).ceil().max(0.0) as usize).min(self.samples.len());
        if b <= a {
            return None;
        }
        let s = &self.samples[a..b];
        let ms = s.iter().map(|x| (*x as f64) * (*x as f64)).sum::<f64>() / s.len() as f64;
        Some((10.0 * ms.max(1e-12).log10()) as f32)
    }

    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / AUDIO_RATE as f64
    }
}

/// Decode the recording's audio. `Ok(None)` when it has no audio stream.
/// Damaged audio packets are skipped; audio is evidence, not a requirement.
pub fn decode_audio(info: &MediaInfo) -> Result<Option<Audio>> {
    let path = info.path.as_path();
    let mut ictx = open_input(path)?;
    let Some(stream) = ictx.streams().best(Type::Audio) else { return Ok(None) };
    let index = stream.index();
    let tb = stream.time_base();
    let tb_s = tb.numerator() as f64 / tb.denominator() as f64;
    let mut ctx = ff::codec::context::Context::from_parameters(stream.parameters())
        .map_err(|e| Error::new(path, ErrorKind::Decode(format!("audio: {e}"))))?;
    ctx.set_threading(ff::threading::Config { kind: ff::threading::Type::Frame, count: 1, ..Default::default() });
    let mut decoder = ctx
        .decoder()
        .audio()
        .map_err(|e| Error::new(path, ErrorKind::Decode(format!("audio: {e}"))))?;
    let video_origin_s = info.ts_to_s(0) * -1.0; // seconds of the video origin on the absolute clock

    let mut out = Audio::default();
    let mut start: Option<f64> = None;
    let mut resampler: Option<(ff::software::resampling::Context, Sample, u64, u32)> = None;
    let mut packet = ff::Packet::empty();
    let mut frame = ff::frame::Audio::empty();

    let take = |frame: &mut ff::frame::Audio,
                    out: &mut Audio,
                    start: &mut Option<f64>,
                    resampler: &mut Option<(ff::software::resampling::Context, Sample, u64, u32)>|
     -> std::result::Result<(), ff::Error> {
        if start.is_none() {
            let ts = frame.timestamp().or(frame.pts()).unwrap_or(0);
            *start = Some(ts as f64 * tb_s - video_origin_s);
        }
        if frame.channel_layout().is_empty() {
            frame.set_channel_layout(ChannelLayout::default(frame.channels() as i32));
        }
        let (fmt, layout, rate) = (frame.format(), frame.channel_layout(), frame.rate());
        let fresh = !matches!(resampler, Some((_, f, l, r)) if *f == fmt && *l == layout.bits() && *r == rate);
        if fresh {
            let ctx = ff::software::resampling::Context::get(
                fmt,
                layout,
                rate,
                Sample::F32(SampleType::Packed),
                ChannelLayout::MONO,
                AUDIO_RATE,
            )?;
            *resampler = Some((ctx, fmt, layout.bits(), rate));
        }
        let (ctx, ..) = resampler.as_mut().expect("resampler was just built");
        let capacity = frame.samples() * AUDIO_RATE as usize / rate.max(1) as usize + 64;
        let mut mono = ff::frame::Audio::new(Sample::F32(SampleType::Packed), capacity, ChannelLayout::MONO);
        ctx.run(frame, &mut mono)?;
        out.samples.extend_from_slice(&mono.plane::<f32>(0)[..mono.samples()]);
        Ok(())
    };

    loop {
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
            // A frame the resampler rejects is dropped, not fatal.
            let _ = take(&mut frame, &mut out, &mut start, &mut resampler);
        }
    }
    let _ = decoder.send_eof();
    while decoder.receive_frame(&mut frame).is_ok() {
        let _ = take(&mut frame, &mut out, &mut start, &mut resampler);
    }
    out.start_s = start.unwrap_or(0.0);
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_of_full_scale_sine_is_minus_3_db() {
        let samples: Vec<f32> = (0..AUDIO_RATE)
            .map(|i| (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / AUDIO_RATE as f32).sin())
            .collect();
        let a = Audio { start_s: 0.0, samples };
        let db = a.rms_db(0.0, 1.0).unwrap();
        assert!((db + 3.01).abs() < 0.05, "{db}");
        assert!(a.rms_db(2.0, 3.0).is_none());
    }
}
