//! The schedule's policy: which frames of a segment each detector runs on
//! (its period, a change of the picture, the settle after a change), and the
//! look back a segment's worker needs to decide it as a single worker would.

use std::sync::Arc;

use crate::config::{Config, Schedule};
use super::Thumb;

/// A frame just before a segment, for its look back: its sample index and
/// picture.
#[derive(Clone)]
pub struct Before {
    pub index: usize,
    pub image: Arc<image::RgbImage>,
}

/// Which frames of a segment the detectors may run on.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub schedule: Schedule,
    /// Analysed frames per segment: the first frame of each runs every
    /// detector (the clock's period, or the floor of the schedule by changes).
    pub segment_len: usize,
    /// The face detector's frames: every `face_every`-th analysed frame.
    pub face_every: usize,
    /// The object detector's frames: every `object_every`-th analysed frame.
    pub object_every: usize,
    /// Grey levels: see [`crate::config::AnalysisConfig::change_level`].
    pub change_level: f32,
    /// Analysed frames after a change during which the object detector runs
    /// on every frame of its rate ([`crate::config::AnalysisConfig::settle_s`]);
    /// the face detector runs once more after a change (faces are larger than
    /// what an encoder hides at first, and the mesh follows them meanwhile).
    pub object_settle: usize,
}

impl Plan {
    pub fn of(cfg: &Config) -> Plan {
        let a = &cfg.analysis;
        let face_every = (a.fps / a.face_detect_fps).round().max(1.0) as usize;
        let object_every = (a.fps / a.object_fps).round().max(1.0) as usize;
        let segment_len = match a.schedule {
            // as before the schedule by changes: a segment per face detection
            Schedule::Clock => face_every,
            // the floor, a whole number of both detectors' periods
            Schedule::Changes => {
                let both = lcm(face_every, object_every);
                let floor = (a.schedule_floor_s * a.fps).round().max(1.0) as usize;
                floor.div_ceil(both).max(1) * both
            }
        };
        let object_settle = (a.settle_s * a.fps).round() as usize;
        Plan { schedule: a.schedule, segment_len, face_every, object_every, change_level: a.change_level as f32, object_settle }
    }

    /// How many samples before a segment its worker is shown (their
    /// thumbnails): the longer settle and one period of the slower detector.
    pub fn look_back(&self) -> usize {
        match self.schedule {
            Schedule::Clock => 0,
            Schedule::Changes => self.object_settle.max(self.face_every) + self.face_every.max(self.object_every),
        }
    }

    /// The face detector's period and settle (samples): one more run after a change.
    pub fn face(&self) -> (usize, usize) {
        (self.face_every, self.face_every)
    }

    /// The object detector's period and settle (samples).
    pub fn objects(&self) -> (usize, usize) {
        (self.object_every, self.object_settle)
    }

    /// Whether a detector ([`Plan::face`] or [`Plan::objects`]: its frames
    /// are every `every`-th, its settle `len` samples) runs on frame `i`
    /// (sample `index`) of a segment, given how much the part of the picture
    /// it looks at changed since it last ran (`change`) and `settle`, the last
    /// sample of the settle after the latest change: a run for a change is
    /// followed by runs on every frame of its rate for `len` samples (a video
    /// encoder sharpens a new picture over several frames: the first frames
    /// of a change can hide what later ones show).
    pub fn runs(&self, i: usize, index: usize, (every, len): (usize, usize), settle: &mut Option<usize>, change: impl FnOnce() -> f32) -> bool {
        if index % every != 0 {
            return false;
        }
        match self.schedule {
            Schedule::Clock => true,
            Schedule::Changes if i == 0 => true,
            Schedule::Changes if change() > self.change_level => {
                *settle = Some(index + len);
                true
            }
            Schedule::Changes => settle.is_some_and(|until| index <= until),
        }
    }

    /// The settle left by a change just before a segment, as [`Plan::runs`]
    /// would have set it had the detector run there: among the frames of the
    /// detector's rate in `before` and the segment's `first` frame (the last
    /// `len` samples of them), the last sample of the settle of the latest one
    /// that changed, outside `boxes`,
    /// from the frame of the rate before it, moved by up to
    /// [`super::WIDE`] shifts (nobody looked for faces in those
    /// frames, so a candidate's sway is tolerated everywhere). Only decoded pictures are
    /// compared, never what another segment's worker found, so the output
    /// stays the same on any number of threads.
    pub fn settle_before(
        &self,
        before: &[Before],
        first: (usize, &Thumb),
        (every, len): (usize, usize),
        boxes: &[[f32; 4]],
    ) -> Option<usize> {
        if self.schedule != Schedule::Changes || len == 0 {
            return None;
        }
        // the frames of the rate whose change would still settle past `first`,
        // the latest first: the first change found settles the longest
        let mut now = (first.0, std::borrow::Cow::Borrowed(first.1));
        for e in before.iter().rev().filter(|b| b.index % every == 0 && b.index + every + len > first.0) {
            let sums = super::Sums::of(&e.image);
            let earlier = sums.thumb(0, 0, false);
            if e.index + every == now.0
                && now.1.change_since(&earlier, boxes) > self.change_level
                && now.1.change_since_wide(&sums.thumb(0, 0, true), boxes) > self.change_level
            {
                return Some(now.0 + len);
            }
            now = (e.index, std::borrow::Cow::Owned(earlier));
        }
        None
    }
}

