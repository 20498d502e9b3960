//! Evidence pictures kept during the main pass, so that the report does not
//! decode the recording a second time.
//!
//! The workers hand every analysed frame (the picture the detectors saw, at
//! `analysis.fps`) to an [`EvidenceStore`] once they are done with it: it is
//! shrunk to the report's thumbnail width, JPEG-encoded and appended to a
//! temporary file; only its time, offset and length stay in memory (24 bytes
//! a frame, about 350 KB for an hour at 4 frames a second), so memory stays
//! flat however long the recording is. The file has no name (it is unlinked
//! as it is made): it goes when the store is dropped or the process ends,
//! however it ends, and leaves nothing to clean.
//!
//! The report asks for the frames at its events' evidence times, which are
//! analysed-frame times ([`crate::events`] takes them from the observations),
//! so each is found here by its exact time. [`pictures`] serves them, and
//! decodes again only what the store does not hold: everything when there is
//! no store (`proctor report`, rendering from saved files).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use image::RgbImage;

use crate::decode::{Frame, MediaInfo};
use crate::kinds::EventKind;
use crate::records::{Event, EvidencePicture, Observation, Subject};

/// Keeping pictures costs per analysed frame (about 0.5 s of CPU a minute of
/// media, the shrink and the JPEG encoding, as measured with the `image`
/// crate's encoder), while decoding the report's few frames again costs about
/// a pass from a keyframe per picture, whatever the length. Measured
/// break-even (README, Evidence pictures): about 4 minutes of media with a
/// keyframe every 10 s, 20 minutes with one every 100 s. So the store is kept
/// up to this many keyframe intervals of media, the lower of the two ratios
/// (24 and 12). The pictures are now encoded by `jpeg-encoder`, about three
/// times cheaper: the break-even lies further out and has not been measured
/// again, so this line keeps fewer pictures than would pay.
const KEEP_UP_TO_KEYFRAME_GAPS: f64 = 12.0;
/// The keyframe interval assumed when the file has no seek index (browser
/// recordings: often a keyframe every 100 s or rarer).
const UNINDEXED_KEYFRAME_GAP_S: f64 = 100.0;

/// Whether keeping the evidence pictures of `info` costs less CPU than
/// decoding them again after the analysis (see [`KEEP_UP_TO_KEYFRAME_GAPS`]).
pub fn keeping_pays(info: &MediaInfo) -> bool {
    let gap = match info.keyframes_s.len() {
        0 => UNINDEXED_KEYFRAME_GAP_S,
        // one keyframe: every picture decoded again from the start
        n => info.duration_s / n as f64,
    };
    info.duration_s <= KEEP_UP_TO_KEYFRAME_GAPS * gap
}

/// Width of a kept picture (the report's thumbnail width); narrower frames
/// are kept as they are.
pub const THUMB_WIDTH: u32 = 320;
/// JPEG quality of the kept pictures.
const JPEG_QUALITY: u8 = 85;
/// Side of the frames decoded again when the store lacks a picture (as the
/// report always did before there was a store).
const DECODE_SIDE: u32 = 640;

/// Where one picture is in the file.
#[derive(Debug, Clone, Copy)]
struct Entry {
    t: f64,
    offset: u64,
    len: u32,
}

struct Inner {
    file: File,
    /// Length of the file (where the next picture goes).
    end: u64,
    index: Vec<Entry>,
    /// The first failure to keep a picture; nothing is kept after it.
    failed: Option<String>,
}

/// Thumbnails of the analysed frames, by media time, in an unnamed
/// temporary file.
pub struct EvidenceStore {
    /// The directory the file was made in (for messages: the file has no name).
    dir: PathBuf,
    inner: Mutex<Inner>,
}

