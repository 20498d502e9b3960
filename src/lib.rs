//! proctor: audit recorded online interviews and exams.
//!
//! Data flows one way, each stage knowing only what it needs:
//!
//! ```text
//! decode ─► detect ─► observation ─► events ─► score ─► (evidence) ─► Analysis
//!   (FFmpeg)  (networks) (per frame)   (timed)  (policy)   (pictures)      │
//!                                                                        write ─► outputs ─► load
//!                                                                          │                   │
//!                                                          report, review page, JSON ◄─────────┘
//! ```
//!
//! Every stage produces or reads the plain [`records`] (observations,
//! events, baseline, score, identity and audio facts, the [`records::Analysis`]
//! itself), which depend on nothing above them; [`kinds`] names the kinds of
//! event and holds their homes. [`analyze`] drives one recording through the
//! stages; [`save`] saves an analysis whole and [`load`] reads it back as the
//! same value; the views ([`report`], the JSON lines, [`batch`]'s summary)
//! render an `Analysis` and re-derive nothing. `tests/architecture.rs` checks
//! that every import points down this flow.

pub mod analyze;
pub mod app;
pub mod audio;
pub mod batch;
pub mod calibrate;
pub mod cli;
pub mod cli_docs;
pub mod clock;
pub mod config;
pub mod decode;
pub mod detect;
pub mod error;
pub mod eval;
pub mod evidence;
pub mod geometry;
pub mod identity;
pub mod ids;
pub mod kinds;
pub mod load;
pub mod records;
pub mod events;
pub mod observation;
pub mod output;
pub mod progress;
pub mod review;
pub mod report;
pub mod rescore;
pub mod rules;
pub mod schedule;
pub mod score;
pub mod signals;
pub mod tables;
pub mod text;
pub mod save;
pub mod job;

pub use error::{Error, ErrorKind, Result};
