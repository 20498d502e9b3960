//! Tests of `evidence.rs`.

use super::*;

#[test]
fn pictures_are_kept_only_where_that_costs_less_than_decoding_again() {
    let mut info = crate::decode::probe(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sample.webm")).unwrap();
    // a keyframe every 10 s: up to 2 minutes
    info.keyframes_s = (0..6).map(|k| k as f64 * 10.0).collect();
    info.duration_s = 60.0;
    assert!(keeping_pays(&info));
    info.keyframes_s = (0..60).map(|k| k as f64 * 10.0).collect();
    info.duration_s = 600.0;
    assert!(!keeping_pays(&info));
    // no seek index (a browser recording): up to 20 minutes
    info.keyframes_s.clear();
    info.duration_s = 1200.0;
    assert!(keeping_pays(&info));
    info.duration_s = 3600.0;
    assert!(!keeping_pays(&info));
    // a single keyframe (no other after the first): decoding again would start at 0
    info.keyframes_s = vec![0.0];
    assert!(keeping_pays(&info));
}

fn picture(w: u32, h: u32, seed: u8) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| image::Rgb([(x / 8) as u8 ^ seed, (y / 8) as u8 * 3, seed.wrapping_mul(7)]))
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| (*x as f64 - *y as f64).abs()).sum::<f64>() / a.as_raw().len() as f64
}

#[test]
fn a_kept_picture_comes_back_by_its_exact_time_shrunk_to_the_thumbnail_width() {
    let dir = tempfile::tempdir().unwrap();
    let store = EvidenceStore::create_in(dir.path()).unwrap();
    let (a, b) = (picture(640, 360, 1), picture(640, 360, 90));
    store.keep(0.25, &a).unwrap();
    store.keep(0.5, &b).unwrap();
    let small = picture(161, 97, 3);
    store.keep(0.75, &small).unwrap();
    assert_eq!(store.len(), 3);
    let got = store.get(0.5).expect("kept at 0.5");
    assert_eq!(got.dimensions(), (320, 180));
    let want = image::imageops::thumbnail(&b, 320, 180);
    assert!(mean_abs_diff(&got, &want) < 4.0, "{}", mean_abs_diff(&got, &want));
    // not the other picture
    let other = image::imageops::thumbnail(&a, 320, 180);
    assert!(mean_abs_diff(&got, &other) > 20.0);
    // narrower than a thumbnail: kept at its own size
    assert_eq!(store.get(0.75).unwrap().dimensions(), (161, 97));
    // only exact times
    assert!(store.get(0.5 + 1e-9).is_none());
    assert!(store.get(1.0).is_none());
}

#[test]
fn a_frame_twice_the_thumbnail_width_is_shrunk_by_2x2_means_like_the_general_thumbnail() {
    let px = |x: u32, y: u32| image::Rgb([(x * 7 + y * 13) as u8, (x * x + y) as u8, ((x ^ y) * 5) as u8]);
    for h in [360, 481, 2] {
        let img = RgbImage::from_fn(640, h, px);
        let got = shrink(&img);
        assert_eq!(got.dimensions(), (320, h / 2));
        for (x, y) in [(0, 0), (17, (h / 2 - 1) / 2), (319, h / 2 - 1)] {
            let (sx, sy) = (2 * x, 2 * y);
            for c in 0..3 {
                let sum: u32 = [(sx, sy), (sx + 1, sy), (sx, sy + 1), (sx + 1, sy + 1)].iter().map(|&(a, b)| px(a, b).0[c] as u32).sum();
                assert_eq!(got.get_pixel(x, y).0[c] as u32, (sum + 2) / 4, "({x}, {y}) channel {c} of a 640x{h} frame");
            }
        }
        // on a smooth picture, as the general thumbnail gives
        let smooth = RgbImage::from_fn(640, h, |x, y| {
            let v = |f: f32| (128.0 + 100.0 * f.sin()) as u8;
            image::Rgb([v(x as f32 / 23.0), v(y as f32 / 17.0), v((x + y) as f32 / 41.0)])
        });
        let d = mean_abs_diff(&shrink(&smooth), &image::imageops::thumbnail(&smooth, 320, h / 2));
        // (an odd height: the general thumbnail spreads the odd row over the others, this leaves it out)
        assert!(d < if h % 2 == 0 { 1.5 } else { 3.0 }, "640x{h}: {d}");
    }
    // other widths: the general thumbnail
    let odd = RgbImage::from_fn(500, 300, px);
    assert_eq!(shrink(&odd), image::imageops::thumbnail(&odd, 320, 192));
}

#[test]
fn consecutive_frames_of_one_picture_share_one_copy() {
    let dir = tempfile::tempdir().unwrap();
    let store = EvidenceStore::create_in(dir.path()).unwrap();
    let one = Arc::new(picture(640, 480, 5));
    let two = Arc::new(picture(640, 480, 200));
    let frame = |index: usize, image: &Arc<RgbImage>| Frame { index, t: index as f64 / 4.0, pts: 0.0, image: image.clone(), source: None };
    store.keep_frames(&[frame(0, &one), frame(1, &one), frame(2, &two), frame(3, &one)]);
    assert_eq!(store.len(), 4);
    assert!(store.error().is_none());
    let inner = store.lock();
    let offsets: Vec<u64> = inner.index.iter().map(|e| e.offset).collect();
    assert_eq!(offsets[0], offsets[1]);
    assert_ne!(offsets[1], offsets[2]);
    assert_ne!(offsets[2], offsets[3]);
    assert_eq!(inner.end, inner.file.metadata().unwrap().len());
    drop(inner);
    let back = store.get(0.25).unwrap();
    assert!(mean_abs_diff(&back, &image::imageops::thumbnail(one.as_ref(), 320, 240)) < 4.0);
}