impl EvidenceStore {
    /// A new, empty store in `dir` (a file without a name, readable by this
    /// user only).
    pub fn create_in(dir: &Path) -> std::io::Result<EvidenceStore> {
        let file = crate::output::fs_step(|| tempfile::tempfile_in(dir))?;
        // pictures of the candidate: this user's only (also through /proc)
        #[cfg(unix)]
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        let inner = Inner { file, end: 0, index: Vec::new(), failed: None };
        Ok(EvidenceStore { dir: dir.to_path_buf(), inner: Mutex::new(inner) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of times a picture is held for.
    pub fn len(&self) -> usize {
        self.lock().index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Why pictures stopped being kept (a full disk, say), if they did.
    pub fn error(&self) -> Option<String> {
        self.lock().failed.clone()
    }

    /// Keep the picture shown at `t`.
    pub fn keep(&self, t: f64, img: &RgbImage) -> Result<(), String> {
        if let Some(why) = self.error() {
            return Err(why);
        }
        let jpeg = encode(img)?;
        self.append(&[t], &jpeg)
    }

    /// Keep the pictures of consecutive frames (a worker's segment). Frames
    /// that show the same decoded picture (a frame rate under the analysis
    /// rate) share one copy. After a failure nothing more is kept, and the
    /// report decodes what is missing ([`EvidenceStore::error`] says why).
    pub fn keep_frames(&self, frames: &[Frame]) {
        let mut i = 0;
        while i < frames.len() {
            let same = frames[i..].iter().take_while(|f| Arc::ptr_eq(&f.image, &frames[i].image)).count();
            let times: Vec<f64> = frames[i..i + same].iter().map(|f| f.t).collect();
            let kept = match self.error() {
                Some(_) => return,
                None => encode(&frames[i].image).and_then(|jpeg| self.append(&times, &jpeg)),
            };
            if let Err(why) = kept {
                self.lock().failed.get_or_insert(why);
                return;
            }
            i += same;
        }
    }

    /// Append one JPEG, held for each of `times`.
    fn append(&self, times: &[f64], jpeg: &[u8]) -> Result<(), String> {
        let len = u32::try_from(jpeg.len()).map_err(|_| "a picture over 4 GB".to_string())?;
        let mut inner = self.lock();
        let offset = inner.end;
        let written = inner.file.seek(SeekFrom::Start(offset)).and_then(|_| inner.file.write_all(jpeg));
        if let Err(e) = written {
            let why = format!("the evidence pictures' temporary file in {}: {e}", self.dir.display());
            inner.failed.get_or_insert(why.clone());
            return Err(why);
        }
        inner.end += u64::from(len);
        inner.index.extend(times.iter().map(|&t| Entry { t, offset, len }));
        Ok(())
    }

    /// The picture kept for exactly `t`, if any.
    pub fn get(&self, t: f64) -> Option<RgbImage> {
        let mut inner = self.lock();
        let e = *inner.index.iter().find(|e| e.t == t)?;
        let mut bytes = vec![0u8; e.len as usize];
        inner.file.seek(SeekFrom::Start(e.offset)).ok()?;
        inner.file.read_exact(&mut bytes).ok()?;
        drop(inner);
        image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).ok().map(|i| i.to_rgb8())
    }
}

/// `img` shrunk to [`THUMB_WIDTH`] wide (when wider), as a JPEG.
fn encode(img: &RgbImage) -> Result<Vec<u8>, String> {
    let small;
    let img = if img.width() > THUMB_WIDTH {
        small = shrink(img);
        &small
    } else {
        img
    };
    let (Ok(w), Ok(h)) = (u16::try_from(img.width()), u16::try_from(img.height())) else {
        return Err(format!("a {}x{} picture is too large for JPEG", img.width(), img.height()));
    };
    let mut out = Vec::with_capacity(16 << 10);
    jpeg_encoder::Encoder::new(&mut out, JPEG_QUALITY)
        .encode(img.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| format!("JPEG encoding: {e}"))?;
    Ok(out)
}

/// `img` (wider than [`THUMB_WIDTH`]) shrunk to that width by area
/// averaging. A frame exactly twice as wide (the usual 640-pixel analysis
/// frame) takes the mean of each 2x2 block, in one pass over the rows (in a
/// profile of an analysis of the pipeline bench's 720p clip: 0.5% of the CPU
/// time, where the `image` crate's general thumbnail took 3.7%); other widths
/// go through that general thumbnail.
fn shrink(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    let th = (THUMB_WIDTH * h / w).max(1);
    if w != 2 * THUMB_WIDTH || h < 2 {
        return image::imageops::thumbnail(img, THUMB_WIDTH, th);
    }
    let row = w as usize * 3;
    let mut out = Vec::with_capacity(THUMB_WIDTH as usize * 3 * th as usize);
    for pair in img.as_raw().chunks_exact(2 * row).take(th as usize) {
        let (top, bottom) = pair.split_at(row);
        for (a, b) in top.chunks_exact(6).zip(bottom.chunks_exact(6)) {
            for c in 0..3 {
                let sum = u16::from(a[c]) + u16::from(a[c + 3]) + u16::from(b[c]) + u16::from(b[c + 3]);
                out.push(((sum + 2) / 4) as u8);
            }
        }
    }
    RgbImage::from_raw(THUMB_WIDTH, th, out).expect("the buffer holds the thumbnail")
}

/// The frames shown at `times` (seconds; each a time the report asks for),
/// for the report: from `store` where it holds them, the rest decoded again
/// from the recording when `info` is given (at most 640 pixels on the long
/// side). Times with no picture are left out.
pub fn pictures(store: Option<&EvidenceStore>, info: Option<&MediaInfo>, times: &[f64]) -> Vec<(f64, RgbImage)> {
    let mut out: Vec<(f64, RgbImage)> = Vec::with_capacity(times.len());
    let mut missing = Vec::new();
    for &t in times {
        if out.iter().any(|(have, _)| *have == t) || missing.contains(&t) {
            continue;
        }
        match store.and_then(|s| s.get(t)) {
            Some(img) => out.push((t, img)),
            None => missing.push(t),
        }
    }
    if let (Some(info), false) = (info, missing.is_empty()) {
        let decoded = crate::decode::frames_at(info, &missing, DECODE_SIDE);
        for (t, img) in missing.into_iter().zip(decoded) {
            if let Some(img) = img {
                out.push((t, Arc::unwrap_or_clone(img)));
            }
        }
    }
    out
}


/// Pictures kept for at most this many events' evidence frames (the most
/// severe first): as many as the report's table lists, so that every event
/// it lists has its frame.
pub const MAX_EVENT_PICTURES: usize = 200;

/// The evidence pictures of an analysis: the frame at each of the most
/// severe events' evidence times (from `store` where it holds them, else
/// decoded again from the recording) with the boxes of what was seen on it
/// drawn, [`THUMB_WIDTH`] wide, the candidate's face (cut from the
/// reference photo at `reference`, or from the frame the candidate was
/// enrolled from), and the other person's face, cut from the evidence frame
/// of each `identity` and `candidate_changed` event (its lone face), to be
/// shown beside the candidate's. Pictures that cannot be had are left out.
pub fn collect(store: Option<&EvidenceStore>, a: &crate::records::Analysis, reference: Option<&Path>) -> Vec<EvidencePicture> {
    let policy = &a.config.policy;
    let mut order: Vec<&Event> = a.events.iter().collect();
    order.sort_by(|x, y| crate::score::severity(y, policy).total_cmp(&crate::score::severity(x, policy)));
    let mut times: Vec<f64> = Vec::new();
    for e in order {
        if times.len() == MAX_EVENT_PICTURES {
            break;
        }
        if !times.contains(&e.evidence_t) {
            times.push(e.evidence_t);
        }
    }
    times.sort_by(f64::total_cmp);
    let enrolled = a.identity.enrolled.filter(|_| a.identity.reference.is_none());
    let mut wanted = times.clone();
    wanted.extend(enrolled.map(|e| e.t));
    let pictures = pictures(store, Some(&a.info), &wanted);
    let picture_at = |t: f64| pictures.iter().find(|(pt, _)| *pt == t).map(|(_, img)| img);
    let mut out = Vec::new();
    for t in times {
        let Some(img) = picture_at(t) else { continue };
        let kinds: Vec<EventKind> = {
            let mut k: Vec<EventKind> = a.events.iter().filter(|e| e.evidence_t == t).map(|e| e.kind).collect();
            k.sort();
            k.dedup();
            k
        };
        let thumb = boxed_thumbnail(img, a.observations.iter().min_by(|x, y| (x.t - t).abs().total_cmp(&(y.t - t).abs())), &a.config.rules);
        if let Some(p) = picture(Subject::Event, t, kinds, &thumb) {
            out.push(p);
        }
    }
    let face = match (reference, &a.identity.reference, enrolled) {
        (Some(path), Some(r), _) => image::open(path).ok().and_then(|img| face_crop(&img.to_rgb8(), r.bbox)).map(|c| (Subject::ReferenceFace, 0.0, c)),
        (_, None, Some(e)) => picture_at(e.t).and_then(|img| face_crop(img, e.bbox)).map(|c| (Subject::EnrolledFace, e.t, c)),
        _ => None,
    };
    if let Some((subject, t, crop)) = face {
        out.extend(picture(subject, t, Vec::new(), &crop));
    }
    // the other person: the lone face of each identity event's evidence frame
    let min_score = a.config.events.face_min_score as f32;
    let mut others: Vec<(f64, EventKind)> = a
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Identity | EventKind::CandidateChanged))
        .map(|e| (e.evidence_t, e.kind))
        .collect();
    others.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    others.dedup_by(|x, y| x.0 == y.0);
    for (t, kind) in others {
        let Some(o) = a.observations.iter().find(|o| o.t == t) else { continue };
        let Some(f) = o.solo_face(min_score) else { continue };
        let (w, h) = (o.width.max(1) as f32, o.height.max(1) as f32);
        let bbox = [f.bbox[0] / w, f.bbox[1] / h, f.bbox[2] / w, f.bbox[3] / h];
        if let Some(crop) = picture_at(t).and_then(|img| face_crop(img, bbox)) {
            out.extend(picture(Subject::OtherFace, t, vec![kind], &crop));
        }
    }
    out
}

/// A picture as a record of the evidence table.
fn picture(subject: Subject, t_s: f64, kinds: Vec<EventKind>, img: &RgbImage) -> Option<EvidencePicture> {
    let jpeg = encode(img).ok()?;
    Some(EvidencePicture { subject, t_s, kinds, width: img.width(), height: img.height(), jpeg })
}

/// `img` with the boxes of observation `o` drawn (3 px lines on a 640-pixel
/// frame, as wide on a smaller picture, rounded up), [`THUMB_WIDTH`] wide.
fn boxed_thumbnail(img: &RgbImage, o: Option<&Observation>, rules: &crate::kinds::Rules) -> RgbImage {
    let mut img = img.clone();
    let line = (3 * img.width().max(img.height())).div_ceil(640).max(1);
    if let Some(o) = o {
        // boxes were found on a frame scaled to o.width; map them to this one
        let s = img.width() as f32 / o.width.max(1) as f32;
        let boxes: Vec<_> = boxes_of(o, rules).into_iter().map(|(b, c)| (b.map(|v| v * s), c)).collect();
        draw_boxes_width(&mut img, &boxes, line);
    }
    if img.width() == THUMB_WIDTH {
        img
    } else {
        image::imageops::thumbnail(&img, THUMB_WIDTH, (THUMB_WIDTH * img.height() / img.width().max(1)).max(1))
    }
}

/// Draw box outlines (pixels) onto a picture.
pub fn draw_boxes(img: &mut RgbImage, boxes: &[([f32; 4], [u8; 3])]) {
    let t = (img.width().max(img.height()) / 200).max(1);
    draw_boxes_width(img, boxes, t);
}

/// Draw box outlines `t` pixels wide.
fn draw_boxes_width(img: &mut RgbImage, boxes: &[([f32; 4], [u8; 3])], t: u32) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let t = t as i64;
    for (b, colour) in boxes {
        let x0 = (b[0] as i64).clamp(0, w - 1);
        let y0 = (b[1] as i64).clamp(0, h - 1);
        let x1 = (b[2] as i64).clamp(0, w - 1);
        let y1 = (b[3] as i64).clamp(0, h - 1);
        for k in 0..t {
            for x in x0..=x1 {
                for y in [y0 + k, y1 - k] {
                    if (0..h).contains(&y) {
                        img.put_pixel(x as u32, y as u32, image::Rgb(*colour));
                    }
                }
            }
            for y in y0..=y1 {
                for x in [x0 + k, x1 - k] {
                    if (0..w).contains(&x) {
                        img.put_pixel(x as u32, y as u32, image::Rgb(*colour));
                    }
                }
            }
        }
    }
}

