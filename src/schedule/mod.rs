//! When the detectors run (`analysis.schedule`): on a clock, or where the
//! picture changed.
//!
//! The measure of change is cheap: each analysed frame is reduced to a grey
//! thumbnail of 32 cells on its long side (the mean luma of each cell), and a
//! region of the picture has changed when one of its cells differs from the
//! same cell of the frame where the detector last ran by more than
//! `analysis.change_level` grey levels. A picture moved by a few pixels (a
//! candidate swaying, a camera's jitter) has not changed: each cell is
//! compared with the same cell of the earlier frame moved by up to
//! [`shift_of`] pixels either way, and the closest counts. The regions are the
//! heads of the tracked faces (each face box widened for the hair, the ears
//! and the neck: [`head_zone`]), the shoulders and chest under each
//! ([`body_zone`]) and the rest of the frame: the face detector and the object
//! detector look for what is new, so they run when the rest changed, and the
//! face mesh follows the heads themselves on every frame. A candidate talking
//! moves the head, and the shoulders with it: the heads are left out, and a
//! cell of the shoulders counts only when it differs from every cell of the
//! earlier frame up to [`WIDE`] shifts around it (a hand or a phone coming up
//! in front of the chest is new there too). What the mesh cannot explain (a
//! face lost by tracking, a face more or fewer) wakes the detectors by itself
//! (`analyze::segments`).

mod plan;

pub use plan::{Before, Plan};

use image::RgbImage;

/// Cells on the thumbnail's long side.
pub const CELLS: u32 = 32;

/// How far a face box is widened into the head left out of "the rest of
/// the frame" ([`head_zone`]), as fractions of its width (each side) and its
/// height (above, below): the hair and the ears move with the face.
pub const HEAD_SIDE: f32 = 0.25;
pub const HEAD_ABOVE: f32 = 0.6;
pub const HEAD_BELOW: f32 = 0.25;

/// The neck and the collar under a face, also left out ([`head_zone`]): this
/// many face widths either side of its centre, this many face heights below
/// its box. Narrower than the face: on a close-up the sides of the chin are
/// where a phone held up shows (the devset's E08 lost its phone when the
/// whole width of the head went down to the collar).
pub const NECK_SIDE: f32 = 0.5;
pub const NECK_BELOW: f32 = 0.6;

/// The shoulders and chest under a face ([`body_zone`]): this many face
/// widths either side of its centre, this many face heights below its box.
pub const BODY_SIDE: f32 = 1.5;
pub const BODY_BELOW: f32 = 1.5;

/// How far (pixels) a picture may move and not count as changed: 4 pixels
/// on a 640-pixel long side (the default `analysis.max_side`), in proportion
/// on others.
pub fn shift_of(width: u32, height: u32) -> u32 {
    (width.max(height) as f32 / 160.0).round().max(1.0) as u32
}

/// The grey thumbnail of one frame: mean luma (BT.601) per cell, row by row,
/// of the frame as it is and moved by [`shift_of`] pixels in each of the
/// eight directions.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumb {
    pub cols: u32,
    pub rows: u32,
    /// Width and height of the frame it was taken from.
    pub width: u32,
    pub height: u32,
    /// Nine thumbnails: the frame moved by (dx, dy) in {-s, 0, s}², row by
    /// row of the offsets; `moved[4]` is the frame as it is.
    pub moved: Vec<Vec<f32>>,
    /// Of a frame as it is ([`Thumb::of_wide`]), the forty thumbnails
    /// further out, moved by up to [`WIDE`] times `s` either way (for
    /// [`Thumb::change_since_wide`]); empty otherwise.
    pub wide: Vec<Vec<f32>>,
}

/// How many shifts (`s` pixels each, [`shift_of`]) a picture may move and
/// still not count as changed where nothing says which way the candidate
/// moved ([`Thumb::change_since_wide`]).
pub const WIDE: i64 = 3;

impl Thumb {
    /// The thumbnail of `img`.
    pub fn of(img: &RgbImage) -> Thumb {
        Sums::of(img).thumb(0, 0, false)
    }

    /// [`Thumb::of`] with the [`WIDE`] variants too, for
    /// [`Thumb::change_since_wide`] (made only where needed: they cost
    /// several times the nine).
    pub fn of_wide(img: &RgbImage) -> Thumb {
        Sums::of(img).thumb(0, 0, true)
    }

    /// The thumbnail of `img` moved by (`dx`, `dy`) pixels (each cell the mean
    /// of the window that far from it), and by [`shift_of`] pixels either way
    /// around that: the earlier picture as it would be had everything in it
    /// moved with the candidate (see [`Thumb::change_since_any`]).
    pub fn moved_by(img: &RgbImage, dx: i64, dy: i64) -> Thumb {
        Sums::of(img).thumb(dx, dy, false)
    }

