//! Many recordings at once: discovery, sharding, parallel jobs with per-file
//! errors, a resume manifest, and the archive-level outputs.
//!
//! OUTDIR layout:
//! * `recordings/<id>.*`: each recording's outputs, as `proctor analyze` writes them;
//! * `events/recording=<id>/part-0.parquet`: every recording's events as one
//!   Hive-partitioned dataset;
//! * `summary.parquet`: one row per recording (ok or error);
//! * `manifest.jsonl`: one line per finished recording, for `--resume`.

mod archive;
mod discover;
mod run;
mod sources;

pub use crate::ids::id_of;
pub use crate::records::{read_manifest, Row, Status};
pub use archive::{merge, read_summary, summary_frame, write_archive};
pub use discover::{discover, Item, Shard, VIDEO_EXTENSIONS};
pub use run::{clean_own_temporaries, outputs_intact, partition_path, run_batch, write_partition, BatchOptions, BatchProgress, RunKey};
pub use sources::{CandidateSource, ReferenceSource, PHOTO_EXTENSIONS};

#[cfg(test)]
mod tests;
