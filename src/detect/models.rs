//! The model files: embedded in the binary by default (converted by
//! `models/convert.py`, provenance beside each file), or read from a
//! directory given with `--models DIR`.

use std::path::Path;

use candle_core::Device;

use super::faces::FacePipeline;
use super::landmarks::LandmarkModels;
use super::yolox::YoloX;
use super::yunet::YuNetDetector;
use super::{Models, Provenance};
use crate::error::{Error, ErrorKind, Result};

/// One model file: its name and the embedded bytes and provenance.
struct Embedded {
    file: &'static str,
    bytes: &'static [u8],
    provenance: &'static str,
}

const YUNET: Embedded = Embedded {
    file: "yunet_n.safetensors",
    bytes: include_bytes!("../../models/yunet_n.safetensors"),
    provenance: include_str!("../../models/yunet_n.provenance.json"),
};
const FACE_MESH: Embedded = Embedded {
    file: "face_landmark.safetensors",
    bytes: include_bytes!("../../models/face_landmark.safetensors"),
    provenance: include_str!("../../models/face_landmark.provenance.json"),
};
const IRIS: Embedded = Embedded {
    file: "iris_landmark.safetensors",
    bytes: include_bytes!("../../models/iris_landmark.safetensors"),
    provenance: include_str!("../../models/iris_landmark.provenance.json"),
};

const DLIB: Embedded = Embedded {
    file: "dlib_resnet.safetensors",
    bytes: include_bytes!("../../models/dlib_resnet.safetensors"),
    provenance: include_str!("../../models/dlib_resnet.provenance.json"),
};

const YOLOX: Embedded = Embedded {
    file: "yolox_nano.safetensors",
    bytes: include_bytes!("../../models/yolox_nano.safetensors"),
    provenance: include_str!("../../models/yolox_nano.provenance.json"),
};

const PALM: Embedded = Embedded {
    file: "palm_detection.safetensors",
    bytes: include_bytes!("../../models/palm_detection.safetensors"),
    provenance: include_str!("../../models/palm_detection.provenance.json"),
};

const HAND: Embedded = Embedded {
    file: "hand_landmark.safetensors",
    bytes: include_bytes!("../../models/hand_landmark.safetensors"),
    provenance: include_str!("../../models/hand_landmark.provenance.json"),
};

/// Read a provenance JSON file written by the conversion script (from a registry package:
/// package, version, path_in_package or paths; from a repository: repository, commit, path).
fn provenance(name: &str, json: &str) -> Provenance {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    let or = |a: &str, b: &str| if v.get(a).is_some() { s(a) } else { s(b) };
    let path = match v.get("path_in_package").or_else(|| v.get("path_in_repository")).or_else(|| v.get("path")) {
        Some(p) => p.as_str().unwrap_or("").to_string(),
        None => v.get("paths").and_then(|p| p.as_object()).map(|o| o.values().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(" + ")).unwrap_or_default(),
    };
    let sha = match v.get("sha256") {
        Some(x) => x.as_str().unwrap_or("").to_string(),
        None => s("tarball_sha256"),
    };
    Provenance { name: name.to_string(), package: or("package", "repository"), version: or("version", "commit"), path_in_package: path, sha256: sha, licence: s("licence") }
}

/// Bytes of a model: from `dir` when given, else embedded.
fn bytes_of(m: &Embedded, dir: Option<&Path>) -> Result<std::borrow::Cow<'static, [u8]>> {
    match dir {
        None => Ok(std::borrow::Cow::Borrowed(m.bytes)),
        Some(d) => {
            let p = d.join(m.file);
            std::fs::read(&p).map(std::borrow::Cow::Owned).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::new(&p, ErrorKind::Model("model file missing from --models directory".into())),
                _ => Error::new(&p, ErrorKind::Unreadable(e)),
            })
        }
    }
}

/// Which detectors to load.
#[derive(Debug, Clone, Copy)]
pub struct Which {
    pub faces: bool,
    pub objects: bool,
    /// The palm detector and the hand landmark model, for the crops around
    /// hands and which hand holds an object (`objects.hand_crop`): loaded
    /// only with the objects.
    pub hands: bool,
    pub speech: bool,
    pub identity: bool,
}