    /// How much this frame changed since `earlier` outside the heads of the
    /// faces `left_out` (pixel boxes `[x0, y0, x1, y1]`, each widened into
    /// [`head_zone`]; a cell is left out when its centre is inside one):
    /// the largest difference (grey levels) of a cell from the closest of
    /// the same cell in `earlier` and in `earlier` moved a little. Frames of
    /// different sizes differ everywhere (`f32::INFINITY`).
    pub fn change_since(&self, earlier: &Thumb, left_out: &[[f32; 4]]) -> f32 {
        self.change_since_any(&[earlier], left_out)
    }

    /// [`Thumb::change_since`] against the closest of several earlier
    /// thumbnails, cell by cell: the earlier frame as it was and as it would
    /// be moved with the candidate ([`Thumb::moved_by`] the face's
    /// displacement), so that a candidate swaying with the chair, the body
    /// and the hair following the face, is not a change, while the still
    /// background is compared where it was and anything new changes both.
    pub fn change_since_any(&self, earlier: &[&Thumb], left_out: &[[f32; 4]]) -> f32 {
        self.change_against(earlier, left_out, Far::Nowhere)
    }

    /// [`Thumb::change_since`] with `earlier` ([`Thumb::of_wide`]) moved by up
    /// to [`WIDE`] shifts either way, cell by cell: for frames whose faces nobody looked at (the
    /// samples before a segment), where a candidate's sway cannot be told
    /// from the face's displacement. Something new still differs from every
    /// nearby cell of the earlier frame.
    pub fn change_since_wide(&self, earlier: &Thumb, left_out: &[[f32; 4]]) -> f32 {
        self.change_against(&[earlier], left_out, Far::Everywhere)
    }

    fn change_against(&self, earlier: &[&Thumb], faces: &[[f32; 4]], far: Far) -> f32 {
        let same = |e: &Thumb| (self.cols, self.rows, self.width, self.height) == (e.cols, e.rows, e.width, e.height);
        if earlier.is_empty() || !earlier.iter().all(|e| same(e)) {
            return f32::INFINITY;
        }
        let heads: Vec<[f32; 4]> = faces.iter().flat_map(|b| head_zone(*b)).collect();
        let bodies: Vec<[f32; 4]> = faces.iter().map(|b| body_zone(*b)).collect();
        let inside = |zones: &[[f32; 4]], x: f32, y: f32| zones.iter().any(|b| x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3]);
        let (cw, ch) = (self.width as f32 / self.cols as f32, self.height as f32 / self.rows as f32);
        let now = &self.moved[4];
        let mut most = 0.0f32;
        for r in 0..self.rows {
            let cy = (r as f32 + 0.5) * ch;
            for c in 0..self.cols {
                let cx = (c as f32 + 0.5) * cw;
                if inside(&heads, cx, cy) {
                    continue;
                }
                let far = match far {
                    Far::Nowhere => false,
                    Far::Body => inside(&bodies, cx, cy),
                    Far::Everywhere => true,
                };
                let i = (r * self.cols + c) as usize;
                let closest = earlier
                    .iter()
                    .flat_map(|e| e.moved.iter().chain(e.wide.iter().filter(|_| far)))
                    .map(|m| (now[i] - m[i]).abs())
                    .fold(f32::INFINITY, f32::min);
                most = most.max(closest);
            }
        }
        most
    }
}

/// The summed-area table of a picture's grey levels (BT.601): any window's
/// sum in four look-ups. Every thumbnail of a picture ([`Thumb::of`],
/// [`Thumb::of_wide`], [`Thumb::moved_by`]) is read from it, so a picture
/// wanted several ways is summed once.
struct Sums {
    width: u32,
    height: u32,
    stride: usize,
    sat: Vec<u64>,
}

impl Sums {
    fn of(img: &RgbImage) -> Sums {
        let (w, h) = img.dimensions();
        let stride = w as usize + 1;
        let mut sat = vec![0u64; stride * (h as usize + 1)];
        let raw = img.as_raw();
        for y in 0..h as usize {
            let mut run = 0u64;
            let line = &raw[y * w as usize * 3..(y + 1) * w as usize * 3];
            for (x, px) in line.chunks_exact(3).enumerate() {
                run += ((77 * px[0] as u32 + 150 * px[1] as u32 + 29 * px[2] as u32) >> 8) as u64;
                sat[(y + 1) * stride + x + 1] = sat[y * stride + x + 1] + run;
            }
        }
        Sums { width: w, height: h, stride, sat }
    }

