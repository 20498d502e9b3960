//! proctor: audit recorded online interviews and exams.
//!
//! Data flows one way: [`decode`] → [`detect`] → [`observation`] →
//! [`events`] → [`score`] → [`timeline`] / [`report`]. [`analyze`] drives
//! one recording through it; [`write`] puts the results on disk.

pub mod analysis;
pub mod analyze;
pub mod app;
pub mod audio;
pub mod batch;
pub mod cli;
pub mod clock;
pub mod config;
pub mod decode;
pub mod detect;
pub mod error;
pub mod eval;
pub mod evidence;
pub mod identity;
pub mod ids;
pub mod kinds;
pub mod leftovers;
pub mod load;
pub mod records;
pub mod events;
pub mod observation;
pub mod output;
pub mod progress;
pub mod report;
pub mod score;
pub mod timeline;
pub mod write;

pub use error::{Error, ErrorKind, Result};
