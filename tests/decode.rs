//! Decoding real files: every codec, odd sizes, rotation, variable frame
//! rate, very short clips, and chunk/thread independence.

use std::path::Path;

use proctor::analyze::{analyze, Settings};
use proctor::config::Config;
use proctor::decode::{decode_samples, decode_samples_with, probe, sample_times, DecodeOptions};
use proctor::detect::Models;
use proctor::progress::NoProgress;

use crate::util::fixture;

fn settings(threads: usize) -> Settings {
    Settings { config: Config::default(), models: Models::default(), threads }
}

/// Decode every analysis sample of a file, returning (t, pts, w, h).
fn samples(path: &Path, fps: f64) -> Vec<(f64, f64, u32, u32)> {
    let info = probe(path).unwrap();
    let times = sample_times(info.duration_s, fps);
    let mut out = vec![];
    decode_samples(&info, &times, 0, 1280, |f| out.push((f.t, f.pts, f.image.width(), f.image.height()))).unwrap();
    out
}

#[test]
fn every_codec_decodes_with_its_audio() {
    for (file, video, audio) in [
        ("vp8_opus.webm", "vp8", Some("opus")),
        ("vp9_opus.webm", "vp9", Some("opus")),
        ("av1_opus.webm", "av1", Some("opus")),
        ("h264_aac.mp4", "h264", Some("aac")),
        ("vp9_vorbis.webm", "vp9", Some("vorbis")),
        ("h264_noaudio.mp4", "h264", None),
        ("vp8_noaudio.webm", "vp8", None),
    ] {
        let path = fixture(file);
        let info = probe(&path).unwrap();
        assert_eq!(info.video_codec, video, "{file}");
        assert_eq!(info.audio_codec.as_deref(), audio, "{file}");
        let a = analyze(&path, &settings(2), &NoProgress).unwrap();
        let n = sample_times(info.duration_s, 4.0).len();
        assert_eq!(a.observations.len(), n, "{file}");
        assert!(n >= 4, "{file}: {n} samples");
        // real pictures, not black frames
        assert!(a.observations.iter().all(|o| o.mean_luma > 10.0), "{file}");
        assert_eq!(a.audio.present, audio.is_some(), "{file}");
        if audio.is_some() {
            assert!((a.audio.duration_s - info.duration_s).abs() < 0.5, "{file}: audio {} s", a.audio.duration_s);
            assert!(a.observations.iter().all(|o| o.audio_db.is_some()), "{file}");
        }
    }
}

#[test]
fn odd_frame_size_keeps_its_size() {
    let s = samples(&fixture("odd_size.webm"), 4.0);
    assert!(!s.is_empty());
    let (w, h) = (s[0].2, s[0].3);
    assert!(w % 2 == 1 && h % 2 == 1, "{w}x{h}");
}

#[test]
fn rotation_metadata_is_applied() {
    let path = fixture("rotated90.mp4");
    let info = probe(&path).unwrap();
    assert_eq!(info.rotation, 90);
    assert_eq!((info.coded_width, info.coded_height), (info.height, info.width));
    let s = samples(&path, 4.0);
    assert!(s.iter().all(|x| (x.2, x.3) == (info.width, info.height)));
    assert!(info.height > info.width, "upright portrait: {}x{}", info.width, info.height);
}

#[test]
fn a_fifth_of_a_second_clip_gives_one_frame() {
    let info = probe(&fixture("short_0.2s.webm")).unwrap();
    assert!(info.duration_s < 0.3, "{}", info.duration_s);
    let a = analyze(&fixture("short_0.2s.webm"), &settings(2), &NoProgress).unwrap();
    assert_eq!(a.observations.len(), 1);
    assert_eq!(a.observations[0].t, 0.0);
}