    /// The picture's thumbnail moved by (`dx`, `dy`) pixels, and by
    /// [`shift_of`] pixels either way around that; with the [`WIDE`]
    /// variants when `wide`.
    fn thumb(&self, dx: i64, dy: i64, wide: bool) -> Thumb {
        let Sums { width: w, height: h, stride, ref sat } = *self;
        let (cols, rows) = if w >= h {
            (CELLS.min(w.max(1)), ((CELLS as f64 * h as f64 / w.max(1) as f64).round() as u32).clamp(1, h.max(1)))
        } else {
            (((CELLS as f64 * w as f64 / h.max(1) as f64).round() as u32).clamp(1, w.max(1)), CELLS.min(h))
        };
        // a cell's window moved by (dx, dy), kept inside the picture
        let mean = |x0: i64, y0: i64, x1: i64, y1: i64, dx: i64, dy: i64| -> f32 {
            let dx = dx.clamp(-x0, w as i64 - x1);
            let dy = dy.clamp(-y0, h as i64 - y1);
            let (x0, x1, y0, y1) = ((x0 + dx) as usize, (x1 + dx) as usize, (y0 + dy) as usize, (y1 + dy) as usize);
            if x1 <= x0 || y1 <= y0 {
                return 0.0;
            }
            let sum = sat[y1 * stride + x1] + sat[y0 * stride + x0] - sat[y0 * stride + x1] - sat[y1 * stride + x0];
            sum as f32 / ((x1 - x0) * (y1 - y0)) as f32
        };
        let s = shift_of(w, h) as i64;
        let at = |ox: i64, oy: i64| {
            let (dx, dy) = (dx + ox * s, dy + oy * s);
            let mut cells = Vec::with_capacity((cols * rows) as usize);
            for r in 0..rows as i64 {
                let (y0, y1) = (r * h as i64 / rows as i64, (r + 1) * h as i64 / rows as i64);
                for c in 0..cols as i64 {
                    let (x0, x1) = (c * w as i64 / cols as i64, (c + 1) * w as i64 / cols as i64);
                    cells.push(mean(x0, y0, x1, y1, dx, dy));
                }
            }
            cells
        };
        let moved = [-1, 0, 1].iter().flat_map(|&oy| [-1, 0, 1].map(|ox| at(ox, oy))).collect();
        let wide = match wide {
            true => (-WIDE..=WIDE)
                .flat_map(|oy| (-WIDE..=WIDE).map(move |ox| (ox, oy)))
                .filter(|(ox, oy)| ox.abs() > 1 || oy.abs() > 1)
                .map(|(ox, oy)| at(ox, oy))
                .collect(),
            false => Vec::new(),
        };
        Thumb { cols, rows, width: w, height: h, moved, wide }
    }

}

/// Where [`Thumb::change_against`] tolerates a move of up to [`WIDE`] shifts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Far {
    Nowhere,
    /// Below each face ([`body_zone`]).
    Body,
    Everywhere,
}

/// The part of the picture a face's own head moves, as two boxes: its box
/// `[x0, y0, x1, y1]` widened by [`HEAD_SIDE`], [`HEAD_ABOVE`] and
/// [`HEAD_BELOW`], and the neck under it ([`NECK_SIDE`], [`NECK_BELOW`]).
pub fn head_zone(b: [f32; 4]) -> [[f32; 4]; 2] {
    let (w, h) = (b[2] - b[0], b[3] - b[1]);
    let cx = (b[0] + b[2]) / 2.0;
    [
        [b[0] - w * HEAD_SIDE, b[1] - h * HEAD_ABOVE, b[2] + w * HEAD_SIDE, b[3] + h * HEAD_BELOW],
        [cx - w * NECK_SIDE, b[3], cx + w * NECK_SIDE, b[3] + h * NECK_BELOW],
    ]
}

/// The shoulders and chest under a face's box: [`BODY_SIDE`] face widths
/// either side of its centre, from its bottom edge down [`BODY_BELOW`] face
/// heights.
pub fn body_zone(b: [f32; 4]) -> [f32; 4] {
    let (w, h) = (b[2] - b[0], b[3] - b[1]);
    let cx = (b[0] + b[2]) / 2.0;
    [cx - w * BODY_SIDE, b[3], cx + w * BODY_SIDE, b[3] + h * BODY_BELOW]
}

