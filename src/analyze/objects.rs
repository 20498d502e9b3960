//! The object detector over pictures: the whole analysed frame, and crops
//! near the faces, with the proctoring categories kept.

use std::sync::Arc;

use crate::config::Config;
use crate::detect::Models;
use crate::observation::ObjectObs;

/// Faces and objects in one picture (for `proctor detect`).
pub fn observe_picture(
    img: &image::RgbImage,
    models: &Models,
    cfg: &Config,
) -> anyhow::Result<(Vec<crate::observation::FaceObs>, Vec<ObjectObs>)> {
    let faces = match &models.faces {
        Some(m) => crate::observation::observe_faces(&m.analyze(&[img])?.pop().unwrap_or_default()),
        None => Vec::new(),
    };
    let objects = detect_objects(&[img], &[&faces], models, cfg)?.pop().flatten().unwrap_or_default();
    Ok((faces, objects))
}

/// Objects of the proctoring categories in each picture (`faces`: each
/// picture's faces, largest first); `None` per picture when there is no
/// object model.
pub(super) fn detect_objects(
    images: &[&image::RgbImage],
    faces: &[&[crate::observation::FaceObs]],
    models: &Models,
    cfg: &Config,
) -> anyhow::Result<Vec<Option<Vec<ObjectObs>>>> {
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
    if oc.face_crop {
        look_near_faces(model.as_ref(), images, faces, &mut found, cfg)?;
    }
    Ok(found.iter().map(|dets| Some(crate::observation::observe_objects(dets, oc))).collect())
}

/// The categories taken from the crop around a face (the rest of what the
/// crop shows is in the whole-frame pass already).
pub(super) const FACE_CROP_CATEGORIES: [&str; 1] = [crate::kinds::EventKind::Phone.as_str()];

/// The second look for held phones (`objects.face_crop`): on each picture with
/// a face, the object detector runs again on a magnified crop around the
/// largest face ([`crate::detect::objects::face_crop`]), in one batch, and the
/// phones it finds there join the picture's detections.
pub(super) fn look_near_faces(
    model: &dyn crate::detect::ObjectModel,
    images: &[&image::RgbImage],
    faces: &[&[crate::observation::FaceObs]],
    found: &mut [Vec<crate::detect::ObjectDetection>],
    cfg: &Config,
) -> anyhow::Result<()> {
    use crate::detect::objects::{face_crop, merge_crop};
    let min_face = cfg.events.face_min_score as f32;
    let crops: Vec<(usize, [u32; 4])> = images
        .iter()
        .zip(faces)
        .enumerate()
        .filter_map(|(i, (img, f))| {
            let face = f.iter().find(|f| f.score >= min_face)?;
            Some((i, face_crop(face.bbox, img.width(), img.height())?))
        })
        .collect();
    if crops.is_empty() {
        return Ok(());
    }
    let cut: Vec<image::RgbImage> = crops
        .iter()
        .map(|&(i, [x0, y0, x1, y1])| image::imageops::crop_imm(images[i], x0, y0, x1 - x0, y1 - y0).to_image())
        .collect();
    let oc = &cfg.objects;
    let min = oc.keep_min_score as f32;
    let wanted = |d: &crate::detect::ObjectDetection| {
        oc.category_of(d.class_name).is_some_and(|c| FACE_CROP_CATEGORIES.contains(&c))
    };
    let seen = model.detect_batch(&cut.iter().collect::<Vec<_>>(), min)?;
    for (&(i, c), dets) in crops.iter().zip(seen) {
        let full = std::mem::take(&mut found[i]);
        found[i] = merge_crop(full, dets, (c[0], c[1]), wanted, 0.45);
    }
    Ok(())
}

/// One object detector run to make: a frame's picture and its faces.
pub(super) struct ObjectJob {
    pub(super) i: usize,
    pub(super) image: Arc<image::RgbImage>,
    pub(super) faces: Vec<crate::observation::FaceObs>,
}
