//! Integration tests: one binary (see Cargo.toml `autotests = false`).

mod util;

mod architecture;
mod audio_input;
mod audio_speaker;
mod batch;
mod calibrate;
mod cli;
mod decode;
mod eval;
mod face_counts;
mod fuzz;
mod hard_cases;
mod identity;
mod model_face_embed;
mod model_landmarks;
mod model_hand;
mod model_palm;
mod model_prep;
mod model_vad;
mod model_yolox;
mod model_yunet;
mod outputs;
mod phones;
mod readme;
mod reliability;
mod rescore;
mod review;
mod saved;
mod schedule;
mod voices;
