//! The object detector over pictures: the whole analysed frame, and crops
//! around the faces and the hands (cut from the source-size picture where the
//! recording is larger), with the proctoring categories kept.

use std::sync::Arc;

use crate::config::Config;
use crate::detect::Models;
use crate::observation::ObjectObs;

/// What the object pass looked at in one picture and what it found: the
/// objects kept, the hands (palms) the crops were taken around, and every
/// crop the detector looked at again (for `proctor detect`, which shows why an
/// object was or was not found).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Looked {
    pub objects: Vec<ObjectObs>,
    pub hands: Vec<HandSeen>,
    pub crops: Vec<CropSeen>,
}

/// A palm the palm detector found: its box and score, and where it touches a
/// phone or book, what the hand landmark model says of it: whether it is a
/// hand (`presence`), and which of the subject's hands (`side`, where sure).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HandSeen {
    pub bbox: [f32; 4],
    pub score: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<crate::detect::hand::Side>,
}

/// A crop the object detector looked at again, in pixels of the picture, and
/// what it was taken around (`face` or `hand`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CropSeen {
    pub around: &'static str,
    pub bbox: [u32; 4],
}

/// Faces and what the object pass saw in one picture (for `proctor detect`).
pub fn observe_picture(
    img: &image::RgbImage,
    models: &Models,
    cfg: &Config,
) -> anyhow::Result<(Vec<crate::observation::FaceObs>, Looked)> {
    let faces = match &models.faces {
        Some(m) => crate::observation::observe_faces(&m.analyze(&[img])?.pop().unwrap_or_default()),
        None => Vec::new(),
    };
    let looked = detect_objects(&[img], &[None], &[&faces], models, cfg)?.pop().flatten().unwrap_or_default();
    Ok((faces, looked))
}

/// Objects of the proctoring categories in each picture (`faces`: each
/// picture's faces, largest first), with the hands and crops looked at;
/// `None` per picture when there is no object model. The crops are cut from
/// each picture's `sources` entry where it has one (the same picture at the
/// size it was decoded at, larger), so the second looks see the recording's
/// own pixels rather than the analysed picture's blown up; every box is in
/// pixels of the analysed picture.
pub(super) fn detect_objects(
    images: &[&image::RgbImage],
    sources: &[Option<&image::RgbImage>],
    faces: &[&[crate::observation::FaceObs]],
    models: &Models,
    cfg: &Config,
) -> anyhow::Result<Vec<Option<Looked>>> {
    let Some(model) = &models.objects else { return Ok(vec![None; images.len()]) };
    if images.is_empty() {
        return Ok(Vec::new());
    }
    let oc = &cfg.objects;
    // what is kept is what the rules may ask for, at any min_score they are given
    let mut min = oc.keep_min_score as f32;
    if oc.large_phone_min_area <= 1.0 {
        min = min.min(crate::detect::objects::LARGE_PHONE_FLOOR);
    }
    let mut found = model.detect_batch(images, min)?;
    for (dets, img) in found.iter_mut().zip(images) {
        *dets = crate::detect::objects::join_large_phones(std::mem::take(dets), img.width(), img.height(), oc.large_phone_min_area as f32);
    }
    let mut crops: Vec<Vec<CropSeen>> = vec![Vec::new(); images.len()];
    let pictures: Vec<Picture> = images.iter().zip(sources).map(|(&image, &source)| Picture { image, source }).collect();
    if oc.face_crop {
        look_near_faces(model.as_ref(), &pictures, faces, &mut found, &mut crops, cfg)?;
    }
    let palms = match (&models.hands, oc.hand_crop) {
        (Some(hands), true) => {
            let palms = hands.detect_batch(images)?;
            look_near_hands(model.as_ref(), &pictures, &palms, &mut found, &mut crops, cfg)?;
            palms
        }
        _ => vec![Vec::new(); images.len()],
    };
    found
        .iter()
        .zip(palms)
        .zip(crops)
        .zip(images)
        .map(|(((dets, palms), crops), img)| {
            let hands = which_hands(img, &palms, dets, models, cfg)?;
            let held: Vec<_> = hands.iter().map(|h| (crate::detect::objects::hand_reach(h.bbox), h.side)).collect();
            Ok(Some(Looked { objects: crate::observation::observe_objects(dets, &held, oc), hands, crops }))
        })
        .collect()
}

