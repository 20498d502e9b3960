//! Phones the candidate holds: at the ear and in a hand in front of the chest, on the
//! composites of `fixtures/make_phone_fixtures.py` (a face about 60 px wide in a 640x480
//! frame, a drawn phone and hand; the phone in view from 3 s to 10 s). The whole-frame
//! object pass sees those phones at 0.00-0.29; the second look at a crop around the face
//! (`objects.face_crop`) at 0.28-0.87. And that second look raises nothing on one person
//! alone. A phone held up close to the camera (no face in view, so no crop) is found by
//! joining its `cell phone` and `remote` scores.

use std::path::Path;

use crate::util::*;

fn events_of(dir: &Path, id: &str) -> Vec<(String, f64, f64)> {
    let (_, ev) = proctor::tables::read_events(&dir.join(format!("{id}.events.parquet"))).unwrap();
    ev.into_iter().map(|e| (e.kind.to_string(), e.start_s, e.end_s)).collect()
}

fn object_events(ev: &[(String, f64, f64)]) -> Vec<&(String, f64, f64)> {
    ev.iter().filter(|e| matches!(e.0.as_str(), "phone" | "book" | "device")).collect()
}

/// The boxes of `category` in a recording's detections table, per row (t, [x0, y0,
/// x1, y1]): `face`, or an object kind's at the score its rule counts by default (the
/// table also keeps the near misses).
fn boxes(dir: &Path, id: &str, category: &str) -> Vec<(f64, [f32; 4])> {
    let df = proctor::tables::read_parquet(&dir.join(format!("{id}.detections.parquet"))).unwrap();
    let sighting = category.parse().ok().and_then(|k| proctor::config::Config::default().rules.sighting(k));
    let score = df.column("score").unwrap().f32().unwrap();
    let t = df.column("t_s").unwrap().f64().unwrap();
    let typ = df.column("type").unwrap().str().unwrap();
    let cat = df.column("category").unwrap().str().unwrap();
    let c: Vec<_> = ["x0", "y0", "x1", "y1"].iter().map(|k| df.column(k).unwrap().f32().unwrap().clone()).collect();
    (0..df.height())
        .filter(|&i| typ.get(i) == Some(if category == "face" { "face" } else { "object" }) && (category == "face" || cat.get(i) == Some(category)))
        .filter(|&i| score.get(i).is_some_and(|s| sighting.is_none_or(|t| t.reached_by(s))))
        .map(|i| (t.get(i).unwrap(), [c[0].get(i).unwrap(), c[1].get(i).unwrap(), c[2].get(i).unwrap(), c[3].get(i).unwrap()]))
        .collect()
}

