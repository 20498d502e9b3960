//! One line of a batch's manifest (`manifest.jsonl`), and one row of its
//! `summary.parquet`: what became of one recording of the archive. Written
//! by the batch, read by `--resume`, the merge and the review desk's index.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::KindCount;
use crate::kinds::EventKind;

/// Whether a recording of a batch was analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Analysed, its outputs written.
    Ok,
    /// Not analysed: [`Row::error`] says why.
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of the manifest, and one row of summary.parquet.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Row {
    pub id: String,
    pub path: String,
    pub rel: String,
    pub status: Status,
    pub error: Option<String>,
    pub sha256: Option<String>,
    /// Fingerprint of the configuration (see `Config::fingerprint`).
    pub config: String,
    /// Fingerprint of the model files (their sha256s).
    #[serde(default)]
    pub models: String,
    /// proctor's version that made the row.
    #[serde(default)]
    pub tool_version: String,
    pub duration_s: Option<f64>,
    pub score: Option<f64>,
    pub band: Option<String>,
    pub events: Option<u64>,
    /// Per kind; null when the kind was not checked.
    pub counts: BTreeMap<EventKind, Option<KindCount>>,
    pub elapsed_s: f64,
    pub candidate: Option<String>,
    /// sha256 of the reference photo the recording was compared with (none:
    /// the candidate was enrolled from the recording). Part of the resume key.
    #[serde(default)]
    pub reference: Option<String>,
}

impl Row {
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }
}

/// The manifest's file name in a batch's output directory.
pub const MANIFEST: &str = "manifest.jsonl";

/// Read a manifest: the last line per id wins; lines that do not read as a
/// row (cut short by a kill) are skipped.
pub fn read_manifest(path: &Path) -> BTreeMap<String, Row> {
    let mut m = BTreeMap::new();
    if let Ok(text) = std::fs::read_to_string(path) {
        for line in text.lines() {
            if let Ok(r) = serde_json::from_str::<Row>(line) {
                m.insert(r.id.clone(), r);
            }
        }
    }
    m
}
