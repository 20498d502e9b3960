//! `proctor detect`: run the detectors on one picture or one frame, show what they found.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::DetectArgs;
use crate::error::{Error, ErrorKind};

use super::{config_and_models, EXIT_FAILED};

/// Split `VIDEO@SECONDS`; a plain path (even one containing '@') stays whole.
pub fn parse_frame_spec(spec: &str) -> (PathBuf, Option<f64>) {
    if let Some((path, t)) = spec.rsplit_once('@') {
        if let Ok(t) = t.parse::<f64>() {
            if t.is_finite() && t >= 0.0 && !Path::new(spec).exists() {
                return (PathBuf::from(path), Some(t));
            }
        }
    }
    (PathBuf::from(spec), None)
}

/// The picture named by an input of `proctor detect`.
fn load_picture(spec: &str, max_side: u32) -> Result<image::RgbImage, Error> {
    let (path, t) = parse_frame_spec(spec);
    match t {
        Some(t) => {
            let info = crate::decode::probe(&path)?;
            if t > info.duration_s {
                return Err(Error::new(&path, ErrorKind::Decode(format!("{t} s is past the end ({:.2} s)", info.duration_s))));
            }
            crate::decode::frame_at(&info, t, max_side)
        }
        None => {
            crate::decode::probe::check_file(&path)?;
            image::open(&path)
                .map(|i| i.to_rgb8())
                .map_err(|e| Error::new(&path, ErrorKind::NotMedia(format!("not an image proctor can read: {e}"))))
        }
    }
}

fn annotate_path(base: &Path, i: usize, n: usize) -> PathBuf {
    if n == 1 {
        return base.to_path_buf();
    }
    let stem = base.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = base.extension().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "png".into());
    base.with_file_name(format!("{stem}-{}.{ext}", i + 1))
}

pub(super) fn detect_cmd(args: &DetectArgs) -> ExitCode {
    let (cfg, models) = match config_and_models(&args.common) {
        Ok(v) => v,
        Err(e) => {
            crate::warn!("proctor: error: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let mut failed = false;
    for (i, spec) in args.inputs.iter().enumerate() {
        let result = load_picture(spec, cfg.analysis.max_side).and_then(|img| {
            let found = crate::analyze::observe_picture(&img, &models, &cfg)
                .map_err(|e| Error::new(spec, ErrorKind::Model(format!("{e:#}"))))?;
            Ok((img, found))
        });
        match result {
            Ok((mut img, (faces, looked))) => {
                let objects = &looked.objects;
                if let Some(base) = &args.annotate {
                    let o = crate::records::Observation {
                        width: img.width(),
                        height: img.height(),
                        faces: Some(faces.clone()),
                        objects: Some(objects.clone()),
                        ..Default::default()
                    };
                    // what was looked at first, under what was found: crops grey, palms orange
                    let crops = looked.crops.iter().map(|c| (c.bbox.map(|v| v as f32), [160, 160, 160]));
                    let hands = looked.hands.iter().map(|h| (h.bbox, [255, 140, 0]));
                    crate::evidence::draw_boxes(&mut img, &crops.chain(hands).collect::<Vec<_>>());
                    crate::evidence::draw_boxes(&mut img, &crate::evidence::boxes_of(&o, &cfg.rules));
                    for f in &faces {
                        let kp: Vec<([f32; 4], [u8; 3])> =
                            f.keypoints.iter().map(|p| ([p[0] - 2.0, p[1] - 2.0, p[0] + 2.0, p[1] + 2.0], [255, 220, 0])).collect();
                        crate::evidence::draw_boxes(&mut img, &kp);
                    }
                    let out = annotate_path(base, i, args.inputs.len());
                    let mut buf = std::io::Cursor::new(Vec::new());
                    let saved = img
                        .write_to(&mut buf, image::ImageFormat::Png)
                        .map_err(|e| Error::new(&out, ErrorKind::Output(e.to_string())))
                        .and_then(|_| crate::output::write_bytes(&out, buf.get_ref()));
                    if let Err(e) = saved {
                        crate::warn!("proctor: error: {e}");
                        failed = true;
                    }
                }
                if args.json {
                    crate::say!(
                        "{}",
                        serde_json::json!({"input": spec, "width": img.width(), "height": img.height(), "faces": faces,
                            "objects": objects, "hands": looked.hands, "crops": looked.crops})
                    );
                } else {
                    crate::say!(
                        "{spec}: {}x{}, {} face(s), {} object(s), {} hand(s), {} crop(s) looked at again",
                        img.width(), img.height(), faces.len(), objects.len(), looked.hands.len(), looked.crops.len()
                    );
                    let opt = |v: Option<f32>, d: usize| v.map_or("-".to_string(), |v| format!("{v:.d$}"));
                    for f in &faces {
                        crate::say!(
                            "  face   score {:.2} box [{:.0} {:.0} {:.0} {:.0}] yaw {} pitch {} roll {} EAR {}/{} gaze {}/{}",
                            f.score, f.bbox[0], f.bbox[1], f.bbox[2], f.bbox[3],
                            opt(f.yaw, 1), opt(f.pitch, 1), opt(f.roll, 1),
                            opt(f.ear_left, 3), opt(f.ear_right, 3), opt(f.gaze_x, 2), opt(f.gaze_y, 2)
                        );
                    }
                    for d in objects {
                        crate::say!(
                            "  object {} ({}) score {:.2} box [{:.0} {:.0} {:.0} {:.0}]{}{}",
                            d.class, d.category, d.score, d.bbox[0], d.bbox[1], d.bbox[2], d.bbox[3],
                            match (d.in_hand, &d.hand) {
                                (true, Some(side)) => format!(" in the {side} hand"),
                                (true, None) => " in a hand".to_string(),
                                _ => String::new(),
                            },
                            d.runner_up.as_ref().map_or(String::new(), |(c, s)| format!(", runner-up {c} {s:.2}"))
                        );
                    }
                    for h in &looked.hands {
                        let marks = match (h.presence, h.side) {
                            (Some(p), Some(s)) => format!(", the {} hand (presence {p:.2})", s.as_str()),
                            (Some(p), None) => format!(", which hand unsure (presence {p:.2})"),
                            _ => String::new(),
                        };
                        crate::say!("  hand   score {:.2} box [{:.0} {:.0} {:.0} {:.0}]{marks}", h.score, h.bbox[0], h.bbox[1], h.bbox[2], h.bbox[3]);
                    }
                    for c in &looked.crops {
                        crate::say!("  crop   around a {} [{} {} {} {}]", c.around, c.bbox[0], c.bbox[1], c.bbox[2], c.bbox[3]);
                    }
                }
            }
            Err(e) => {
                crate::warn!("proctor: error: {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}
