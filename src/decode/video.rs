//! Video decoding and sampling.
//!
//! The picture analysed at time `t` is the one on screen at `t`: the last
//! decoded frame whose timestamp is at or before `t` (the first frame, for
//! times before it). That rule depends only on the timestamps, so it gives the
//! same answer for variable-frame-rate files and for any way of cutting the
//! timeline into chunks. Only frames that are picked are converted to RGB.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use ffmpeg_next as ff;
use ff::format::Pixel;
use ff::software::scaling;
use image::RgbImage;

use super::probe::{open_input, MediaInfo};
use crate::error::{Error, ErrorKind, Result};

/// One analysed frame: an upright RGB picture and its times.
#[derive(Clone)]
pub struct Frame {
    /// Index of the analysis sample (k in t = k / fps).
    pub index: usize,
    /// Analysis time in seconds.
    pub t: f64,
    /// Timestamp of the decoded frame shown at `t`, in seconds.
    pub pts: f64,
    /// Upright picture, at most `max_side` pixels on its long side.
    pub image: Arc<RgbImage>,
    /// The upright picture at the size the video was decoded at, where that
    /// is larger than `image` and the decode was asked for it on this sample
    /// ([`DecodeOptions::source_every`]): for looking closer at a crop.
    pub source: Option<Arc<RgbImage>>,
}

/// Counters of one decode run.
#[derive(Debug, Default, Clone, Copy)]
pub struct SampleStats {
    pub decoded: u64,
    pub converted: u64,
    pub corrupt_packets: u64,
}

/// Converts decoded frames to upright RGB, rebuilding the scaler when the
/// stream changes size or format (MediaRecorder files may do so mid-stream).
struct Converter {
    scaler: Option<(scaling::Context, Pixel, u32, u32)>,
    rotation: u32,
    max_side: u32,
}

impl Converter {
    fn new(rotation: u32, max_side: u32) -> Self {
        Converter { scaler: None, rotation, max_side }
    }

    /// Whether a frame of this size is scaled down (its source picture is larger).
    fn scales_down(&self, frame: &ff::frame::Video) -> bool {
        frame.width().max(frame.height()) > self.max_side
    }

    fn convert(&mut self, frame: &ff::frame::Video) -> std::result::Result<RgbImage, ff::Error> {
        let (w, h, fmt) = (frame.width(), frame.height(), frame.format());
        let rebuild = !matches!(&self.scaler, Some((_, f, sw, sh)) if *f == fmt && *sw == w && *sh == h);
        if rebuild {
            let scale = (self.max_side as f64 / w.max(h) as f64).min(1.0);
            let dw = ((w as f64 * scale).round() as u32).max(1);
            let dh = ((h as f64 * scale).round() as u32).max(1);
            let ctx = scaling::Context::get(fmt, w, h, Pixel::RGB24, dw, dh, scaling::Flags::AREA)?;
            self.scaler = Some((ctx, fmt, w, h));
        }
        let (ctx, ..) = self.scaler.as_mut().expect("scaler was just built");
        let mut rgb = ff::frame::Video::empty();
        ctx.run(frame, &mut rgb)?;
        let (dw, dh) = (rgb.width(), rgb.height());
        let stride = rgb.stride(0);
        let data = rgb.data(0);
        let row = dw as usize * 3;
        let mut packed = Vec::with_capacity(row * dh as usize);
        for y in 0..dh as usize {
            packed.extend_from_slice(&data[y * stride..y * stride + row]);
        }
        let img = RgbImage::from_raw(dw, dh, packed).expect("buffer matches its size");
        Ok(match self.rotation {
            90 => image::imageops::rotate90(&img),
            180 => image::imageops::rotate180(&img),
            270 => image::imageops::rotate270(&img),
            _ => img,
        })
    }
}

fn open_decoder(path: &Path, ictx: &ff::format::context::Input, info: &MediaInfo) -> Result<ff::decoder::Video> {
    let stream = ictx
        .stream(info.video_index)
        .ok_or_else(|| Error::new(path, ErrorKind::Decode("video stream vanished".into())))?;
    let mut ctx = ff::codec::context::Context::from_parameters(stream.parameters())
        .map_err(|e| Error::new(path, ErrorKind::UnsupportedCodec(e.to_string())))?;
    // One decoding thread per chunk: the parallelism is across chunks.
    ctx.set_threading(ff::threading::Config { kind: ff::threading::Type::Frame, count: 1, ..Default::default() });
    ctx.decoder()
        .video()
        .map_err(|e| Error::new(path, ErrorKind::UnsupportedCodec(e.to_string())))
}

