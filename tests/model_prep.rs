//! The picture preparation around the networks against the straightforward code it
//! replaced: the face mesh / iris crop (`landmarks::warp_roi`) against the per-pixel
//! formula, YOLOX's letterbox straight into BGR planes against the u8 canvas and its
//! conversion, and YuNet's planes against the picture's bytes.
use image::RgbImage;
use proctor::detect::landmarks::{warp_roi, Roi};
use proctor::detect::letterbox::{letterbox_bgr_planes, letterbox_on, Letterbox, Placement};
use proctor::detect::yolox::{to_bgr_planes, PAD_VALUE};
use proctor::detect::yunet::YuNetDetector;

/// A small deterministic generator (no `rand` in the dev-dependencies).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
    /// Uniform in `[lo, hi)`.
    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * (self.next() as f32 / (1u64 << 31) as f32)
    }
}

fn noise_image(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut g = Lcg(seed);
    RgbImage::from_fn(w, h, |_, _| image::Rgb([g.next() as u8, g.next() as u8, g.next() as u8]))
}

/// The per-pixel warp as it was written before (rotation, clamp and floor per pixel).
fn warp_reference(img: &RgbImage, roi: &Roi, out: usize, flip: bool) -> Vec<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut dst = vec![0f32; 3 * out * out];
    let plane = out * out;
    let step = roi.size / out as f32;
    let half = roi.size * 0.5;
    let (s, c) = roi.angle.sin_cos();
    let raw = img.as_raw();
    let (wmax, hmax) = ((w - 1) as f32, (h - 1) as f32);
    for v in 0..out {
        let ly = v as f32 * step - half;
        for u in 0..out {
            let su = if flip { out - 1 - u } else { u };
            let lx = su as f32 * step - half;
            let sx = (roi.center[0] + c * lx - s * ly).clamp(0.0, wmax);
            let sy = (roi.center[1] + s * lx + c * ly).clamp(0.0, hmax);
            let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
            let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
            let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
            let px = |x: usize, y: usize, ch: usize| raw[(y * w + x) * 3 + ch] as f32;
            for ch in 0..3 {
                let top = px(x0, y0, ch) * (1.0 - fx) + px(x1, y0, ch) * fx;
                let bot = px(x0, y1, ch) * (1.0 - fx) + px(x1, y1, ch) * fx;
                dst[v * out + u + ch * plane] = (top * (1.0 - fy) + bot * fy) * (1.0 / 255.0);
            }
        }
    }
    dst
}

#[test]
fn model_prep_warp_roi_matches_per_pixel_formula() {
    let mut g = Lcg(7);
    let mut worst = 0f32;
    let mut cases = 0;
    for (w, h) in [(97u32, 61u32), (640, 360), (1, 1), (1, 9), (13, 1)] {
        let img = noise_image(w, h, w as u64 * 31 + h as u64);
        for i in 0..40 {
            // centres up to 40% of the frame outside it, so many crops hang off an edge
            let roi = Roi {
                center: [g.range(-0.4, 1.4) * w as f32, g.range(-0.4, 1.4) * h as f32],
                size: g.range(2.0, 1.5 * w.max(h) as f32 + 10.0),
                angle: g.range(-std::f32::consts::PI, std::f32::consts::PI),
            };
            let out = [192, 64, 7][i % 3];
            let flip = i % 2 == 1;
            let want = warp_reference(&img, &roi, out, flip);
            let mut got = vec![-1.0; 5]; // appends after what is there
            warp_roi(&img, &roi, out, flip, &mut got);
            assert_eq!(got.len(), 5 + want.len());
            assert!(got[..5].iter().all(|&v| v == -1.0), "the existing values are kept");
            let d = got[5..].iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(d <= 1e-6, "{w}x{h} {roi:?} out {out} flip {flip}: max diff {d}");
            worst = worst.max(d);
            cases += 1;
        }
    }
    eprintln!("warp_roi vs the per-pixel formula: {cases} crops, max abs diff {worst:e}");
}

#[test]
fn model_prep_letterbox_planes_equal_the_canvas() {
    // downscales (16:9, 4:3, portrait), the identity, upscales, one-pixel pictures
    let sizes = [(640u32, 360u32), (451, 300), (300, 451), (416, 416), (100, 40), (3, 417), (1, 1), (1, 7), (1280, 720)];
    for (i, &(w, h)) in sizes.iter().enumerate() {
        let img = noise_image(w, h, i as u64 + 1);
        for (placement, fill) in [(Placement::TopLeft, PAD_VALUE), (Placement::Centre, 0)] {
            let lb = Letterbox::placed(w, h, 416, placement);
            // YOLOX's shallow canvas (a multiple of 32) and the square one
            for (cw, ch) in [(416, lb.inner_height.div_ceil(32) * 32), (416, 416)] {
                if (lb.pad_y as u32) + lb.inner_height > ch {
                    continue; // a centred picture needs the square canvas
                }
                let mut want = vec![9.0];
                to_bgr_planes(&letterbox_on(&img, &lb, cw, ch, fill), &mut want);
                let mut got = vec![9.0];
                letterbox_bgr_planes(&img, &lb, cw, ch, fill, &mut got);
                assert_eq!(got.len(), want.len(), "{w}x{h} on {cw}x{ch}");
                let bad = got.iter().zip(&want).filter(|(a, b)| a != b).count();
                assert_eq!(bad, 0, "{w}x{h} {placement:?} on {cw}x{ch}: {bad} values differ");
            }
        }
    }
}

#[test]
fn model_prep_yunet_planes_hold_the_picture_then_zeros() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(root.join("models/yunet_n.safetensors")).unwrap();
    let det = YuNetDetector::from_bytes(&bytes, &candle_core::Device::Cpu).unwrap();
    let img = noise_image(37, 70, 3);
    let p = det.prepare(&img).unwrap();
    assert_eq!((p.pad_w, p.pad_h), (64, 96));
    let plane = p.pad_w * p.pad_h;
    assert_eq!(p.data.len(), 3 * plane);
    for y in 0..p.pad_h {
        for x in 0..p.pad_w {
            let want = if x < 37 && y < 70 {
                let px = img.get_pixel(x as u32, y as u32).0;
                [px[2] as f32, px[1] as f32, px[0] as f32]
            } else {
                [0.0; 3]
            };
            let got = [0, 1, 2].map(|c| p.data[c * plane + y * p.pad_w + x]);
            assert_eq!(got, want, "({x}, {y})");
        }
    }
}