/// The boxes to draw for an observation: faces green (the candidate's, when
/// identity told it apart, orange), and the objects its kind's rule counts
/// (at its `min_score`) in the kind's colour ([`crate::kinds::colour`]).
pub fn boxes_of(o: &Observation, rules: &crate::kinds::Rules) -> Vec<([f32; 4], [u8; 3])> {
    let colour = |j: usize| if o.candidate_face == Some(j as u32) { [255, 140, 0] } else { [0, 200, 0] };
    let mut v: Vec<([f32; 4], [u8; 3])> = o.faces.iter().flatten().enumerate().map(|(j, f)| (f.bbox, colour(j))).collect();
    for d in o.objects.iter().flatten() {
        let Some(kind) = d.category.parse::<EventKind>().ok().filter(|k| rules.sighting(*k).is_some_and(|t| t.reached_by(d.score))) else {
            continue;
        };
        v.push((d.bbox, crate::kinds::rgb(kind)));
    }
    v
}

/// A face cut out of a picture: `bbox` in fractions of its size, widened by
/// half on each side, scaled to 160 pixels high.
pub fn face_crop(img: &RgbImage, bbox: [f32; 4]) -> Option<RgbImage> {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let (bw, bh) = ((bbox[2] - bbox[0]) * w, (bbox[3] - bbox[1]) * h);
    if !(bw >= 1.0 && bh >= 1.0) {
        return None;
    }
    let x0 = (bbox[0] * w - bw / 2.0).clamp(0.0, w - 1.0);
    let y0 = (bbox[1] * h - bh / 2.0).clamp(0.0, h - 1.0);
    let x1 = (bbox[2] * w + bw / 2.0).clamp(x0 + 1.0, w);
    let y1 = (bbox[3] * h + bh / 2.0).clamp(y0 + 1.0, h);
    let crop = image::imageops::crop_imm(img, x0 as u32, y0 as u32, (x1 - x0) as u32, (y1 - y0) as u32).to_image();
    let th = 160u32;
    let tw = ((crop.width() as f32 * th as f32 / crop.height().max(1) as f32).round() as u32).max(1);
    Some(image::imageops::resize(&crop, tw, th, image::imageops::FilterType::Triangle))
}

#[cfg(test)]
mod tests;