/// The palms of one picture, each that touches a phone or book the picture
/// holds (at `objects.keep_min_score`) looked at by the hand landmark model:
/// is it a hand, and which. The model runs only there, so a picture with no
/// held object costs nothing more.
fn which_hands(
    img: &image::RgbImage,
    palms: &[crate::detect::palm::Palm],
    dets: &[crate::detect::ObjectDetection],
    models: &Models,
    cfg: &Config,
) -> anyhow::Result<Vec<HandSeen>> {
    let held: Vec<&crate::detect::ObjectDetection> = dets.iter().filter(|d| crate::observation::holdable(d, &cfg.objects)).collect();
    let touching: Vec<bool> = palms
        .iter()
        .map(|p| held.iter().any(|d| crate::detect::objects::touches(&crate::detect::objects::hand_reach(p.bbox), &d.bbox)))
        .collect();
    let holding: Vec<&crate::detect::palm::Palm> = palms.iter().zip(&touching).filter(|(_, &t)| t).map(|(p, _)| p).collect();
    let mut marks = match &models.hand_landmarks {
        Some(m) => m.run(img, &holding)?,
        None => Vec::new(),
    }
    .into_iter();
    Ok(palms
        .iter()
        .zip(touching)
        .map(|(p, t)| {
            let m = if t { marks.next() } else { None };
            HandSeen { bbox: p.bbox, score: p.score, presence: m.as_ref().map(|m| m.presence), side: m.and_then(|m| m.side()) }
        })
        .collect())
}

/// The categories taken from the crop around a face (the rest of what the
/// crop shows is in the whole-frame pass already).
pub(super) const FACE_CROP_CATEGORIES: [&str; 1] = [crate::kinds::EventKind::Phone.as_str()];


/// One crop to look at again: the picture's index, the crop box, and the box a
/// detection must touch to count (the hand's reach), if any.
type Crop = (usize, [u32; 4], Option<[f32; 4]>);

/// An analysed picture and, where it was decoded larger, the source-size picture.
#[derive(Clone, Copy)]
pub(super) struct Picture<'a> {
    image: &'a image::RgbImage,
    source: Option<&'a image::RgbImage>,
}

impl Picture<'_> {
    /// The crop `c` (pixels of the analysed picture), cut from the source
    /// picture where there is one, and the factor from the cut's pixels back
    /// to the analysed picture's.
    fn cut(&self, c: [u32; 4]) -> (image::RgbImage, f32) {
        let [x0, y0, x1, y1] = c;
        match self.source {
            Some(src) if src.width() > self.image.width() => {
                let s = src.width() as f64 / self.image.width() as f64;
                let (sx0, sy0) = ((x0 as f64 * s).floor() as u32, (y0 as f64 * s).floor() as u32);
                let (sx1, sy1) = (((x1 as f64 * s).ceil() as u32).min(src.width()), ((y1 as f64 * s).ceil() as u32).min(src.height()));
                let cut = image::imageops::crop_imm(src, sx0, sy0, sx1.saturating_sub(sx0).max(1), sy1.saturating_sub(sy0).max(1)).to_image();
                (cut, (1.0 / s) as f32)
            }
            _ => (image::imageops::crop_imm(self.image, x0, y0, x1 - x0, y1 - y0).to_image(), 1.0),
        }
    }
}