/// Each network runs on one thread: proctor's parallelism is across segments
/// of frames (see `analyze`), and candle's own CPU thread pool, which waits
/// for its workers by spinning, spent more time spinning than computing when
/// two segments ran at once (60 s 720p VP8: 72 s of CPU against 20 s with one
/// thread per network). candle sizes its matmuls' parallelism from
/// `RAYON_NUM_THREADS`: at 1 they skip splitting work that the other worker
/// would not pick up anyway (5% less CPU on an 8 s 720p clip). proctor's own
/// worker pools are sized explicitly (`--threads`), so they are unaffected.
/// Values set by the user are kept.
///
/// candle reads this from the environment only, so it is set there: by a
/// program's `main` (the CLI's analysing commands, each bench) before it
/// starts any thread, never later, when another thread may be reading the
/// environment. (It also sizes rayon's global pool, so commands that use
/// that pool for their own work, like `review`, do not call it.)
pub fn one_thread_per_network_at_start() {
    for var in ["CANDLE_NUM_THREADS", "RAYON_NUM_THREADS"] {
        if std::env::var_os(var).is_none() {
            std::env::set_var(var, "1");
        }
    }
}

/// The device to run on: CUDA when built with the `cuda` feature and a GPU
/// is present, else the CPU.
pub fn device() -> Device {
    #[cfg(feature = "cuda")]
    if let Ok(d) = Device::new_cuda(0) {
        return d;
    }
    Device::Cpu
}

/// Load the detectors (embedded, or from `dir`).
pub fn load(dir: Option<&Path>, which: Which) -> Result<Models> {
    let dev = device();
    let model_err = |what: &str, e: anyhow::Error| Error::new(what, ErrorKind::Model(format!("{e:#}")));
    let mut models = Models::default();
    if which.faces {
        let det = YuNetDetector::from_bytes(&bytes_of(&YUNET, dir)?, &dev).map_err(|e| model_err(YUNET.file, e))?;
        let lm = LandmarkModels::from_bytes(&bytes_of(&FACE_MESH, dir)?, &bytes_of(&IRIS, dir)?, &dev)
            .map_err(|e| model_err(FACE_MESH.file, e))?;
        let defaults = crate::config::EventConfig::default();
        models.faces = Some(Box::new(FacePipeline {
            detector: det,
            landmarks: lm,
            unconfirmed_min_score: defaults.face_unconfirmed_min_score as f32,
            min_width_px: defaults.face_min_px as f32,
        }));
        models.provenance.push(provenance("YuNet-n (faces)", YUNET.provenance));
        models.provenance.push(provenance("Face mesh, 468 points (pose, eyes)", FACE_MESH.provenance));
        models.provenance.push(provenance("Iris landmarks (gaze)", IRIS.provenance));
    }
    if which.objects {
        let yx = YoloX::from_bytes(&bytes_of(&YOLOX, dir)?, &dev).map_err(|e| model_err(YOLOX.file, e))?;
        models.objects = Some(Box::new(yx));
        models.provenance.push(provenance("YOLOX-nano (objects)", YOLOX.provenance));
    }
    if which.objects && which.hands {
        let palm = super::palm::PalmDetector::from_bytes(&bytes_of(&PALM, dir)?, &dev).map_err(|e| model_err(PALM.file, e))?;
        models.hands = Some(palm);
        models.provenance.push(provenance("MediaPipe palm detection (hands, for held objects)", PALM.provenance));
        let hand = super::hand::HandLandmarker::from_bytes(&bytes_of(&HAND, dir)?, &dev).map_err(|e| model_err(HAND.file, e))?;
        models.hand_landmarks = Some(hand);
        models.provenance.push(provenance("MediaPipe hand landmarks (which hand holds an object)", HAND.provenance));
    }
    if which.identity && which.faces {
        let e = super::face_embed::FaceEmbedder::from_bytes(&bytes_of(&DLIB, dir)?, &dev).map_err(|e| model_err(DLIB.file, e))?;
        models.identity = Some(e);
        models.provenance.push(provenance("dlib ResNet face descriptor (identity)", DLIB.provenance));
    }
    if which.speech {
        let vad = crate::audio::load_vad(dir, &dev).map_err(|e| model_err(crate::audio::VAD_FILE, e))?;
        models.speech = Some(vad);
        models.provenance.push(provenance("Silero VAD v6 (speech)", crate::audio::VAD_PROVENANCE));
        let spk = crate::audio::load_speaker(dir, &dev).map_err(|e| model_err(crate::audio::SPEAKER_FILE, e))?;
        models.speaker = Some(spk);
        models.provenance.push(provenance("Resemblyzer voice encoder (whose voice)", crate::audio::SPEAKER_PROVENANCE));
    }
    Ok(models)
}