/// How much `now` changed since `earlier` (the thumbnails of two frames,
/// `earlier_img` the earlier picture) outside the heads of both frames'
/// faces (`earlier_faces`, `now_faces`: pixel boxes, see [`head_zone`]). A
/// change over `level` against the earlier frame as it was is looked at
/// again with the shoulders under each face ([`body_zone`]) compared with the
/// earlier frame moved up to [`WIDE`] shifts, and everything also against the
/// earlier frame moved with the largest face, when that face moved further
/// than [`shift_of`] (and less than a quarter of the picture): what still
/// differs is new.
pub fn change_with_face(
    now: &Thumb,
    earlier: &Thumb,
    earlier_img: &RgbImage,
    earlier_faces: &[[f32; 4]],
    now_faces: &[[f32; 4]],
    level: f32,
) -> f32 {
    let left_out: Vec<[f32; 4]> = earlier_faces.iter().chain(now_faces).copied().collect();
    let plain = now.change_since(earlier, &left_out);
    let (Some(a), Some(b)) = (largest(earlier_faces), largest(now_faces)) else { return plain };
    if plain <= level {
        return plain;
    }
    let centre = |b: [f32; 4]| ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    let (dx, dy) = (centre(b).0 - centre(a).0, centre(b).1 - centre(a).1);
    let (w, h) = (earlier.width as f32, earlier.height as f32);
    let s = shift_of(earlier.width, earlier.height) as f32;
    // the earlier picture summed once for both of its thumbnails below
    let sums = Sums::of(earlier_img);
    let wide = sums.thumb(0, 0, true);
    if (dx.abs() <= s && dy.abs() <= s) || dx.abs() > w / 4.0 || dy.abs() > h / 4.0 {
        return now.change_against(&[&wide], &left_out, Far::Body);
    }
    let along = sums.thumb(-dx.round() as i64, -dy.round() as i64, false);
    now.change_against(&[&wide, &along], &left_out, Far::Body)
}