fn lcm(a: usize, b: usize) -> usize {
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    a / gcd(a, b).max(1) * b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan::of(&Config::default())
    }

    fn grey(v: u8) -> Arc<Thumb> {
        Arc::new(Thumb::of(&picture(v)))
    }

    fn picture(v: u8) -> image::RgbImage {
        image::RgbImage::from_pixel(64, 36, image::Rgb([v, v, v]))
    }

    /// Samples `0..n` before a segment, grey level `v(k)` each.
    fn before(n: usize, v: impl Fn(usize) -> u8) -> Vec<Before> {
        pictures(n, |k| picture(v(k)))
    }

    fn pictures(n: usize, f: impl Fn(usize) -> image::RgbImage) -> Vec<Before> {
        (0..n)
            .map(|k| {
                let img = f(k);
                Before { index: k, image: Arc::new(img) }
            })
            .collect()
    }

    /// A 640x360 grey room with a bright block (a person) at `x`.
    fn person_at(x: u32) -> image::RgbImage {
        let mut img = image::RgbImage::from_pixel(640, 360, image::Rgb([60, 60, 60]));
        for y in 100..300 {
            for px in x..x + 120 {
                img.put_pixel(px, y, image::Rgb([200, 200, 200]));
            }
        }
        img
    }

    #[test]
    fn a_sway_before_a_segment_does_not_settle_into_it_and_a_jump_does() {
        let p = plan();
        // the person 12 px to the right every other second, up to the segment at 20
        let at = |k: usize| if (k / 4) % 2 == 0 { 260 } else { 272 };
        let sway = pictures(20, |k| person_at(at(k)));
        let first = Thumb::of(&person_at(at(20)));
        assert!(first.change_since(&Thumb::of(&sway[16].image), &[]) > p.change_level, "a change as the picture was");
        assert_eq!(p.settle_before(&sway, (20, &first), p.objects(), &[]), None);
        // a jump of 40 px at 16 is something new
        let jump = pictures(20, |k| person_at(if k < 16 { 220 } else { 260 }));
        let first = Thumb::of(&person_at(260));
        assert_eq!(p.settle_before(&jump, (20, &first), p.objects(), &[]), Some(32));
    }

    #[test]
    fn the_default_plan() {
        let p = plan();
        // 4 fps: both detectors once a second, a segment of 5 s, objects settle 4 s
        assert_eq!((p.face_every, p.object_every, p.segment_len), (4, 4, 20));
        assert_eq!((p.face(), p.objects()), ((4, 4), (4, 16)));
        assert_eq!(p.look_back(), 20);
    }

    #[test]
    fn a_change_runs_the_detector_through_its_settle() {
        let p = plan();
        let mut settle = None;
        // the first frame of a segment always runs; a still frame of the rate does not
        assert!(p.runs(0, 20, p.objects(), &mut settle, || 0.0));
        assert!(!p.runs(4, 24, p.objects(), &mut settle, || 0.0));
        // frames off the rate never run
        assert!(!p.runs(5, 25, p.objects(), &mut settle, || 99.0));
        // a change at sample 28: then every frame of the rate up to 28 + 16
        assert!(p.runs(8, 28, p.objects(), &mut settle, || 99.0));
        assert_eq!(settle, Some(44));
        for (i, index) in [(12, 32), (16, 36)] {
            assert!(p.runs(i, index, p.objects(), &mut settle, || 0.0), "{index}");
        }
        let mut face = None;
        assert!(p.runs(8, 28, p.face(), &mut face, || 99.0));
        assert!(p.runs(12, 32, p.face(), &mut face, || 0.0));
        assert!(!p.runs(16, 36, p.face(), &mut face, || 0.0), "the face detector settles for one run");
        // on the clock every frame of the rate runs
        let mut cfg = Config::default();
        cfg.analysis.schedule = Schedule::Clock;
        assert!(Plan::of(&cfg).runs(4, 24, p.objects(), &mut None, || 0.0));
    }

    #[test]
    fn a_change_just_before_a_segment_settles_into_it() {
        let p = plan();
        let first = grey(100);
        // samples 0..20 before a segment at 20; the picture changed at 16 (4 s)
        let before = before(20, |k| if k < 16 { 40 } else { 100 });
        assert_eq!(p.settle_before(&before, (20, &first), p.objects(), &[]), Some(32));
        // the face detector's one more run was the segment's first frame: nothing left
        assert_eq!(p.settle_before(&before, (20, &first), p.face(), &[]), None);
        // a change inside the faces' boxes is not one
        assert_eq!(p.settle_before(&before, (20, &first), p.objects(), &[[0.0, 0.0, 64.0, 36.0]]), None);
        // nothing changed, or the change was longer ago than the settle
        let still = super::tests::before(20, |_| 100);
        assert_eq!(p.settle_before(&still, (20, &first), p.objects(), &[]), None);
        let long_ago = super::tests::before(40, |k| if k < 20 { 40 } else { 100 });
        assert_eq!(p.settle_before(&long_ago, (40, &first), p.objects(), &[]), None);
        // a change at the segment's first frame settles after it
        assert_eq!(p.settle_before(&still, (20, &grey(200)), p.objects(), &[]), Some(36));
    }
}