/// How the decoder may save work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Let libavcodec skip frames that no other frame references
    /// (`skip_frame = AVDISCARD_NONREF`: H.264's non-reference B-frames, VP8's
    /// non-reference frames) when they are not shown at any wanted time. The
    /// frames handed out are the same either way (tests/decode.rs checks it).
    pub skip_nonref: bool,
    /// Also hand out the picture at its decoded size ([`Frame::source`]) on
    /// every `source_every`-th sample (by sample index; 0: never), where it is
    /// larger than the analysed picture.
    pub source_every: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions { skip_nonref: true, source_every: 0 }
    }
}

/// Video packets read ahead of the decoder, so that a packet's frame is known
/// to be hidden by a later one (in presentation order) before it is sent. More
/// than H.264's deepest usual reordering (x264's B-pyramid puts the next frame
/// in presentation order 2-4 packets later).
const LOOKAHEAD: usize = 8;

/// Decode the frames shown at `times` (seconds, ascending) and hand each one
/// to `on_frame` in order. `first_index` is the sample index of `times[0]`.
///
/// The decoder starts at the keyframe before `times[0]`; if the demuxer's seek
/// lands too late, it retries further back, and finally from the start.
pub fn decode_samples(
    info: &MediaInfo,
    times: &[f64],
    first_index: usize,
    max_side: u32,
    mut on_frame: impl FnMut(Frame),
) -> Result<SampleStats> {
    decode_samples_while(info, times, first_index, max_side, |f| {
        on_frame(f);
        true
    })
}

/// [`decode_samples`], stopping early (with the counts so far) as soon as
/// `on_frame` returns `false`: the consumer has failed or been cancelled.
pub fn decode_samples_while(
    info: &MediaInfo,
    times: &[f64],
    first_index: usize,
    max_side: u32,
    on_frame: impl FnMut(Frame) -> bool,
) -> Result<SampleStats> {
    decode_samples_with(info, times, first_index, max_side, DecodeOptions::default(), on_frame)
}

/// [`decode_samples_while`] with explicit [`DecodeOptions`].
pub fn decode_samples_with(
    info: &MediaInfo,
    times: &[f64],
    first_index: usize,
    max_side: u32,
    opts: DecodeOptions,
    mut on_frame: impl FnMut(Frame) -> bool,
) -> Result<SampleStats> {
    let path = info.path.as_path();
    if times.is_empty() {
        return Ok(SampleStats::default());
    }
    let first = times[0];
    for back in [0.0, 2.0, 10.0, 60.0, f64::INFINITY] {
        let seek_to = first - back;
        match decode_from(info, times, first_index, max_side, seek_to, opts, &mut on_frame)? {
            Some(stats) => return Ok(stats),
            None => continue, // the seek landed after `first`: go further back
        }
    }
    Err(Error::new(path, ErrorKind::Decode("could not position the decoder".into())))
}

