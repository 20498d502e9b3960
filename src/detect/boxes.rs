//! Boxes: the box type every detector reports and the helpers on it (area,
//! overlap, intersection over union, greedy non-maximum suppression), written
//! once for the face and object detectors and for the stages after them.

/// An axis-aligned box `[x0, y0, x1, y1]` in pixels (x right, y down).
pub type BBox = [f32; 4];

/// A detection the suppression can rank and compare: a score and a box.
pub trait Scored {
    fn score(&self) -> f32;
    fn bbox(&self) -> &BBox;
}

/// Area of a box; 0 for an empty or inverted one.
pub fn area(b: &BBox) -> f32 {
    (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0)
}

/// Width and height of the overlap of two boxes; either is 0 or less when
/// they do not overlap.
pub fn overlap(a: &BBox, b: &BBox) -> (f32, f32) {
    (a[2].min(b[2]) - a[0].max(b[0]), a[3].min(b[3]) - a[1].max(b[1]))
}

/// Intersection over union of two boxes, as mediapipe and OpenCV compute it:
/// 0 when they do not overlap (or the union is empty).
pub fn iou(a: &BBox, b: &BBox) -> f32 {
    let (iw, ih) = overlap(a, b);
    if iw <= 0.0 || ih <= 0.0 {
        return 0.0;
    }
    // both boxes have a positive width and height here
    let inter = iw * ih;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// Greedy non-maximum suppression: best score first (a stable sort, so ties
/// keep their order), and an item is dropped when its IoU with an item already
/// kept is above `iou_threshold`. Sorted by score, descending.
pub fn nms<T: Scored>(items: Vec<T>, iou_threshold: f32) -> Vec<T> {
    nms_by(items, iou_threshold, |_, _| true)
}

/// [`nms`] where only items that `compete` suppress each other (for example,
/// boxes of the same class).
pub fn nms_by<T: Scored>(mut items: Vec<T>, iou_threshold: f32, compete: impl Fn(&T, &T) -> bool) -> Vec<T> {
    items.sort_by(|a, b| b.score().total_cmp(&a.score()));
    let mut kept: Vec<T> = Vec::new();
    for d in items {
        if kept.iter().all(|k| !compete(k, &d) || iou(k.bbox(), d.bbox()) <= iou_threshold) {
            kept.push(d);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    struct D(f32, BBox, u8);

    impl Scored for D {
        fn score(&self) -> f32 {
            self.0
        }
        fn bbox(&self) -> &BBox {
            &self.1
        }
    }

    #[test]
    fn iou_of_overlapping_disjoint_and_degenerate_boxes() {
        let a = [0.0, 0.0, 10.0, 10.0];
        assert_eq!(iou(&a, &a), 1.0);
        // half of a overlaps b of the same size: 50 / 150
        assert!((iou(&a, &[5.0, 0.0, 15.0, 10.0]) - 1.0 / 3.0).abs() < 1e-6);
        // touching edges and disjoint boxes do not overlap
        assert_eq!(iou(&a, &[10.0, 0.0, 20.0, 10.0]), 0.0);
        assert_eq!(iou(&a, &[20.0, 20.0, 30.0, 30.0]), 0.0);
        // an inverted or empty box overlaps nothing
        assert_eq!(iou(&a, &[8.0, 8.0, 2.0, 2.0]), 0.0);
        assert_eq!(iou(&[5.0, 5.0, 5.0, 5.0], &a), 0.0);
        assert_eq!(area(&[8.0, 8.0, 2.0, 2.0]), 0.0);
        assert_eq!(area(&a), 100.0);
        assert_eq!(overlap(&a, &[5.0, 2.0, 15.0, 4.0]), (5.0, 2.0));
    }

    #[test]
    fn nms_keeps_the_best_of_each_overlap_and_only_competitors_suppress() {
        let a = D(0.9, [0.0, 0.0, 10.0, 10.0], 0);
        let b = D(0.8, [1.0, 0.0, 11.0, 10.0], 0); // IoU 0.82 with a
        let c = D(0.7, [1.0, 0.0, 11.0, 10.0], 1); // the same box, another class
        let d = D(0.95, [50.0, 50.0, 60.0, 60.0], 0);
        assert_eq!(nms(vec![c, b, a, d], 0.5), vec![d, a]);
        assert_eq!(nms_by(vec![c, b, a, d], 0.5, |x, y| x.2 == y.2), vec![d, a, c]);
        // a threshold above the overlap keeps every box; equal scores keep their order
        assert_eq!(nms(vec![b, a], 0.9), vec![a, b]);
        let e = D(0.8, [30.0, 0.0, 40.0, 10.0], 0);
        assert_eq!(nms(vec![e, b], 0.5), vec![e, b]);
        assert!(nms(Vec::<D>::new(), 0.5).is_empty());
    }
}
