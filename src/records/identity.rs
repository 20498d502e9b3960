//! Whom the faces were compared with.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A frame where the enrolled candidate's face was seen: the member of the
/// opening's identity closest to its mean (for the report's picture of them).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EnrolledFace {
    /// Analysis time of the frame.
    pub t: f64,
    /// The face's box as fractions of the frame's width and height.
    pub bbox: [f32; 4],
    /// Its descriptor's distance to the enrolled mean.
    pub distance: f32,
    /// Where the descriptors it was enrolled from lie (analysis time, s).
    #[serde(default)]
    pub from_s: Option<[f64; 2]>,
}

/// What summary.json says about identity: whom faces were compared with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentityInfo {
    /// The reference photo (`--reference`, `--reference-from`).
    pub reference: Option<ReferenceInfo>,
    /// The frame that shows the candidate enrolled from the session.
    pub enrolled: Option<EnrolledFace>,
    /// Clustering, the second identity signal (without a reference photo):
    /// the identities of the recording, the first seen first; empty when
    /// clustering did not run or found no identity.
    #[serde(default)]
    pub identities: Vec<IdentityCluster>,
}

/// One identity the recording's lone-face descriptors cluster into.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IdentityCluster {
    /// Its first and last sample (analysis time, s).
    pub first_s: f64,
    pub last_s: f64,
    /// How many lone-face samples it holds, and the seconds they stand for
    /// (samples times the sampling interval).
    pub samples: usize,
    pub seconds: f64,
    /// Distance from its centre to the first identity's (0 for the first).
    pub distance: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceInfo {
    pub path: PathBuf,
    pub sha256: String,
    pub bbox: [f32; 4],
}