#[test]
fn held_phones_are_found_by_the_second_look_near_the_face() {
    let d = tempfile::tempdir().unwrap();
    let ids = ["phone_at_ear", "phone_in_hand", "hand_no_phone"];
    let files: Vec<_> = ids.iter().map(|id| fixture(&format!("{id}.webm"))).collect();
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let r = analyze(&refs, d.path(), &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());

    for id in ["phone_at_ear", "phone_in_hand"] {
        let ev = events_of(d.path(), id);
        // one phone event over the 7 s the phone is held, none before it appears
        let phones: Vec<_> = ev.iter().filter(|e| e.0 == "phone").collect();
        assert_eq!(phones.len(), 1, "{id}: {ev:?}");
        assert!(phones[0].1 >= 2.5 && phones[0].2 - phones[0].1 >= 5.0, "{id}: {ev:?}");
        assert_eq!(object_events(&ev).len(), 1, "{id}: {ev:?}");
        // the boxes are in frame pixels, beside or below the face, not in the crop's own
        let faces = boxes(d.path(), id, "face");
        for (t, p) in boxes(d.path(), id, "phone") {
            assert!(t >= 3.0, "{id}: a phone at {t} s, before it is in view");
            let f = faces.iter().find(|f| f.0 == t).map(|f| f.1).unwrap_or_else(|| panic!("{id}: no face at {t} s"));
            let (pcx, pcy) = ((p[0] + p[2]) / 2.0, (p[1] + p[3]) / 2.0);
            let (fcx, fh) = ((f[0] + f[2]) / 2.0, f[3] - f[1]);
            if id == "phone_at_ear" {
                // right of the face centre, level with the face
                assert!(pcx > fcx + 10.0 && pcx < f[2] + 80.0, "{id} at {t}: phone {p:?}, face {f:?}");
                assert!(pcy > f[1] - 10.0 && pcy < f[3] + fh, "{id} at {t}: phone {p:?}, face {f:?}");
            } else {
                // below the chin, in front of the chest
                assert!(pcy > f[3] && pcy < f[3] + 2.5 * fh, "{id} at {t}: phone {p:?}, face {f:?}");
            }
        }
    }
    // the same hand at the ear with no phone in it
    let ev = events_of(d.path(), "hand_no_phone");
    assert!(object_events(&ev).is_empty(), "{ev:?}");
    assert!(boxes(d.path(), "hand_no_phone", "phone").is_empty());

    // the phone in front of the chest is held, and its event says so (the palm
    // detector finds the drawn hand under it)
    let (_, ev) = proctor::tables::read_events(&d.path().join("phone_in_hand.events.parquet")).unwrap();
    let phone = ev.iter().find(|e| e.kind.as_str() == "phone").expect("a phone event");
    assert!(phone.detail.contains("held in a hand in "), "{}", phone.detail);

    // without the second looks the whole-frame pass misses both held phones
    let off = tempfile::tempdir().unwrap();
    let cfg = off.path().join("proctor.toml");
    std::fs::write(&cfg, "[objects]\nface_crop = false\nhand_crop = false\n").unwrap();
    let r = analyze(&refs[..2], off.path(), &["--config", cfg.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    for id in ["phone_at_ear", "phone_in_hand"] {
        let ev = events_of(off.path(), id);
        assert!(ev.iter().all(|e| e.0 != "phone"), "{id} with face_crop and hand_crop off: {ev:?}");
    }
}

#[test]
fn the_second_look_raises_nothing_on_one_person_alone() {
    let d = tempfile::tempdir().unwrap();
    let files = [fixture("sample.webm"), fixture("speech_alone.webm"), fixture("h264_aac.mp4")];
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let r = analyze(&refs, d.path(), &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    for id in ["sample", "speech_alone", "h264_aac"] {
        let ev = events_of(d.path(), id);
        assert!(object_events(&ev).is_empty(), "{id}: {ev:?}");
        for category in ["phone", "book", "device"] {
            assert!(boxes(d.path(), id, category).is_empty(), "{id}: a {category} was seen");
        }
        // a face was in view, so the crop pass did run on these clips
        assert!(!boxes(d.path(), id, "face").is_empty(), "{id}: no face");
    }
}

/// A phone held up close to the webcam, over the face (`phone_close.webm`, a composite: the
/// drawn phone 65% of the frame tall, its back from 3 s, its screen from 6.5 s). No face, so
/// no crop; YOLOX-nano scores the phone partly as `remote`, and the two scores of the one box
/// are joined (`objects.large_phone_min_area`).
#[test]
fn a_phone_held_up_close_is_one_phone() {
    let d = tempfile::tempdir().unwrap();
    let files = [fixture("phone_close.webm")];
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let r = analyze(&refs, d.path(), &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let ev = events_of(d.path(), "phone_close");
    // one phone event over the 7 s the phone is held up, back and screen, and no device
    let phones: Vec<_> = ev.iter().filter(|e| e.0 == "phone").collect();
    assert_eq!(phones.len(), 1, "{ev:?}");
    assert!(phones[0].1 >= 2.5 && phones[0].1 <= 4.0 && phones[0].2 >= 9.5, "{ev:?}");
    assert_eq!(object_events(&ev).len(), 1, "{ev:?}");
    let seen = boxes(d.path(), "phone_close", "phone");
    assert!(seen.iter().all(|(t, _)| *t >= 3.0), "a phone before it is in view: {seen:?}");
    // the box is the phone: 0.6-0.7 of the frame tall, in its middle
    for (t, b) in &seen {
        let (h, cx) = (b[3] - b[1], (b[0] + b[2]) / 2.0);
        assert!((250.0..=400.0).contains(&h) && (280.0..=360.0).contains(&cx), "at {t}: {b:?}");
    }
    assert!(seen.iter().filter(|(t, _)| *t >= 7.0).count() >= 2, "the screen side: {seen:?}");

    // without joining the two classes the screen side is not a phone
    let off = tempfile::tempdir().unwrap();
    let cfg = off.path().join("proctor.toml");
    std::fs::write(&cfg, "[objects]\nlarge_phone_min_area = 2.0\n").unwrap();
    let r = analyze(&refs, off.path(), &["--config", cfg.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let seen = boxes(off.path(), "phone_close", "phone");
    assert!(seen.iter().all(|(t, _)| *t < 6.5), "large_phone_min_area = 2: {seen:?}");
}

/// `proctor detect --json` shows the hands it found and every crop it looked at
/// again, and `--annotate` draws them (grey crops, orange palms), so a user can
/// see why a held object was or was not found.
#[test]
fn detect_shows_the_hands_and_the_crops_it_looked_at() {
    let d = tempfile::tempdir().unwrap();
    let png = d.path().join("seen.png");
    let hand = root().join("fixtures/reference/palm_hand.png");
    let r = run(&["detect", "--json", "--annotate", png.to_str().unwrap(), hand.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let v: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
    let hands = v["hands"].as_array().unwrap();
    assert!(!hands.is_empty(), "{v}");
    let palm: Vec<f64> = hands[0]["bbox"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    let crops = v["crops"].as_array().unwrap();
    let around = |what: &str| crops.iter().filter(|c| c["around"] == what).count();
    assert_eq!(around("face"), 1, "{v}");
    assert_eq!(around("hand"), hands.len(), "{v}");
    // the hand crop holds its palm
    let c: Vec<f64> = crops.iter().find(|c| c["around"] == "hand").unwrap()["bbox"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    assert!(c[0] <= palm[0] && c[1] <= palm[1] && c[2] >= palm[2] && c[3] >= palm[3], "crop {c:?}, palm {palm:?}");
    // the held phone is marked
    assert!(v["objects"].as_array().unwrap().iter().any(|o| o["category"] == "phone" && o["in_hand"] == true), "{v}");
    // the palm's outline is drawn in orange on its top edge
    let img = image::open(&png).unwrap().to_rgb8();
    let (x, y) = (((palm[0] + palm[2]) / 2.0) as u32, palm[1].round() as u32);
    let orange = (y.saturating_sub(2)..=y + 2).any(|yy| img.get_pixel(x, yy).0 == [255, 140, 0]);
    assert!(orange, "no palm outline at ({x}, {y})");
}

/// A recording larger than the analysed picture: the crops are cut from the decoded
/// picture at its own size (`phone_in_hand.webm` scaled to 1280x960), and what they find
/// comes back in the analysed picture's pixels: the held phone is found below the face,
/// in a 640x480 frame, as at the fixture's own size.
#[test]
fn crops_of_a_larger_recording_come_from_its_own_pixels() {
    if !have("ffmpeg") {
        return skip("ffmpeg is not installed");
    }
    let d = tempfile::tempdir().unwrap();
    let big = d.path().join("phone_in_hand_big.webm");
    ffmpeg(&[], &fixture("phone_in_hand.webm"), &["-vf", "scale=1280:960:flags=lanczos", "-c:v", "libvpx", "-b:v", "4M", "-an"], &big);
    let r = analyze(&[&big], d.path(), &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let id = "phone_in_hand_big";
    let ev = events_of(d.path(), id);
    let phones: Vec<_> = ev.iter().filter(|e| e.0 == "phone").collect();
    assert_eq!(phones.len(), 1, "{ev:?}");
    assert!(phones[0].1 >= 2.5 && phones[0].2 - phones[0].1 >= 5.0, "{ev:?}");
    let faces = boxes(d.path(), id, "face");
    let found = boxes(d.path(), id, "phone");
    assert!(!found.is_empty());
    for (t, p) in found {
        assert!(p[2] <= 640.0 && p[3] <= 480.0, "at {t}: {p:?} is not in the analysed picture's pixels");
        let f = faces.iter().find(|f| f.0 == t).map(|f| f.1).unwrap_or_else(|| panic!("no face at {t} s"));
        let (pcy, fh) = ((p[1] + p[3]) / 2.0, f[3] - f[1]);
        assert!(pcy > f[3] - 0.5 * fh && pcy < f[3] + 2.5 * fh, "at {t}: phone {p:?}, face {f:?}");
    }
}
