//! Probe a recording: check the file, open it with FFmpeg, and read every
//! packet header once (no decoding) to learn the real extent of the video.
//!
//! Browser MediaRecorder files often carry no duration at all, and truncated
//! uploads carry a duration they no longer have, so the header is not trusted:
//! the packet scan is what the rest of the pipeline plans with.

use std::path::Path;

use ffmpeg_next as ff;
use ff::media::Type;

use crate::error::{Error, ErrorKind, Result};
pub use crate::records::MediaInfo;

/// Check the file system entry before FFmpeg sees it, so that the common
/// mistakes get a precise message. Nothing is opened before the entry is
/// known to be a regular file: opening a FIFO would wait for a writer.
pub(crate) fn check_file(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| link_error(path, e))?;
    if meta.is_dir() {
        return Err(Error::new(path, ErrorKind::IsDirectory));
    }
    if let Some(what) = special_kind(&meta.file_type()) {
        return Err(Error::new(path, ErrorKind::Special(format!("is {what}, not a recording file"))));
    }
    if meta.len() == 0 {
        return Err(Error::new(path, ErrorKind::Empty));
    }
    std::fs::File::open(path).map_err(|e| Error::new(path, ErrorKind::Unreadable(e)))?;
    Ok(())
}

/// What a file that is neither a regular file nor a directory is.
#[cfg(unix)]
pub fn special_kind(t: &std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if t.is_char_device() {
        Some("a character device")
    } else if t.is_block_device() {
        Some("a block device")
    } else if t.is_socket() {
        Some("a socket")
    } else {
        None
    }
}

/// What a file that is neither a regular file nor a directory is.
#[cfg(not(unix))]
pub fn special_kind(t: &std::fs::FileType) -> Option<&'static str> {
    (!t.is_file() && !t.is_dir()).then_some("not a regular file")
}

/// The error for a path whose metadata cannot be read: a symbolic link to
/// nothing, or one that loops, is said to be one.
fn link_error(path: &Path, e: std::io::Error) -> Error {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if is_link {
        let target = std::fs::read_link(path).map(|t| t.display().to_string()).unwrap_or_default();
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return Error::new(path, ErrorKind::Special(format!("is a symbolic link that loops (to {target}): it leads to no file")));
        }
        if e.kind() == std::io::ErrorKind::NotFound {
            return Error::new(path, ErrorKind::Special(format!("is a symbolic link to {target}, which does not exist")));
        }
    }
    match e.kind() {
        std::io::ErrorKind::NotFound => Error::new(path, ErrorKind::NotFound),
        _ => Error::new(path, ErrorKind::Unreadable(e)),
    }
}

/// Which file a path is and its state: size, modification time and identity
/// (device, inode). Taken before a recording is opened and again after it
/// was analysed; any difference means it was truncated, rewritten or
/// replaced meanwhile, and the analysis (and the hash beside it) would
/// describe bytes that are no longer, or never were, the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStamp {
    pub len: u64,
    pub mtime_ns: i128,
    pub dev: u64,
    pub ino: u64,
}

impl FileStamp {
    pub fn of(path: &Path) -> Result<FileStamp> {
        let m = std::fs::metadata(path).map_err(|e| link_error(path, e))?;
        #[cfg(unix)]
        let (dev, ino) = {
            use std::os::unix::fs::MetadataExt;
            (m.dev(), m.ino())
        };
        #[cfg(not(unix))]
        let (dev, ino) = (0, 0);
        let mtime_ns = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        Ok(FileStamp { len: m.len(), mtime_ns, dev, ino })
    }

    /// How `now` differs from `self`, in words.
    pub fn change(&self, now: &FileStamp) -> String {
        if (now.dev, now.ino) != (self.dev, self.ino) {
            "it was replaced by another file".into()
        } else if now.len != self.len {
            format!("its size went from {} to {} bytes", self.len, now.len)
        } else {
            "it was rewritten: its modification time changed".into()
        }
    }
}

pub(crate) fn open_input(path: &Path) -> Result<ff::format::context::Input> {
    super::init();
    check_file(path)?;
    ff::format::input(&path).map_err(|e| Error::new(path, ErrorKind::NotMedia(e.to_string())))
}

/// Clockwise rotation in degrees (0, 90, 180, 270) that makes the picture
/// upright, from the stream's display matrix.
fn rotation_of(stream: &ff::format::stream::Stream) -> u32 {
    for side in stream.side_data() {
        if side.kind() == ff::codec::packet::side_data::Type::DisplayMatrix {
            let data = side.data();
            if data.len() >= 36 {
                // SAFETY: the display matrix is nine 32-bit integers; FFmpeg
                // reads them without requiring alignment beyond the buffer's.
                let ccw = unsafe { ff::ffi::av_display_rotation_get(data.as_ptr() as *const i32) };
                if ccw.is_finite() {
                    let cw = (-ccw).rem_euclid(360.0);
                    return ((cw / 90.0).round() as u32 % 4) * 90;
                }
            }
        }
    }
    0
}