#[test]
fn variable_frame_rate_samples_follow_timestamps() {
    let path = fixture("vfr.webm");
    let info = probe(&path).unwrap();
    assert!(info.variable_frame_rate, "fixture is VFR");
    let s = samples(&path, 10.0);
    for (t, pts, _, _) in &s {
        // the frame shown at t started at or before t (the first frame aside)
        assert!(*pts <= t + 1e-6 || *t == 0.0, "t={t} pts={pts}");
        // and no frame of the file lies strictly between it and t
        assert!(t - pts < 0.2, "t={t} pts={pts}: a frame was skipped");
    }
    // frame timestamps are the file's, not a constant-rate grid
    let distinct: std::collections::BTreeSet<i64> = s.iter().map(|x| (x.1 * 1000.0).round() as i64).collect();
    assert!(distinct.len() > 3);
}

#[test]
fn the_frame_at_t_is_the_right_frame() {
    // timestamp_pattern.webm: 10 fps, frame i (at i * 0.1 s) is flat grey of
    // video-range luma Y = 16 + 7 i, that is RGB grey (Y - 16) * 255 / 219
    let path = fixture("timestamp_pattern.webm");
    let info = probe(&path).unwrap();
    // t_k = k / 8 s (exact in binary) shows frame floor(10 k / 8); frames start
    // on multiples of 0.1 s, so t_k = 0.5 s sits exactly on a frame's start
    let ks: Vec<usize> = (0..24).filter(|k| (*k as f64 / 8.0) < info.duration_s).collect();
    let times: Vec<f64> = ks.iter().map(|k| *k as f64 / 8.0).collect();
    let mut got = vec![];
    decode_samples(&info, &times, 0, 1280, |f| got.push((f.t, proctor::observation::mean_luma(&f.image)))).unwrap();
    assert_eq!(got.len(), times.len());
    for ((t, luma), k) in got.into_iter().zip(&ks) {
        let frame = k * 10 / 8;
        let want = 7.0 * frame as f32 * 255.0 / 219.0;
        assert!((luma - want).abs() < 2.0, "t={t}: luma {luma}, frame {frame} has {want}");
    }
}

#[test]
fn output_is_identical_for_any_thread_count() {
    let path = fixture("sample.webm");
    let one = analyze(&path, &settings(1), &NoProgress).unwrap();
    let many = analyze(&path, &settings(4), &NoProgress).unwrap();
    // one pass over the file, however many workers
    assert_eq!(one.stats.frames_decoded, many.stats.frames_decoded);
    assert_eq!(one.observations.len(), many.observations.len());
    assert_eq!(one.observations, many.observations);
    assert_eq!(one.events, many.events);
}

#[test]
fn chunks_starting_mid_file_match_a_decode_from_the_start() {
    let path = fixture("vp9_opus.webm");
    let info = probe(&path).unwrap();
    let times = sample_times(info.duration_s, 4.0);
    let mut whole = vec![];
    decode_samples(&info, &times, 0, 1280, |f| whole.push((f.index, f.pts, f.image.clone()))).unwrap();
    let mut parts = vec![];
    for r in proctor::decode::plan_chunks(times.len(), 3) {
        decode_samples(&info, &times[r.clone()], r.start, 1280, |f| parts.push((f.index, f.pts, f.image.clone()))).unwrap();
    }
    assert_eq!(whole.len(), parts.len());
    for (a, b) in whole.iter().zip(&parts) {
        assert_eq!((a.0, a.1), (b.0, b.1));
        assert!(a.2.as_raw() == b.2.as_raw(), "pixels differ at sample {}", a.0);
    }
}

#[test]
fn mediarecorder_file_without_duration_is_measured_from_its_packets() {
    // live_nodur.webm has no Duration element and no Cues, like a browser recording
    let info = probe(&fixture("live_nodur.webm")).unwrap();
    assert!(info.header_duration_s.is_none());
    assert!((info.duration_s - 2.0).abs() < 0.1, "{}", info.duration_s);
    let a = analyze(&fixture("live_nodur.webm"), &settings(2), &NoProgress).unwrap();
    assert_eq!(a.observations.len(), 8);
    assert!(a.warnings.iter().all(|w| !w.contains("truncated")), "{:?}", a.warnings);
}