/// One attempt. Returns `None` when the first decoded frame is later than the
/// first wanted time although earlier frames exist (a seek that overshot).
fn decode_from(
    info: &MediaInfo,
    times: &[f64],
    first_index: usize,
    max_side: u32,
    seek_to: f64,
    opts: DecodeOptions,
    on_frame: &mut impl FnMut(Frame) -> bool,
) -> Result<Option<SampleStats>> {
    let path = info.path.as_path();
    let mut ictx = open_input(path)?;
    let seeked = seek_to > 0.0 && seek_to.is_finite();
    if seeked {
        let tb = info.time_base.0 as f64 / info.time_base.1 as f64;
        let origin_us = (info.origin_ts as f64 * tb * 1e6) as i64;
        let ts = origin_us.saturating_add((seek_to * 1e6) as i64);
        if ictx.seek(ts, ..ts).is_err() {
            return Ok(None);
        }
    }
    let mut decoder = open_decoder(path, &ictx, info)?;
    let mut conv = Converter::new(info.rotation, max_side);
    // the source-size pictures: no scaling, only conversion and rotation
    let mut full = Converter::new(info.rotation, u32::MAX);
    let mut last_source: Option<(f64, Arc<RgbImage>)> = None;
    let mut stats = SampleStats::default();
    let mut next = 0usize; // next wanted time
    let mut prev: Option<(f64, ff::frame::Video)> = None;
    let mut last_img: Option<(f64, Arc<RgbImage>)> = None;
    let mut started = false;
    let mut stopped = false;

    // Emit `frame` (shown from `ft`) for wanted time `times[next]`; `false`
    // when the consumer wants no more frames.
    let mut emit = |ft: f64,
                    frame: &ff::frame::Video,
                    next: usize,
                    stats: &mut SampleStats,
                    last_img: &mut Option<(f64, Arc<RgbImage>)>|
     -> Result<bool> {
        let img = match last_img {
            Some((t, img)) if *t == ft => img.clone(),
            _ => {
                let img = Arc::new(
                    conv.convert(frame)
                        .map_err(|e| Error::new(path, ErrorKind::Decode(format!("pixel conversion: {e}"))))?,
                );
                stats.converted += 1;
                *last_img = Some((ft, img.clone()));
                img
            }
        };
        let index = first_index + next;
        let wants_source = opts.source_every > 0 && index % opts.source_every == 0 && conv.scales_down(frame);
        let source = match &last_source {
            _ if !wants_source => None,
            Some((t, src)) if *t == ft => Some(src.clone()),
            _ => {
                let src = Arc::new(
                    full.convert(frame)
                        .map_err(|e| Error::new(path, ErrorKind::Decode(format!("pixel conversion: {e}"))))?,
                );
                last_source = Some((ft, src.clone()));
                Some(src)
            }
        };
        Ok(on_frame(Frame { index, t: times[next], pts: ft, image: img, source }))
    };

    let mut handle = |frame: ff::frame::Video,
                      next: &mut usize,
                      prev: &mut Option<(f64, ff::frame::Video)>,
                      stats: &mut SampleStats,
                      started: &mut bool|
     -> Result<Option<bool>> {
        stats.decoded += 1;
        let Some(ts) = frame.timestamp().or(frame.pts()) else { return Ok(Some(false)) };
        let ft = info.ts_to_s(ts);
        if !*started {
            *started = true;
            // A seek that landed after the first wanted time: retry further back.
            if seeked && ft > times[0] + 1e-6 {
                return Ok(None);
            }
        }
        if let Some((pt, _)) = prev {
            if ft <= *pt {
                return Ok(Some(false)); // out-of-order or duplicate timestamp
            }
        }
        while *next < times.len() && times[*next] < ft {
            let more = match prev.as_ref() {
                Some((pt, pf)) => emit(*pt, pf, *next, stats, &mut last_img)?,
                // Before the first frame of the file: show the first frame.
                None => emit(ft, &frame, *next, stats, &mut last_img)?,
            };
            *next += 1;
            if !more {
                stopped = true;
                return Ok(Some(true));
            }
        }
        *prev = Some((ft, frame));
        Ok(Some(*next >= times.len()))
    };

    let mut done = false;
    let mut eof_clean = true;
    let mut read_all = false;
    // Video packets read but not yet sent, and the timestamps of those sent
    // last (a frame decoded earlier may be shown later: B-frames).
    let mut ahead: VecDeque<ff::Packet> = VecDeque::new();
    let mut sent: VecDeque<i64> = VecDeque::new();
    let lookahead = if opts.skip_nonref { LOOKAHEAD } else { 1 };
    let mut skipping = false;
    while !done {
        while !read_all && ahead.len() < lookahead {
            // A fresh packet per read: see `probe::fresh_packet`.
            let mut packet = super::probe::fresh_packet();
            match packet.read(&mut ictx) {
                Ok(()) if packet.stream() == info.video_index => ahead.push_back(packet),
                Ok(()) => {}
                Err(ff::Error::Eof) => read_all = true,
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => {}
                Err(_) => {
                    eof_clean = false;
                    read_all = true;
                }
            }
        }
        let Some(packet) = ahead.pop_front() else { break };
        if opts.skip_nonref {
            let hidden = hidden_frame(info, times, &packet, ahead.iter().filter_map(|p| p.pts()).chain(sent.iter().copied()));
            if hidden != skipping {
                skipping = hidden;
                decoder.skip_frame(if hidden { ff::Discard::NonReference } else { ff::Discard::Default });
            }
            if let Some(pts) = packet.pts() {
                if sent.len() == LOOKAHEAD {
                    sent.pop_front();
                }
                sent.push_back(pts);
            }
        }
        if decoder.send_packet(&packet).is_err() {
            stats.corrupt_packets += 1;
            continue;
        }
        let mut frame = ff::frame::Video::empty();
        while decoder.receive_frame(&mut frame).is_ok() {
            let f = std::mem::replace(&mut frame, ff::frame::Video::empty());
            match handle(f, &mut next, &mut prev, &mut stats, &mut started)? {
                None => return Ok(None),
                Some(true) => {
                    done = true;
                    break;
                }
                Some(false) => {}
            }
        }
    }
    if !done {
        let _ = decoder.send_eof();
        let mut frame = ff::frame::Video::empty();
        while decoder.receive_frame(&mut frame).is_ok() {
            let f = std::mem::replace(&mut frame, ff::frame::Video::empty());
            match handle(f, &mut next, &mut prev, &mut stats, &mut started)? {
                None => return Ok(None),
                Some(true) => break,
                Some(false) => {}
            }
        }
    }
    // The remaining wanted times lie after the last frame: it stays on screen.
    if next < times.len() && !stopped {
        let Some((pt, pf)) = prev.as_ref() else {
            let why = if eof_clean { "the stream ended before any frame" } else { "the file is damaged" };
            return Err(Error::new(path, ErrorKind::NoFrames(why.into())));
        };
        while next < times.len() && emit(*pt, pf, next, &mut stats, &mut last_img)? {
            next += 1;
        }
    }
    Ok(Some(stats))
}