#[test]
fn a_store_has_no_name_so_nothing_is_left_however_the_run_ends() {
    let dir = tempfile::tempdir().unwrap();
    let store = EvidenceStore::create_in(dir.path()).unwrap();
    store.keep(0.0, &picture(64, 48, 1)).unwrap();
    assert!(store.get(0.0).is_some());
    // while it is open and holds pictures, the directory is empty: a
    // run killed now leaves nothing there
    assert_eq!(listing(dir.path()), Vec::<String>::new());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = store.lock().file.metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}: others may not read the candidate's pictures");
    }
}

#[test]
fn pictures_come_from_the_store_without_a_recording() {
    let dir = tempfile::tempdir().unwrap();
    let store = EvidenceStore::create_in(dir.path()).unwrap();
    store.keep(1.0, &picture(640, 360, 1)).unwrap();
    store.keep(2.0, &picture(640, 360, 2)).unwrap();
    let got = pictures(Some(&store), None, &[2.0, 7.0, 2.0, 1.0]);
    let times: Vec<f64> = got.iter().map(|p| p.0).collect();
    assert_eq!(times, [2.0, 1.0]);
    assert!(pictures(None, None, &[1.0]).is_empty());
}

/// Files this process has open in `dir` (Linux: /proc): an unnamed
/// store shows as `<dir>/#<inode> (deleted)`.
fn open_in(dir: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter(|t| t.starts_with(dir))
        .count()
}

/// A face model that sees nobody and counts the stores open in `dir` while it runs.
struct Nobody {
    dir: PathBuf,
    stores_seen: Arc<std::sync::atomic::AtomicUsize>,
    fail: bool,
}

impl crate::detect::FaceAnalyzer for Nobody {
    fn analyze(&self, images: &[&RgbImage]) -> anyhow::Result<Vec<Vec<crate::detect::FaceFound>>> {
        let n = open_in(&self.dir);
        self.stores_seen.fetch_max(n, std::sync::atomic::Ordering::Relaxed);
        if self.fail {
            anyhow::bail!("injected failure");
        }
        Ok(vec![Vec::new(); images.len()])
    }
    fn set_min_score(&mut self, _min_score: f32) {}
}

/// Settings with a [`Nobody`] face model, and its count of the stores seen.
fn settings(dir: &Path, fail: bool) -> (crate::analyze::Settings, Arc<std::sync::atomic::AtomicUsize>) {
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let faces = Nobody { dir: dir.to_path_buf(), stores_seen: seen.clone(), fail };
    let models = crate::detect::Models { faces: Some(Box::new(faces)), ..Default::default() };
    (crate::analyze::Settings { config: Default::default(), models, threads: 2 }, seen)
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sample.webm")
}

/// The evidence of an analysis (20 s with nobody in view: a no_face
/// event) comes from its store, and matches the pictures made from the
/// frames decoded again; the store's file is gone with the analysis.
#[test]
fn an_analysis_keeps_its_pictures_and_they_match_those_decoded_again() {
    let dir = tempfile::tempdir().unwrap();
    let (s, seen) = settings(dir.path(), false);
    let a = crate::analyze::analyze_keeping_in(&sample(), &s, None, &crate::progress::NoProgress, Some(dir.path())).unwrap();
    assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 1, "the store's file existed during the analysis");
    assert_eq!(open_in(dir.path()), 0, "and is gone after it");
    assert!(a.warnings.iter().all(|w| !w.contains("evidence")), "{:?}", a.warnings);
    assert!(a.events.iter().any(|e| e.kind == EventKind::NoFace), "{:?}", a.events);
    let times: Vec<f64> = a.evidence.iter().map(|p| p.t_s).collect();
    let mut want: Vec<f64> = a.events.iter().map(|e| e.evidence_t).collect();
    want.sort_by(f64::total_cmp);
    want.dedup();
    assert_eq!(times, want, "one picture per evidence frame");
    assert!(a.evidence.iter().all(|p| p.subject == Subject::Event && p.width == THUMB_WIDTH));
    let decoded = collect(None, &a, None);
    assert_eq!(decoded.len(), a.evidence.len());
    let rgb = |p: &EvidencePicture| image::load_from_memory(&p.jpeg).unwrap().to_rgb8();
    for (k, d) in a.evidence.iter().zip(&decoded) {
        assert_eq!((k.t_s, k.width, k.height), (d.t_s, d.width, d.height));
        let diff = mean_abs_diff(&rgb(k), &rgb(d));
        assert!(diff < 5.0, "at {} s: {diff}", k.t_s);
    }
}

#[test]
fn an_analysis_for_no_report_keeps_no_pictures_and_says_nothing_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let (s, seen) = settings(dir.path(), false);
    let a = crate::analyze::analyze_keeping_in(&sample(), &s, None, &crate::progress::NoProgress, None).unwrap();
    assert!(a.evidence.is_empty());
    assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert!(a.warnings.iter().all(|w| !w.contains("evidence")), "{:?}", a.warnings);
}

#[test]
fn a_failed_analysis_leaves_no_store_behind() {
    let dir = tempfile::tempdir().unwrap();
    let (s, seen) = settings(dir.path(), true);
    let r = crate::analyze::analyze_keeping_in(&sample(), &s, None, &crate::progress::NoProgress, Some(dir.path()));
    let e = r.err().expect("the injected failure");
    assert!(e.to_string().contains("injected failure"), "{e}");
    assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 1, "the store's file existed while the models ran");
    assert_eq!(open_in(dir.path()), 0);
}
