//! One recording's whole job, the same for `proctor analyze` and every
//! recording of a batch: take the recording's lock in its output directory,
//! clean what a killed run left there, analyse, name, save.

use std::path::Path;

use crate::analyze::{analyze_with, Settings};
use crate::error::Result;
use crate::identity::Reference;
use crate::progress::Progress;
use crate::records::{Analysis, Outputs};
use crate::save::{write_all_with, WriteOptions};

/// What one recording's job is given besides the shared settings.
pub struct Job<'a> {
    pub path: &'a Path,
    /// The recording's id in its output directory.
    pub id: &'a str,
    pub outdir: &'a Path,
    pub candidate: Option<String>,
    pub reference: Option<&'a Reference>,
    /// A warning to put first on the recording (e.g. why no reference photo was used).
    pub warning: Option<String>,
    pub write: WriteOptions,
}

/// Run `job`: under the lock of its id (a second run writing the same id
/// into the same directory is refused, not raced), analyse and save all of
/// its outputs; `also` writes whatever else belongs to the recording (a
/// batch's event partition) before the lock is let go.
pub fn run(
    job: &Job,
    settings: &Settings,
    progress: &dyn Progress,
    also: impl FnOnce(&Analysis) -> Result<()>,
) -> Result<(Analysis, Outputs)> {
    let _lock = crate::output::IdLock::acquire(job.outdir, job.id)?;
    crate::save::clean_stale(job.outdir, job.id);
    let mut a = analyze_with(job.path, settings, job.reference, progress)?;
    a.recording = job.id.to_string();
    a.candidate = job.candidate.clone();
    if let Some(w) = &job.warning {
        a.warnings.insert(0, w.clone());
    }
    let out = write_all_with(&a, job.outdir, &job.write)?;
    also(&a)?;
    Ok((a, out))
}