/// Whether the frame of `packet` is shown at none of `times`: some other frame
/// (`others`, timestamps of packets read ahead or sent just before) comes
/// after it and at or before the first wanted time at or after it, so that
/// frame, or a later one, is on screen then. Only then may the decoder skip it
/// (if nothing references it). A packet without a timestamp, or after the last
/// wanted time (its frame ends the pass), is never hidden.
fn hidden_frame(info: &MediaInfo, times: &[f64], packet: &ff::Packet, others: impl Iterator<Item = i64>) -> bool {
    let Some(pts) = packet.pts() else { return false };
    let at = info.ts_to_s(pts);
    let Some(&wanted) = times.get(times.partition_point(|&t| t < at)) else { return false };
    others.map(|ts| info.ts_to_s(ts)).any(|t| t > at && t <= wanted)
}

/// The upright picture on screen at `t` seconds (used by `proctor detect
/// VIDEO@SECONDS`).
pub fn frame_at(info: &MediaInfo, t: f64, max_side: u32) -> Result<RgbImage> {
    let t = t.clamp(0.0, (info.duration_s - 1e-6).max(0.0));
    let mut out = None;
    decode_samples(info, &[t], 0, max_side, |f| out = Some(f.image))?;
    let img = out.ok_or_else(|| Error::new(&info.path, ErrorKind::NoFrames(format!("nothing at {t:.2} s"))))?;
    Ok(Arc::try_unwrap(img).unwrap_or_else(|a| (*a).clone()))
}

/// Without keyframe positions, times farther apart than this get a decoder
/// pass (a seek) each, and closer ones share one.
const SHARED_PASS_GAP_S: f64 = 60.0;

/// The upright pictures on screen at several times (any order), in as few
/// decoded frames as possible: one picture per time, in the order of `times`
/// (`None` where that time could not be decoded), times clamped into the video
/// as in [`frame_at`].
///
/// A seek lands on the last keyframe at or before its time and decodes on
/// from there. So the next time shares the current pass unless a keyframe
/// lies after the current time and at or before the next one, when a seek
/// skips frames a pass would decode. (A browser recording with a keyframe a
/// minute, or rarer, and no cues would otherwise decode up to a minute of
/// video for each picture.) Passes are independent, so they run on up to one
/// thread per core. `proctor report` takes its evidence pictures from here;
/// an analysis's report only the pictures its evidence store lacks
/// ([`crate::evidence::pictures`]).
pub fn frames_at(info: &MediaInfo, times: &[f64], max_side: u32) -> Vec<Option<Arc<RgbImage>>> {
    let last = (info.duration_s - 1e-6).max(0.0);
    let clamp = |t: f64| t.clamp(0.0, last);
    let mut ts: Vec<f64> = times.iter().map(|&t| clamp(t)).collect();
    ts.sort_by(f64::total_cmp);
    ts.dedup();
    let seek_pays = |a: f64, b: f64| {
        if info.keyframes_s.is_empty() {
            b - a > SHARED_PASS_GAP_S
        } else {
            let k = info.keyframes_s.partition_point(|&k| k <= a);
            info.keyframes_s.get(k).is_some_and(|&k| k <= b)
        }
    };
    let mut passes: Vec<&[f64]> = Vec::new();
    let mut start = 0;
    for end in 1..=ts.len() {
        if end == ts.len() || seek_pays(ts[end - 1], ts[end]) {
            passes.push(&ts[start..end]);
            start = end;
        }
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(passes.len()).max(1);
    let found: Vec<(f64, Arc<RgbImage>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|k| {
                let mine: Vec<&[f64]> = passes.iter().skip(k).step_by(threads).copied().collect();
                s.spawn(move || {
                    let mut out = Vec::new();
                    for pass in mine {
                        // a pass that fails to decode gives no pictures; the others still do
                        let _ = decode_samples(info, pass, 0, max_side, |f| out.push((f.t, f.image)));
                    }
                    out
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_default()).collect()
    });
    times
        .iter()
        .map(|&t| found.iter().find(|(ft, _)| *ft == clamp(t)).map(|(_, img)| img.clone()))
        .collect()
}