/// A browser-style recording (live webm: no cues, no duration; one keyframe
/// for the whole file) at 4K is decoded in one pass, frame for frame, never
/// re-decoded, and its frames are scaled down to `analysis.max_side`.
#[test]
fn one_pass_over_a_4k_file_without_cues_or_later_keyframes() {
    if !crate::util::have("ffmpeg") {
        crate::util::skip("ffmpeg is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("onekey.webm");
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=3840x2160:rate=10:duration=3"])
        .args(["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-g", "1000", "-live", "1"])
        .arg(&clip)
        .status()
        .unwrap();
    assert!(status.success());
    let info = probe(&clip).unwrap();
    assert_eq!((info.width, info.height), (3840, 2160));
    let a = analyze(&clip, &settings(2), &NoProgress).unwrap();
    assert_eq!(a.observations.len(), 12, "3 s at 4 fps");
    // never more frames than the file holds (the last one, after the last
    // analysis time, need not be decoded)
    let decoded = a.stats.frames_decoded;
    assert!(decoded <= info.frame_count && decoded + 1 >= info.frame_count, "{decoded} of {} frames decoded", info.frame_count);
    let max_side = Config::default().analysis.max_side;
    assert!(a.observations.iter().all(|o| o.width.max(o.height) == max_side), "frames scaled to {max_side}");
}

/// Tracking faces between detections (the default, one detection a second)
/// sees the same faces as running the detector on every frame.
#[test]
fn tracked_faces_agree_with_detection_on_every_frame() {
    use proctor::detect::models::{load, Which};
    let path = fixture("sample.webm");
    let run = |detect_fps: f64| {
        let mut config = Config::default();
        config.analysis.face_detect_fps = detect_fps;
        let models = load(None, Which { faces: true, objects: false, hands: false, speech: false, identity: false }).unwrap();
        analyze(&path, &Settings { config, models, threads: 2 }, &NoProgress).unwrap()
    };
    let every = run(4.0);
    let tracked = run(1.0);
    assert_eq!(every.observations.len(), tracked.observations.len());
    let (mut same_count, mut yaw_diffs) = (0, vec![]);
    for (e, t) in every.observations.iter().zip(&tracked.observations) {
        let (ef, tf) = (e.faces.as_ref().unwrap(), t.faces.as_ref().unwrap());
        same_count += usize::from(ef.len() == tf.len());
        if let ([a], [b]) = (ef.as_slice(), tf.as_slice()) {
            if let (Some(x), Some(y)) = (a.yaw, b.yaw) {
                yaw_diffs.push((x - y).abs());
            }
        }
    }
    let n = every.observations.len();
    assert!(same_count * 100 >= n * 95, "face counts agree on {same_count} of {n} frames");
    yaw_diffs.sort_by(f32::total_cmp);
    let median = yaw_diffs[yaw_diffs.len() / 2];
    assert!(!yaw_diffs.is_empty() && median < 3.0, "median yaw difference {median} degrees");
    assert_eq!(
        every.events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        tracked.events.iter().map(|e| e.kind).collect::<Vec<_>>()
    );
}

/// Pictures of any size from 16x16 to 4K, grey, very dark, or with the face
/// cut by the frame edge go through the face and object detectors without
/// error, and every box lies inside its picture.
#[test]
fn detectors_take_any_size_grey_dark_and_cut_faces() {
    use image::{imageops, RgbImage};
    use proctor::detect::models::{load, Which};
    let models = load(None, Which { faces: true, objects: true, hands: true, speech: false, identity: false }).unwrap();
    let cfg = Config::default();
    let face = image::open(fixture("face.jpg")).unwrap().to_rgb8();
    let grey = RgbImage::from_fn(face.width(), face.height(), |x, y| {
        let p = face.get_pixel(x, y).0;
        let l = ((p[0] as u32 * 299 + p[1] as u32 * 587 + p[2] as u32 * 114) / 1000) as u8;
        image::Rgb([l, l, l])
    });
    let dark = RgbImage::from_fn(face.width(), face.height(), |x, y| image::Rgb(face.get_pixel(x, y).0.map(|v| v / 12)));
    let cut = imageops::crop_imm(&face, 0, 0, face.width() / 2, face.height()).to_image();
    let mut big = RgbImage::new(3840, 2160);
    imageops::overlay(&mut big, &imageops::resize(&face, 1024, 1024, imageops::FilterType::Triangle), 1400, 500);
    let cases: Vec<(&str, RgbImage, Option<usize>)> = vec![
        ("16x16", RgbImage::new(16, 16), Some(0)),
        ("17x31", RgbImage::from_pixel(17, 31, image::Rgb([200, 10, 10])), Some(0)),
        ("4K", big, Some(1)),
        ("grey", grey, Some(1)),
        ("cut by the edge", cut, Some(1)),
        ("very dark", dark, None),
    ];
    for (name, img, want_faces) in cases {
        let (w, h) = (img.width() as f32, img.height() as f32);
        let (faces, looked) = proctor::analyze::observe_picture(&img, &models, &cfg).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let objects = looked.objects;
        if let Some(n) = want_faces {
            assert_eq!(faces.len(), n, "{name}: faces");
        }
        let inside = |b: &[f32; 4]| b[0] >= 0.0 && b[1] >= 0.0 && b[2] <= w && b[3] <= h && b[0] <= b[2] && b[1] <= b[3];
        assert!(faces.iter().all(|f| inside(&f.bbox)), "{name}: a face box leaves the picture");
        assert!(objects.iter().all(|o| inside(&o.bbox)), "{name}: an object box leaves the picture");
    }
}

/// Every sample of `path` at `fps` from `times[from..]` (a decode that seeks when
/// `from > 0`), with libavcodec allowed or not to skip unreferenced frames:
/// (index, pts, pixels) of each, and how many frames were decoded.
fn sampled(path: &Path, fps: f64, from: usize, skip_nonref: bool) -> (Vec<(usize, f64, Vec<u8>)>, u64) {
    let info = probe(path).unwrap();
    let times = sample_times(info.duration_s, fps);
    let mut out = vec![];
    let opts = DecodeOptions { skip_nonref, ..Default::default() };
    let stats = decode_samples_with(&info, &times[from..], from, 1280, opts, |f| {
        out.push((f.index, f.pts, f.image.as_raw().clone()));
        true
    })
    .unwrap();
    assert_eq!(out.len(), times.len() - from, "{}", path.display());
    (out, stats.decoded)
}

/// H.264 with B-frames (x264, 3 with a pyramid in every group: IBBBP, half the
/// frames unreferenced), 128x96, 60 frames at 30 fps of ffmpeg's moving test
/// pattern with a flat grey 48x48 corner of luma 16 + 3 i in frame i.
fn h264_pattern(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("pattern_bframes.mp4");
    let st = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(concat!(
            "testsrc2=s=128x96:r=30:d=2,format=yuv420p,geq=lum='if(lt(X,48)*lt(Y,48),16+3*N,lum(X,Y))'",
            ":cb='if(lt(X,24)*lt(Y,24),128,cb(X,Y))':cr='if(lt(X,24)*lt(Y,24),128,cr(X,Y))'"
        ))
        .args(["-c:v", "libx264", "-crf", "12", "-x264-params", "bframes=3:b-adapt=0:b-pyramid=normal", "-pix_fmt", "yuv420p"])
        .arg(&path)
        .status()
        .expect("ffmpeg runs");
    assert!(st.success());
    path
}

#[test]
fn skipping_unreferenced_frames_changes_no_sampled_frame() {
    let dir = tempfile::tempdir().unwrap();
    let pattern = h264_pattern(dir.path());
    // every sample shows the right frame with the skipping on: t = k / 4 shows
    // frame floor(30 t), whose corner has luma 16 + 3 i, RGB grey 3 i * 255 / 219
    let (frames, decoded) = sampled(&pattern, 4.0, 0, true);
    for (k, _, pixels) in &frames {
        let i = (*k as f64 / 4.0 * 30.0).floor();
        let want = 3.0 * i * 255.0 / 219.0;
        let corner: Vec<f64> = (8..40).flat_map(|y| (8 * 3..40 * 3).map(move |x| pixels[y * 128 * 3 + x] as f64)).collect();
        let mean = corner.iter().sum::<f64>() / corner.len() as f64;
        assert!((mean - want).abs() < 2.0, "sample {k}: grey {mean}, frame {i} has {want}");
    }
    // and the decoder skipped frames: the pattern's non-reference B-frames
    // (the pass ends at the frame after the last sample, 1.75 s: frame 53)
    let (_, all) = sampled(&pattern, 4.0, 0, false);
    assert_eq!(all, 54);
    assert!(decoded < 40, "{decoded} of {all} frames decoded");

    // The same pictures with and without, on the codecs' fixtures, at rates that
    // fall between frames and on them, from the start and after a seek.
    for (file, fps) in [
        ("h264_aac.mp4", 4.0),
        ("h264_noaudio.mp4", 7.0),
        ("rotated90.mp4", 4.0),
        ("vfr.mkv", 4.0),
        ("vp8_opus.webm", 4.0),
        ("vp9_opus.webm", 5.0),
        ("av1_opus.webm", 4.0),
        ("timestamp_pattern.webm", 8.0),
    ] {
        let path = fixture(file);
        for from in [0, 3] {
            let (with, _) = sampled(&path, fps, from, true);
            let (without, _) = sampled(&path, fps, from, false);
            for (a, b) in with.iter().zip(&without) {
                assert_eq!((a.0, a.1), (b.0, b.1), "{file} from {from}");
                assert!(a.2 == b.2, "{file} from {from}: pixels differ at sample {}", a.0);
            }
        }
    }
    // with every frame wanted, nothing is skipped
    let (_, every) = sampled(&pattern, 30.0, 0, true);
    assert_eq!(every, 60);
}

/// `DecodeOptions::source_every`: every n-th sample also carries its picture at
/// the decoded size (upright, as the analysed picture), only where that is
/// larger than the analysed picture; the analysed pictures are the same either way.
#[test]
fn the_object_frames_can_carry_their_source_size_picture() {
    for (name, max_side) in [("sample.webm", 320), ("rotated90.mp4", 160)] {
        let info = probe(&fixture(name)).unwrap();
        let times = sample_times(info.duration_s.min(3.0), 2.0);
        let mut with = Vec::new();
        let opts = DecodeOptions { source_every: 2, ..Default::default() };
        decode_samples_with(&info, &times, 0, max_side, opts, |f| {
            with.push(f);
            true
        })
        .unwrap();
        let mut plain = Vec::new();
        decode_samples(&info, &times, 0, max_side, |f| plain.push(f)).unwrap();
        assert_eq!(with.len(), times.len(), "{name}");
        for (f, p) in with.iter().zip(&plain) {
            assert_eq!(f.image.as_raw(), p.image.as_raw(), "{name} sample {}", f.index);
            assert!(p.source.is_none());
            match &f.source {
                Some(src) => {
                    assert_eq!(f.index % 2, 0, "{name}");
                    // larger, and the same way up
                    assert!(src.width() > f.image.width(), "{name}");
                    let (a, b) = (src.width() as f32 / src.height() as f32, f.image.width() as f32 / f.image.height() as f32);
                    assert!((a - b).abs() < 0.05, "{name}: {a} against {b}");
                }
                None => assert_eq!(f.index % 2, 1, "{name} sample {} has no source picture", f.index),
            }
        }
    }
    // a recording no larger than the analysed picture has nothing more to give
    let info = probe(&fixture("sample.webm")).unwrap();
    let opts = DecodeOptions { source_every: 1, ..Default::default() };
    decode_samples_with(&info, &[0.0, 1.0], 0, 640, opts, |f| {
        assert!(f.source.is_none());
        true
    })
    .unwrap();
}