/// An empty packet for one `Packet::read`. ffmpeg-next hands the packet to
/// `av_read_frame` without unreferencing what it holds, and FFmpeg overwrites
/// it, so reusing one packet across reads leaked every packet's buffer (for
/// matroska, the whole cluster it points into): about 0.8 MB per second of a
/// 480p webm, 1.9 GB for an hour. A packet read into a fresh one is freed
/// when it is dropped, at the end of each loop turn.
pub(crate) fn fresh_packet() -> ff::Packet {
    ff::Packet::empty()
}

/// Open the file, find its streams and scan the video packets.
pub fn probe(path: &Path) -> Result<MediaInfo> {
    let mut ictx = open_input(path)?;
    let container = ictx.format().name().to_string();
    let has_audio = ictx.streams().best(Type::Audio).is_some();
    let audio_codec = ictx.streams().best(Type::Audio).map(|s| s.parameters().id().name().to_string());
    let (video_index, rotation, time_base, codec_name, coded_w, coded_h) = {
        let stream = ictx
            .streams()
            .best(Type::Video)
            .ok_or_else(|| Error::new(path, ErrorKind::NoVideo { has_audio }))?;
        let id = stream.parameters().id();
        let ctx = ff::codec::context::Context::from_parameters(stream.parameters())
            .map_err(|e| Error::new(path, ErrorKind::UnsupportedCodec(format!("{id:?}: {e}"))))?;
        let dec = ctx
            .decoder()
            .video()
            .map_err(|e| Error::new(path, ErrorKind::UnsupportedCodec(format!("{id:?}: {e}"))))?;
        let tb = stream.time_base();
        if tb.numerator() <= 0 || tb.denominator() <= 0 {
            return Err(Error::new(path, ErrorKind::NotMedia(format!("the video stream's time base {tb} is invalid"))));
        }
        (
            stream.index(),
            rotation_of(&stream),
            (tb.numerator(), tb.denominator()),
            id.name().to_string(),
            dec.width(),
            dec.height(),
        )
    };
    let header_duration_s = (ictx.duration() > 0).then(|| ictx.duration() as f64 / 1e6);
    let videos: Vec<(usize, String)> = ictx
        .streams()
        .filter(|s| s.parameters().medium() == Type::Video)
        .filter(|s| !s.disposition().contains(ff::format::stream::Disposition::ATTACHED_PIC))
        .map(|s| {
            let p = s.parameters();
            // SAFETY: the parameters pointer is valid while the stream is
            let (w, h) = unsafe { ((*p.as_ptr()).width, (*p.as_ptr()).height) };
            (s.index(), format!("#{} ({} {w}x{h})", s.index(), p.id().name()))
        })
        .collect();
    let video_stream_note = (videos.len() > 1).then(|| {
        let used = videos.iter().find(|(i, _)| *i == video_index).map_or_else(|| format!("#{video_index}"), |v| v.1.clone());
        let others: Vec<&str> = videos.iter().filter(|(i, _)| *i != video_index).map(|v| v.1.as_str()).collect();
        format!(
            "the file has {} video streams: stream {used} was analysed, not {} (FFmpeg's choice of the best one)",
            videos.len(),
            others.join(", ")
        )
    });

    // Scan packet headers: timestamps and durations of every video packet.
    let mut packets: Vec<(i64, i64)> = Vec::new();
    let mut keyframes: Vec<i64> = Vec::new();
    let mut read_error = false;
    loop {
        let mut packet = fresh_packet();
        match packet.read(&mut ictx) {
            Ok(()) => {
                if packet.stream() != video_index {
                    continue;
                }
                if let Some(ts) = packet.pts().or(packet.dts()) {
                    packets.push((ts, packet.duration().max(0)));
                    if packet.is_key() {
                        keyframes.push(ts);
                    }
                }
            }
            Err(ff::Error::Eof) => break,
            Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => continue,
            Err(_) => {
                read_error = true;
                break;
            }
        }
    }
    if packets.is_empty() {
        return Err(Error::new(path, ErrorKind::NoFrames("the video stream holds no packets".into())));
    }
    let tb_s = time_base.0 as f64 / time_base.1 as f64;
    let extent = packet_extent(packets, tb_s);
    let duration_s = extent.duration_s;
    let avg_fps = if duration_s > 0.0 { extent.count as f64 / duration_s } else { 0.0 };
    let truncated = read_error || header_duration_s.is_some_and(|h| h > duration_s + 1.0);
    let (width, height) = if rotation % 180 == 90 { (coded_h, coded_w) } else { (coded_w, coded_h) };

    let mut info = MediaInfo {
        path: path.to_path_buf(),
        container,
        video_codec: codec_name,
        audio_codec,
        coded_width: coded_w,
        coded_height: coded_h,
        width,
        height,
        rotation,
        duration_s,
        header_duration_s,
        frame_count: extent.count,
        avg_fps,
        variable_frame_rate: extent.variable_frame_rate,
        truncated,
        stray_packets: extent.stray,
        video_streams: videos.len().max(1),
        video_stream_note,
        video_index,
        origin_ts: extent.origin_ts,
        time_base,
        keyframes_s: Vec::new(),
    };
    keyframes.sort_unstable();
    info.keyframes_s = keyframes.into_iter().map(|ts| info.ts_to_s(ts)).collect();
    Ok(info)
}