/// The largest of some boxes `[x0, y0, x1, y1]`.
fn largest(boxes: &[[f32; 4]]) -> Option<[f32; 4]> {
    boxes.iter().copied().max_by(|a, b| ((a[2] - a[0]) * (a[3] - a[1])).total_cmp(&((b[2] - b[0]) * (b[3] - b[1]))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(w: u32, h: u32, v: u8) -> RgbImage {
        RgbImage::from_pixel(w, h, image::Rgb([v, v, v]))
    }

    #[test]
    fn a_thumbnail_has_32_cells_on_the_long_side() {
        let t = Thumb::of(&flat(640, 360, 100));
        assert_eq!((t.cols, t.rows), (32, 18));
        assert_eq!(t.moved.len(), 9);
        assert!(t.moved[4].iter().all(|c| (*c - 99.0).abs() < 1.5), "{:?}", &t.moved[4][..4]);
        let t = Thumb::of(&flat(360, 640, 100));
        assert_eq!((t.cols, t.rows), (18, 32));
    }

    /// A grey room with a bright "person" (a block whose top is the face)
    /// at `x`, and a brighter square at (50, 50) when `phone`.
    fn room(x: u32, phone: bool) -> RgbImage {
        let mut img = flat(640, 360, 60);
        for y in 100..300 {
            for px in x..x + 120 {
                img.put_pixel(px, y, image::Rgb([200, 200, 200]));
            }
        }
        if phone {
            for y in 50..90 {
                for px in 50..90 {
                    img.put_pixel(px, y, image::Rgb([250, 250, 250]));
                }
            }
        }
        img
    }

    #[test]
    fn a_candidate_swaying_is_not_a_change_and_something_new_still_is() {
        let face = |x: u32| [x as f32 + 30.0, 100.0, x as f32 + 90.0, 160.0];
        let (before, after) = (room(260, false), room(272, false));
        let (tb, ta) = (Thumb::of(&before), Thumb::of(&after));
        let boxes = [face(260), face(272)];
        // the body moved 12 pixels with the face: a change against the picture as it was
        assert!(ta.change_since(&tb, &boxes) > 20.0, "{}", ta.change_since(&tb, &boxes));
        let (was, is) = (&[face(260)], &[face(272)]);
        // and none against the picture moved with the face
        let swayed = change_with_face(&ta, &tb, &before, was, is, 20.0);
        assert!(swayed <= 20.0, "{swayed}");
        // without a face in both frames there is nothing to move with
        assert!(change_with_face(&ta, &tb, &before, was, &[], 20.0) > 20.0);
        // a phone raised while the candidate sways changes both
        let tp = Thumb::of(&room(272, true));
        let raised = change_with_face(&tp, &tb, &before, was, is, 20.0);
        assert!(raised > 100.0, "{raised}");
        assert_eq!(largest(&[[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 30.0, 5.0]]), Some([0.0, 0.0, 30.0, 5.0]));
    }

    #[test]
    fn a_change_counts_outside_the_faces_only() {
        let a = flat(640, 360, 100);
        let mut b = a.clone();
        // a bright square in the top left corner
        for y in 0..40 {
            for x in 0..40 {
                b.put_pixel(x, y, image::Rgb([250, 250, 250]));
            }
        }
        let (ta, tb) = (Thumb::of(&a), Thumb::of(&b));
        assert_eq!(ta.change_since(&ta, &[]), 0.0);
        assert!(tb.change_since(&ta, &[]) > 100.0);
        // the same square inside a (widened) face box is not a change of the rest
        assert_eq!(tb.change_since(&ta, &[[10.0, 10.0, 40.0, 40.0]]), 0.0);
        // a face elsewhere leaves it counted
        assert!(tb.change_since(&ta, &[[300.0, 100.0, 400.0, 200.0]]) > 100.0);
        // a square moved by 3 pixels is not a change at the default level (20);
        // moved by 40 it is
        let square = |x0: u32, y0: u32| {
            let mut c = a.clone();
            for y in y0..y0 + 40 {
                for x in x0..x0 + 40 {
                    c.put_pixel(x, y, image::Rgb([250, 250, 250]));
                }
            }
            Thumb::of(&c)
        };
        let here = square(100, 100);
        assert!(square(103, 97).change_since(&here, &[]) < 20.0, "{}", square(103, 97).change_since(&here, &[]));
        assert!(square(140, 100).change_since(&here, &[]) > 100.0);
        // a frame of another size is all change
        assert_eq!(Thumb::of(&flat(320, 180, 100)).change_since(&ta, &[]), f32::INFINITY);
    }

    /// A talking head at 640x360: a face box at (280..360, 100..200) on a
    /// dark wall, hair above it, a collar under it and shoulders `shoulder`
    /// pixels to the right of where they were; a bright 30 px square (a
    /// phone) at `phone` when given.
    fn talker(hair: u32, collar: u32, shoulder: i32, phone: Option<(u32, u32)>) -> RgbImage {
        let mut img = flat(640, 360, 40);
        let mut fill = |x0: i32, y0: i32, x1: i32, y1: i32, v: u8| {
            for y in y0.max(0)..y1.min(360) {
                for x in x0.max(0)..x1.min(640) {
                    img.put_pixel(x as u32, y as u32, image::Rgb([v, v, v]));
                }
            }
        };
        fill(220 + shoulder, 260, 420 + shoulder, 360, 160); // shoulders and chest
        fill(280, 100, 360, 200, 180); // the face
        fill(270, 100 - hair as i32, 370, 100, 120); // hair, taller as the head nods
        fill(300, 200, 340, 200 + collar as i32, 230); // the collar, as the chin lifts
        if let Some((x, y)) = phone {
            fill(x as i32, y as i32, x as i32 + 30, y as i32 + 30, 250);
        }
        img
    }

    #[test]
    fn a_talking_heads_hair_collar_and_shoulders_are_not_a_change_and_a_phone_is() {
        let face = [280.0, 100.0, 360.0, 200.0];
        let before = talker(20, 30, 0, None);
        let tb = Thumb::of(&before);
        let change = |now: &RgbImage| change_with_face(&Thumb::of(now), &tb, &before, &[face], &[face], 20.0);
        // hair grown by 40 px above the face, the collar by 25 px under it, the shoulders
        // moved 10 px: around the face box alone each is a change
        for (what, now) in [("hair", talker(60, 30, 0, None)), ("collar", talker(20, 55, 0, None)), ("shoulders", talker(20, 30, 10, None))] {
            let around_the_box = Thumb::of(&now).change_since_any(&[&tb], &[]);
            assert!(around_the_box > 20.0, "{what}: {around_the_box}");
            assert!(change(&now) <= 20.0, "{what}: {}", change(&now));
        }
        // a phone in front of the chest, beside the head or in the room is
        for at in [(305, 300), (420, 120), (40, 40)] {
            let now = talker(20, 30, 10, Some(at));
            assert!(change(&now) > 40.0, "a phone at {at:?}: {}", change(&now));
        }
        // the zones
        let near = |a: [f32; 4], b: [f32; 4]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-3);
        let [head, neck] = head_zone(face);
        assert!(near(head, [260.0, 40.0, 380.0, 225.0]), "{head:?}");
        assert!(near(neck, [280.0, 200.0, 360.0, 260.0]), "{neck:?}");
        assert!(near(body_zone(face), [200.0, 200.0, 440.0, 350.0]), "{:?}", body_zone(face));
    }
}
