//! The letterbox: a picture resized to fit a model's canvas with its aspect ratio kept,
//! placed at the top-left or the centre, and the rest filled with one value
//! ([`Letterbox`] keeps the transform and maps boxes back). The resize is an antialiased
//! bilinear (a triangle filter widened by the downscale factor), written once as a u8
//! canvas ([`letterbox_on`], [`letterbox_with`]) and once straight into the CHW BGR f32
//! planes YOLOX reads ([`letterbox_bgr_planes`]), equal value for value
//! (`tests/model_prep.rs`).

use image::RgbImage;

use super::simd::wide_fn;

/// Where an image went inside the square model input: `canvas = original * scale + pad`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub scale_x: f32,
    pub scale_y: f32,
    pub pad_x: f32,
    pub pad_y: f32,
    /// Resized image size inside the canvas.
    pub inner_width: u32,
    pub inner_height: u32,
    /// Original image size.
    pub width: u32,
    pub height: u32,
}

/// Where the resized picture sits on the square canvas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Centred.
    Centre,
    /// At the top-left corner, padding on the right and bottom (YOLOX's `preproc`).
    TopLeft,
}

impl Letterbox {
    pub fn placed(width: u32, height: u32, size: u32, placement: Placement) -> Self {
        let (w, h, s) = (width as f64, height as f64, size as f64);
        let scale = (s / w).min(s / h);
        let inner_width = ((w * scale + 0.5).floor() as u32).clamp(1, size);
        let inner_height = ((h * scale + 0.5).floor() as u32).clamp(1, size);
        let (pad_x, pad_y) = match placement {
            Placement::Centre => ((size - inner_width) / 2, (size - inner_height) / 2),
            Placement::TopLeft => (0, 0),
        };
        Self {
            scale_x: (inner_width as f64 / w) as f32,
            scale_y: (inner_height as f64 / h) as f32,
            pad_x: pad_x as f32,
            pad_y: pad_y as f32,
            inner_width,
            inner_height,
            width,
            height,
        }
    }

    /// Canvas box -> original-image box, clamped to the image.
    pub fn to_original(&self, b: [f32; 4]) -> [f32; 4] {
        let (w, h) = (self.width as f32, self.height as f32);
        [
            ((b[0] - self.pad_x) / self.scale_x).clamp(0.0, w),
            ((b[1] - self.pad_y) / self.scale_y).clamp(0.0, h),
            ((b[2] - self.pad_x) / self.scale_x).clamp(0.0, w),
            ((b[3] - self.pad_y) / self.scale_y).clamp(0.0, h),
        ]
    }
}

/// Taps of a triangle filter widened by the downscale factor (antialiased bilinear), per
/// output pixel: (first source index, normalised weights).
fn resize_taps(src: u32, dst: u32) -> Vec<(usize, Vec<f32>)> {
    let scale = src as f64 / dst as f64;
    let support = scale.max(1.0);
    (0..dst)
        .map(|i| {
            let centre = (i as f64 + 0.5) * scale;
            let lo = ((centre - support).floor().max(0.0)) as usize;
            let hi = ((centre + support).ceil() as usize).min(src as usize);
            let ws: Vec<f32> = (lo..hi)
                .map(|j| (1.0 - ((j as f64 + 0.5 - centre) / support).abs()).max(0.0) as f32)
                .collect();
            let sum: f32 = ws.iter().sum();
            (lo, ws.into_iter().map(|v| v / sum).collect())
        })
        .collect()
}

/// Resizes `img` to `nw` x `nh` (horizontal pass, then vertical) and writes it, rounded to
/// u8, into the HWC RGB `canvas` of width `canvas_w` at (`ox`, `oy`).
fn resize_into(
    img: &RgbImage,
    nw: u32,
    nh: u32,
    canvas: &mut [u8],
    canvas_w: usize,
    ox: usize,
    oy: usize,
) {
    let (w, h) = img.dimensions();
    let src = img.as_raw();
    let htaps = resize_taps(w, nw);
    let vtaps = resize_taps(h, nh);
    let nw = nw as usize;
    let mut tmp = vec![0f32; h as usize * nw * 3];
    for y in 0..h as usize {
        let row = &src[y * w as usize * 3..(y + 1) * w as usize * 3];
        for (x, (lo, ws)) in htaps.iter().enumerate() {
            let mut acc = [0f32; 3];
            for (k, &wt) in ws.iter().enumerate() {
                let p = &row[(lo + k) * 3..(lo + k) * 3 + 3];
                acc[0] += wt * p[0] as f32;
                acc[1] += wt * p[1] as f32;
                acc[2] += wt * p[2] as f32;
            }
            tmp[(y * nw + x) * 3..(y * nw + x) * 3 + 3].copy_from_slice(&acc);
        }
    }
    for (y, (lo, ws)) in vtaps.iter().enumerate() {
        let out = &mut canvas[((oy + y) * canvas_w + ox) * 3..((oy + y) * canvas_w + ox + nw) * 3];
        for x in 0..nw * 3 {
            let mut acc = 0f32;
            for (k, &wt) in ws.iter().enumerate() {
                acc += wt * tmp[(lo + k) * nw * 3 + x];
            }
            out[x] = (acc + 0.5).floor().clamp(0.0, 255.0) as u8;
        }
    }
}

/// Letterboxes `img` into a `size` x `size` HWC RGB canvas filled with `fill` around it.
pub fn letterbox_with(
    img: &RgbImage,
    size: u32,
    placement: Placement,
    fill: u8,
) -> (Vec<u8>, Letterbox) {
    let lb = Letterbox::placed(img.width(), img.height(), size, placement);
    (letterbox_on(img, &lb, size, size, fill), lb)
}