/// The extent of the video as its packets tell it.
#[derive(Debug, Clone, PartialEq)]
struct Extent {
    origin_ts: i64,
    duration_s: f64,
    count: u64,
    stray: u64,
    variable_frame_rate: bool,
}

/// From `(timestamp, duration)` of every video packet: the first timestamp,
/// the duration up to the end of the last frame, the frame count, and whether
/// the frame rate varies. Packets separated from the bulk of the stream by a
/// jump of more than a minute (and more than 100 typical intervals) are
/// strays: the largest group of packets without such a jump is the video.
/// All arithmetic is widened or saturating: timestamps are untrusted.
fn packet_extent(mut packets: Vec<(i64, i64)>, tb_s: f64) -> Extent {
    packets.sort_unstable();
    let deltas: Vec<i64> = packets.windows(2).map(|w| w[1].0.saturating_sub(w[0].0)).filter(|d| *d > 0).collect();
    let typical = median_i64(&deltas).unwrap_or(0);
    let jump = ((60.0 / tb_s).ceil().min(i64::MAX as f64) as i64).max(typical.saturating_mul(100));
    // the largest run of packets without a jump
    let (mut best, mut start) = ((0usize, 1usize), 0usize);
    for i in 1..=packets.len() {
        if i == packets.len() || packets[i].0.saturating_sub(packets[i - 1].0) > jump {
            if i - start > best.1 - best.0 {
                best = (start, i);
            }
            start = i;
        }
    }
    let kept = &packets[best.0..best.1];
    let origin_ts = kept[0].0;
    let last = kept[kept.len() - 1].0;
    let last_end = kept.iter().map(|(ts, d)| ts.saturating_add(*d)).max().unwrap_or(last);
    // the last frame lasts as long as its packet says, or a typical interval
    let end_ts = if last_end > last { last_end } else { last.saturating_add(typical) };
    let duration_s = ((end_ts as i128 - origin_ts as i128) as f64 * tb_s).max(tb_s);
    let variable_frame_rate = typical > 0
        && kept.windows(2).map(|w| w[1].0 as i128 - w[0].0 as i128).filter(|d| *d > 0).any(|d| (d - typical as i128).abs() * 2 > typical as i128);
    Extent {
        origin_ts,
        duration_s,
        count: kept.len() as u64,
        stray: (packets.len() - kept.len()) as u64,
        variable_frame_rate,
    }
}

fn median_i64(v: &[i64]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    Some(s[s.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_wild_timestamp_does_not_stretch_the_video() {
        // 30 s at 30 fps in a 1/1000 time base, and one packet 5 hours ahead
        let mut p: Vec<(i64, i64)> = (0..900).map(|i| (i * 33, 33)).collect();
        p.insert(400, (5 * 3600 * 1000, 33));
        let e = packet_extent(p, 1e-3);
        assert_eq!((e.count, e.stray, e.origin_ts), (900, 1, 0));
        assert!((e.duration_s - 29.7).abs() < 0.01, "{}", e.duration_s);
        assert!(!e.variable_frame_rate);
    }

    #[test]
    fn crafted_timestamps_do_not_overflow() {
        let p = vec![(i64::MIN, i64::MAX), (0, i64::MAX), (i64::MAX, i64::MAX), (i64::MAX - 1, 1)];
        let e = packet_extent(p, 1.0 / 90_000.0);
        assert!(e.duration_s.is_finite() && e.duration_s > 0.0);
        assert_eq!(e.count + e.stray, 4);
        let e = packet_extent(vec![(i64::MAX, 0)], 1e-3);
        assert_eq!(e.count, 1);
        assert!(e.duration_s > 0.0);
    }

    #[test]
    fn a_pause_of_a_few_seconds_is_not_a_jump() {
        // VFR: 10 s, a 20 s freeze, 10 s more: all one video of 40 s
        let mut p: Vec<(i64, i64)> = (0..100).map(|i| (i * 100, 100)).collect();
        p.extend((0..100).map(|i| (30_000 + i * 100, 100)));
        let e = packet_extent(p, 1e-3);
        assert_eq!((e.count, e.stray), (200, 0));
        assert!((e.duration_s - 40.0).abs() < 1e-9);
        assert!(e.variable_frame_rate);
    }
}
