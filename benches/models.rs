//! Detector latency per model and batch size, and the whole face path per
//! frame, with decode-only time of the same frame as the baseline. Prints
//! the object detector's achieved GFLOP/s (YOLOX-nano 1.05 GFLOPs per 416x416
//! frame, upstream's figure).
//!
//! The group `prep` times the picture preparation around the networks (YOLOX's letterbox,
//! the rotated crops of the face mesh and iris, YuNet's planes) on their own.
//!
//! Run: `cargo bench --bench models` (add `-- --quick` for a short run, `-- prep` for
//! the preparation only).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::median_time;
use criterion::Criterion;
use image::RgbImage;
use proctor::detect::face_embed::{align_chip, five_points_from_mesh, FaceEmbedder};
use proctor::detect::landmarks::{warp_roi, FaceBox, LandmarkModels, Roi};
use proctor::detect::models::{load, Which};
use proctor::detect::yolox::YoloX;
use proctor::detect::yunet::YuNetDetector;
use proctor::detect::ObjectModel;

const YOLOX_GFLOPS: f64 = 1.05;

fn main() {
    // as the CLI does: one thread per network (set before any thread starts)
    proctor::detect::models::one_thread_per_network_at_start();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let test_mode = !std::env::args().any(|a| a == "--bench");
    let models = load(None, Which { faces: true, objects: true, hands: true, speech: true, identity: true }).expect("embedded models load");
    let faces = models.faces.as_ref().unwrap();
    assert_eq!(models.objects.as_ref().unwrap().name(), "yolox-nano", "the default object model");
    let info = proctor::decode::probe(&root.join("fixtures/sample.webm")).unwrap();
    let frame: RgbImage = proctor::decode::frame_at(&info, 2.0, 1280).unwrap();
    let b1 = vec![&frame];
    let b4 = vec![&frame; 4];
    let b8 = vec![&frame; 8];
    // the networks one by one, from the same files the binary embeds
    let read = |f: &str| std::fs::read(root.join("models").join(f)).unwrap();
    let dev = candle_core::Device::Cpu;
    let detector = YuNetDetector::from_bytes(&read("yunet_n.safetensors"), &dev).unwrap();
    let marks = LandmarkModels::from_bytes(&read("face_landmark.safetensors"), &read("iris_landmark.safetensors"), &dev).unwrap();
    let yolox = YoloX::from_bytes(&read("yolox_nano.safetensors"), &dev).unwrap();
    let face = detector.detect(&frame).unwrap().into_iter().next().expect("the sample frame has a face");
    let fb = FaceBox { bbox: face.blazeface_box(), keypoints: face.blazeface_keypoints() };
    let items1 = vec![(&frame, fb)];
    let items8 = vec![(&frame, fb); 8];
    let embedder = FaceEmbedder::from_bytes(&read("dlib_resnet.safetensors"), &dev).unwrap();
    let five = five_points_from_mesh(&marks.run(&items1).unwrap()[0].mesh).unwrap();
    let chip = align_chip(&frame, &five).unwrap();
    let chips1 = vec![&chip];
    let chips8 = vec![&chip; 8];

    let mut c = Criterion::default().configure_from_args().sample_size(10).warm_up_time(Duration::from_millis(300));
    // the picture preparation around the networks, on a 640x360 frame (what `analyze` hands
    // the detectors from a 16:9 recording) and the sample frame's face
    let frame360 = image::imageops::resize(&frame, 640, 360, image::imageops::FilterType::Triangle);
    let face_roi = Roi::face(&fb);
    let eye_roi = Roi { size: face_roi.size * 0.25, ..face_roi };
    let mut p = c.benchmark_group("prep");
    p.bench_function("letterbox_360p", |b| b.iter(|| yolox.preprocess(&[&frame360], false).unwrap()));
    p.bench_function("warp_roi_mesh", |b| b.iter(|| {
        let mut v = Vec::new();
        warp_roi(&frame, &face_roi, 192, false, &mut v);
        v
    }));
    p.bench_function("warp_roi_iris", |b| b.iter(|| {
        let mut v = Vec::new();
        warp_roi(&frame, &eye_roi, 64, true, &mut v);
        v
    }));
    p.bench_function("yunet_prepare_360p", |b| b.iter(|| detector.prepare(&frame360).unwrap()));
    p.finish();
    let mut g = c.benchmark_group("models");
    g.bench_function("decode_one_frame_baseline", |b| b.iter(|| proctor::decode::frame_at(&info, 2.0, 1280).unwrap()));
    g.bench_function("yunet_b1", |b| b.iter(|| detector.detect_batch(&b1).unwrap()));
    g.bench_function("yunet_b8", |b| b.iter(|| detector.detect_batch(&b8).unwrap()));
    g.bench_function("mesh_iris_b1", |b| b.iter(|| marks.run(&items1).unwrap()));
    g.bench_function("mesh_iris_b8", |b| b.iter(|| marks.run(&items8).unwrap()));
    g.bench_function("face_path_b1", |b| b.iter(|| faces.analyze(&b1).unwrap()));
    g.bench_function("face_path_b8", |b| b.iter(|| faces.analyze(&b8).unwrap()));
    g.bench_function("yolox_b1", |b| b.iter(|| yolox.detect_batch(&b1, 0.3).unwrap()));
    g.bench_function("yolox_b4", |b| b.iter(|| yolox.detect_batch(&b4, 0.3).unwrap()));
    g.bench_function("align_chip", |b| b.iter(|| align_chip(&frame, &five).unwrap()));
    g.bench_function("dlib_embed_b1", |b| b.iter(|| embedder.embed(&chips1).unwrap()));
    g.bench_function("dlib_embed_b8", |b| b.iter(|| embedder.embed(&chips8).unwrap()));
    g.finish();
    c.final_summary();

    let runs = if test_mode { 1 } else { 5 };
    let dec = median_time(runs, || {
        proctor::decode::frame_at(&info, 2.0, 1280).unwrap();
    });
    let f1 = median_time(runs, || {
        faces.analyze(&b1).unwrap();
    });
    let f8 = median_time(runs, || {
        faces.analyze(&b8).unwrap();
    });
    let d1 = median_time(runs, || {
        detector.detect_batch(&b1).unwrap();
    });
    let d8 = median_time(runs, || {
        detector.detect_batch(&b8).unwrap();
    });
    let m1 = median_time(runs, || {
        marks.run(&items1).unwrap();
    });
    let m8 = median_time(runs, || {
        marks.run(&items8).unwrap();
    });
    let y1 = median_time(runs, || {
        yolox.detect_batch(&b1, 0.3).unwrap();
    });
    let y4 = median_time(runs, || {
        yolox.detect_batch(&b4, 0.3).unwrap();
    });
    let a1 = median_time(runs, || {
        align_chip(&frame, &five).unwrap();
    });
    let e1 = median_time(runs, || {
        embedder.embed(&chips1).unwrap();
    });
    let e8 = median_time(runs, || {
        embedder.embed(&chips8).unwrap();
    });
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("\nper frame of {}x{} (median of {runs}, this machine, this run):", frame.width(), frame.height());
    println!("  decode one frame (seek + decode, baseline): {:.1} ms", ms(dec));
    println!("  YuNet-n (native size): batch 1 {:.1} ms, batch 8 {:.1} ms/frame", ms(d1), ms(d8) / 8.0);
    println!("  face mesh + iris (one face, two eyes): batch 1 {:.1} ms, batch 8 {:.1} ms/face", ms(m1), ms(m8) / 8.0);
    println!("  face path (YuNet + mesh + iris + geometry): batch 1 {:.1} ms, batch 8 {:.1} ms/frame ({:.1}x the decode baseline)", ms(f1), ms(f8) / 8.0, ms(f1) / ms(dec));
    println!("  dlib face descriptor: align_chip {:.1} ms; embed batch 1 {:.1} ms, batch 8 {:.1} ms/face", ms(a1), ms(e1), ms(e8) / 8.0);
    println!(
        "  YOLOX-nano: batch 1 {:.0} ms ({:.1} GFLOP/s), batch 4 {:.0} ms/frame ({:.1} GFLOP/s)",
        ms(y1),
        YOLOX_GFLOPS / y1.as_secs_f64(),
        ms(y4) / 4.0,
        YOLOX_GFLOPS * 4.0 / y4.as_secs_f64()
    );
}