/// The object detector on `crops` of `images`, in one batch; the detections of
/// `categories` (that touch the crop's box, where it has one) join their
/// picture's, and each crop is recorded as looked at around `around`.
fn look_again(
    model: &dyn crate::detect::ObjectModel,
    pictures: &[Picture],
    crops: &[Crop],
    (around, categories): (&'static str, &[&str]),
    found: &mut [Vec<crate::detect::ObjectDetection>],
    looked: &mut [Vec<CropSeen>],
    cfg: &Config,
) -> anyhow::Result<()> {
    use crate::detect::objects::merge_crop;
    if crops.is_empty() {
        return Ok(());
    }
    let (cut, back): (Vec<image::RgbImage>, Vec<f32>) = crops.iter().map(|&(i, c, _)| pictures[i].cut(c)).unzip();
    let oc = &cfg.objects;
    let seen = model.detect_batch(&cut.iter().collect::<Vec<_>>(), oc.keep_min_score as f32)?;
    for ((&(i, c, touch), mut dets), k) in crops.iter().zip(seen).zip(back) {
        // boxes in pixels of the cut -> of the analysed crop
        for d in &mut dets {
            d.bbox = d.bbox.map(|v| v * k);
        }
        let (ox, oy) = (c[0] as f32, c[1] as f32);
        let wanted = |d: &crate::detect::ObjectDetection| {
            let reaches = touch.is_none_or(|t| crate::detect::objects::touches(&t, &[d.bbox[0] + ox, d.bbox[1] + oy, d.bbox[2] + ox, d.bbox[3] + oy]));
            reaches && oc.category_of(d.class_name).is_some_and(|c| categories.contains(&c))
        };
        let full = std::mem::take(&mut found[i]);
        found[i] = merge_crop(full, dets, (c[0], c[1]), wanted, 0.45);
        looked[i].push(CropSeen { around, bbox: c });
    }
    Ok(())
}

/// The second look for held phones (`objects.face_crop`): on each picture with
/// a face, the object detector runs again on a magnified crop around the
/// largest face ([`crate::detect::objects::face_crop`]), in one batch, and the
/// phones it finds there join the picture's detections.
pub(super) fn look_near_faces(
    model: &dyn crate::detect::ObjectModel,
    pictures: &[Picture],
    faces: &[&[crate::observation::FaceObs]],
    found: &mut [Vec<crate::detect::ObjectDetection>],
    looked: &mut [Vec<CropSeen>],
    cfg: &Config,
) -> anyhow::Result<()> {
    use crate::detect::objects::face_crop;
    let min_face = cfg.events.face_min_score as f32;
    let crops: Vec<Crop> = pictures
        .iter()
        .zip(faces)
        .enumerate()
        .filter_map(|(i, (p, f))| {
            let face = f.iter().find(|f| f.score >= min_face)?;
            Some((i, face_crop(face.bbox, p.image.width(), p.image.height())?, None))
        })
        .collect();
    look_again(model, pictures, &crops, ("face", &FACE_CROP_CATEGORIES), found, looked, cfg)
}

/// The look at what hands hold (`objects.hand_crop`): around each palm the palm
/// detector found ([`crate::detect::objects::hand_crop`], at most
/// [`MAX_HAND_CROPS`] a picture, best first), the object detector runs again on
/// a magnified crop, and the phones and books it finds there that touch the
/// hand ([`crate::detect::objects::hand_reach`]) join the picture's
/// detections. What the crop shows away from the hand is the whole-frame
/// pass's business: on the hard cases' astronaut, a part of the suit beside
/// the hand scored as a phone at up to 0.52 in the crop.
pub(super) fn look_near_hands(
    model: &dyn crate::detect::ObjectModel,
    pictures: &[Picture],
    palms: &[Vec<crate::detect::palm::Palm>],
    found: &mut [Vec<crate::detect::ObjectDetection>],
    looked: &mut [Vec<CropSeen>],
    cfg: &Config,
) -> anyhow::Result<()> {
    use crate::detect::objects::{hand_crop, hand_reach};
    let crops: Vec<Crop> = pictures
        .iter()
        .zip(palms)
        .enumerate()
        .flat_map(|(i, (pic, ps))| {
            let (w, h) = pic.image.dimensions();
            ps.iter().take(MAX_HAND_CROPS).filter_map(move |p| Some((i, hand_crop(p.bbox, p.towards_fingers(), w, h)?, Some(hand_reach(p.bbox)))))
        })
        .collect();
    look_again(model, pictures, &crops, ("hand", &crate::observation::HELD_CATEGORIES), found, looked, cfg)
}

/// Hands looked at per picture: two people's.
pub(super) const MAX_HAND_CROPS: usize = 4;

/// One object detector run to make: a frame's picture and its faces.
pub(super) struct ObjectJob {
    pub(super) i: usize,
    pub(super) image: Arc<image::RgbImage>,
    /// The picture at its decoded size, where that is larger: the crops are cut from it.
    pub(super) source: Option<Arc<image::RgbImage>>,
    pub(super) faces: Vec<crate::observation::FaceObs>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A picture whose pixels say where they are: red = x / 4, green = y / 4.
    fn ruler(w: u32, h: u32, step: u32) -> image::RgbImage {
        image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x / step) as u8, (y / step) as u8, 0]))
    }

    #[test]
    fn a_crop_is_cut_from_the_source_picture_at_its_own_scale() {
        let image = ruler(160, 120, 1);
        let source = ruler(640, 480, 4);
        let pic = Picture { image: &image, source: Some(&source) };
        let (cut, back) = pic.cut([40, 30, 80, 70]);
        // four times the pixels, the same place
        assert_eq!(cut.dimensions(), (160, 160));
        assert_eq!(back, 0.25);
        assert_eq!(cut.get_pixel(0, 0).0, [40, 30, 0]);
        assert_eq!(cut.get_pixel(159, 159).0, [79, 69, 0]);
        // without a source (or a source no larger), the analysed picture's own pixels
        for pic in [Picture { image: &image, source: None }, Picture { image: &image, source: Some(&image) }] {
            let (cut, back) = pic.cut([40, 30, 80, 70]);
            assert_eq!((cut.dimensions(), back), ((40, 40), 1.0));
            assert_eq!(cut.get_pixel(0, 0).0, [40, 30, 0]);
        }
        // a crop to the edge stays inside the source
        let (cut, _) = Picture { image: &image, source: Some(&source) }.cut([100, 60, 160, 120]);
        assert_eq!(cut.dimensions(), (240, 240));
    }
}
