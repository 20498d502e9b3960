//! What the second looks for held phones cost (`objects.face_crop` and
//! `objects.hand_crop`): a whole `analyze` of `fixtures/phone_at_ear.webm` (10 s,
//! 640x480, a face about 60 px wide and a hand at the ear in view all the time:
//! the crop passes run on every object sample, the worst case) with both crop
//! passes on and off, faces and objects as by default, the two measured in the
//! same run, interleaved. Also the object stage alone: YOLOX-nano on one frame,
//! then on the frame and its face crop, the palm detector on the frame, and the hand
//! landmark model on one palm.
//! Prints the added time as ratios.
//!
//! Run: `cargo bench --profile dev --bench phones`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::median_time;
use criterion::Criterion;
use proctor::analyze::{analyze, Settings};
use proctor::config::Config;
use proctor::detect::models::{load, Which};
use proctor::progress::NoProgress;

fn settings(crops: bool, threads: usize) -> Settings {
    let mut config = Config::default();
    config.objects.face_crop = crops;
    config.objects.hand_crop = crops;
    config.analysis.audio = false; // the clip is silent
    let which = Which { faces: true, objects: true, hands: true, speech: false, identity: true };
    Settings { config, models: load(None, which).expect("embedded models load"), threads }
}

fn main() {
    // as the CLI does: one thread per network (set before any thread starts)
    proctor::detect::models::one_thread_per_network_at_start();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let test_mode = !std::env::args().any(|a| a == "--bench");
    let clip = root.join("fixtures/phone_at_ear.webm");
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let on = settings(true, threads);
    let off = settings(false, threads);
    let phones = |a: &proctor::analyze::Analysis| a.events.iter().filter(|e| e.kind.as_str() == "phone").count();
    let run = |s: &Settings| {
        let a = analyze(&clip, s, &NoProgress).unwrap();
        // the crop passes are what find the held phone here (tests/phones.rs)
        assert_eq!(phones(&a) > 0, s.config.objects.face_crop);
        a
    };
    let media_s = proctor::decode::probe(&clip).unwrap().duration_s;

    // the object stage alone, on the frame at 5 s: the whole frame, and the whole frame plus the crop
    let frame = proctor::decode::frame_at(&proctor::decode::probe(&clip).unwrap(), 5.0, 640).unwrap();
    let model = on.models.objects.as_ref().unwrap();
    let face = proctor::detect::objects::face_crop(face_box(&on, &frame), frame.width(), frame.height()).expect("a crop");
    let crop = image::imageops::crop_imm(&frame, face[0], face[1], face[2] - face[0], face[3] - face[1]).to_image();
    let whole = || model.detect_batch(&[&frame], 0.2).unwrap();
    let hands = on.models.hands.as_ref().unwrap();
    let palms = || hands.detect_batch(&[&frame]).unwrap();
    // the hand landmark model on one palm (it runs on palms that touch a phone or book; its
    // cost does not depend on what the square shows: a square at the face stands in)
    let [x0, y0, x1, y1] = face_box(&on, &frame);
    let mut keypoints = [[0.0; 2]; proctor::detect::palm::NUM_KEYPOINTS];
    keypoints[0] = [(x0 + x1) / 2.0, y1];
    keypoints[2] = [(x0 + x1) / 2.0, y0];
    let palm = proctor::detect::palm::Palm { bbox: [x0, y0, x1, y1], score: 1.0, keypoints };
    let marker = on.models.hand_landmarks.as_ref().unwrap();
    let marks = || marker.run(&frame, &[&palm]).unwrap();
    let both = || {
        model.detect_batch(&[&frame], 0.2).unwrap();
        model.detect_batch(&[&crop], 0.2).unwrap()
    };

    if !test_mode {
        let mut c = Criterion::default().configure_from_args().sample_size(10).warm_up_time(Duration::from_secs(1));
        let mut g = c.benchmark_group("objects");
        g.bench_function("whole_frame", |b| b.iter(whole));
        g.bench_function("whole_frame_and_face_crop", |b| b.iter(both));
        g.bench_function("palms", |b| b.iter(palms));
        g.finish();
        let mut g = c.benchmark_group("analyze");
        g.bench_function("crops_off", |b| b.iter(|| run(&off)));
        g.bench_function("crops_on", |b| b.iter(|| run(&on)));
        g.finish();
        c.final_summary();
    }

    // interleaved, so that a change in the machine's load hits both alike
    let runs = if test_mode { 1 } else { 7 };
    let (mut t_whole, mut t_both, mut t_off, mut t_on) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut t_palms, mut t_marks) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        t_marks.push(median_time(5, || {
            marks();
        }));
        t_palms.push(median_time(5, || {
            palms();
        }));
        t_whole.push(median_time(5, || {
            whole();
        }));
        t_both.push(median_time(5, || {
            both();
        }));
        t_off.push(median_time(1, || {
            run(&off);
        }));
        t_on.push(median_time(1, || {
            run(&on);
        }));
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    let (whole_s, both_s, palms_s, marks_s) = (median(&mut t_whole), median(&mut t_both), median(&mut t_palms), median(&mut t_marks));
    let (off_s, on_s) = (median(&mut t_off), median(&mut t_on));
    println!(
        "\nYOLOX-nano on one 640x480 frame: {:.1} ms; with its {}x{} face crop: {:.1} ms ({:.2}x)",
        whole_s * 1e3,
        crop.width(),
        crop.height(),
        both_s * 1e3,
        both_s / whole_s
    );
    println!("palm detector on the same frame: {:.1} ms ({:.2}x YOLOX-nano on it)", palms_s * 1e3, palms_s / whole_s);
    println!("hand landmarks on one palm of it: {:.1} ms ({:.2}x YOLOX-nano on the frame)", marks_s * 1e3, marks_s / whole_s);
    println!(
        "analyze {} ({media_s:.1} s of media, {threads} threads; median of {runs}, interleaved): face_crop and hand_crop off {off_s:.2} s, on {on_s:.2} s: the crop passes add {:.1}% ({:.3}x)",
        clip.file_name().unwrap().to_string_lossy(),
        (on_s / off_s - 1.0) * 100.0,
        on_s / off_s
    );
}

/// The largest face's box in `frame`.
fn face_box(s: &Settings, frame: &image::RgbImage) -> [f32; 4] {
    let faces = s.models.faces.as_ref().unwrap().analyze(&[frame]).unwrap().pop().unwrap();
    faces.iter().max_by(|a, b| area(a.bbox).total_cmp(&area(b.bbox))).expect("a face").bbox
}

fn area(b: [f32; 4]) -> f32 {
    (b[2] - b[0]) * (b[3] - b[1])
}