/// `img` resized as `lb` says onto a `canvas_w` x `canvas_h` canvas filled with `fill`
/// (which must hold `lb`'s padded picture).
pub fn letterbox_on(img: &RgbImage, lb: &Letterbox, canvas_w: u32, canvas_h: u32, fill: u8) -> Vec<u8> {
    let mut canvas = vec![fill; (canvas_w * canvas_h * 3) as usize];
    resize_into(img, lb.inner_width, lb.inner_height, &mut canvas, canvas_w as usize, lb.pad_x as usize, lb.pad_y as usize);
    canvas
}

/// [`resize_taps`] at a fixed `k` taps per output pixel: output `i` reads source pixels
/// `lo[i]..lo[i] + k` with weights `w[i * k..(i + 1) * k]`. The taps are zero-padded
/// (before or after, so that they stay inside the source); a zero weight adds exactly
/// nothing to a sum of non-negative terms, so the sums equal the unpadded ones.
struct FlatTaps {
    k: usize,
    lo: Vec<usize>,
    w: Vec<f32>,
}

fn flat_taps(src: u32, dst: u32) -> FlatTaps {
    let taps = resize_taps(src, dst);
    // every output has at least one tap and at most `src`
    let k = taps.iter().map(|(_, ws)| ws.len()).max().unwrap_or(1).max(1);
    let mut lo = Vec::with_capacity(taps.len());
    let mut w = vec![0f32; taps.len() * k];
    for (i, (l, ws)) in taps.iter().enumerate() {
        let start = (*l).min(src as usize - k);
        let off = i * k + l - start;
        w[off..off + ws.len()].copy_from_slice(ws);
        lo.push(start);
    }
    FlatTaps { k, lo, w }
}

/// [`letterbox_on`] followed by YOLOX's `to_bgr_planes`, in one pass less: `img` resized as
/// `lb` says onto a `canvas_w` x `canvas_h` canvas filled with `fill`, appended to `out` as
/// CHW **BGR** f32 planes whose values are the bytes `letterbox_on` writes (rounded the
/// same way, so the two are equal value for value). The horizontal pass goes into three
/// planes and the vertical one runs along whole rows (it vectorises), both compiled wide
/// when the CPU has AVX2 ([`wide_fn!`]).
pub fn letterbox_bgr_planes(img: &RgbImage, lb: &Letterbox, canvas_w: u32, canvas_h: u32, fill: u8, out: &mut Vec<f32>) {
    let (w, h) = img.dimensions();
    let (nw, nh) = (lb.inner_width as usize, lb.inner_height as usize);
    let (cw, plane) = (canvas_w as usize, (canvas_w * canvas_h) as usize);
    let (ox, oy) = (lb.pad_x as usize, lb.pad_y as usize);
    let ht = flat_taps(w, lb.inner_width);
    let vt = resize_taps(h, lb.inner_height);
    let hw = h as usize * nw;
    let mut tmp = [Vec::with_capacity(hw), Vec::with_capacity(hw), Vec::with_capacity(hw)];
    let [t_r, t_g, t_b] = &mut tmp;
    resize_rows(img.as_raw(), w as usize, ht.k, &ht.lo, &ht.w, t_r, t_g, t_b);
    let base = out.len();
    out.resize(base + 3 * plane, fill as f32);
    let planes = &mut out[base..];
    for (c, t) in [&tmp[2], &tmp[1], &tmp[0]].into_iter().enumerate() {
        let dst = &mut planes[c * plane..(c + 1) * plane];
        for (y, (lo, ws)) in vt.iter().enumerate() {
            let row = (oy + y) * cw + ox;
            resize_column(t, nw, *lo, ws, &mut dst[row..row + nw]);
        }
    }
    debug_assert!(oy + nh <= canvas_h as usize);
}

wide_fn! {
    /// The horizontal pass of [`letterbox_bgr_planes`]: every row of the HWC RGB `src`
    /// (`w` wide) resampled with the taps `(k, lo, wts)`, pushed channel by channel.
    #[allow(clippy::too_many_arguments)]
    fn resize_rows(src: &[u8], w: usize, k: usize, lo: &[usize], wts: &[f32], t_r: &mut Vec<f32>, t_g: &mut Vec<f32>, t_b: &mut Vec<f32>) {
        for row in src.chunks_exact(3 * w) {
            for (&l, ws) in lo.iter().zip(wts.chunks_exact(k)) {
                let px = &row[l * 3..(l + k) * 3];
                let (mut r, mut g, mut b) = (0f32, 0f32, 0f32);
                for (p, &wt) in px.chunks_exact(3).zip(ws) {
                    r += wt * p[0] as f32;
                    g += wt * p[1] as f32;
                    b += wt * p[2] as f32;
                }
                t_r.push(r);
                t_g.push(g);
                t_b.push(b);
            }
        }
    }
}

wide_fn! {
    /// The vertical pass of [`letterbox_bgr_planes`] for one output row of one channel:
    /// `dst[x] = round(Σ ws[j] · t[(lo + j) · nw + x])`, clamped to 0..=255 as a byte is.
    fn resize_column(t: &[f32], nw: usize, lo: usize, ws: &[f32], dst: &mut [f32]) {
        dst.fill(0.0);
        for (j, &wt) in ws.iter().enumerate() {
            let src = &t[(lo + j) * nw..(lo + j + 1) * nw];
            for (d, &v) in dst.iter_mut().zip(src) {
                *d += wt * v;
            }
        }
        for d in dst.iter_mut() {
            // floor of a value clamped to 0..=255 is its truncation (no libm call)
            *d = (*d + 0.5).clamp(0.0, 255.0) as i32 as f32;
        }
    }
}
