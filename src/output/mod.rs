//! The output path: every file proctor writes goes through here, written to
//! a temporary name and renamed ([`atomic`]), under the lock of the recording
//! it belongs to ([`lock`]), with stdout and stderr lines that survive a
//! closed pipe ([`stdout`]), and a failure of any one step injectable in the
//! unit tests ([`faults`]).

use std::path::Path;

use crate::error::{Error, ErrorKind, Result};

pub mod atomic;
pub mod faults;
pub mod lock;
pub mod stdout;

pub use atomic::{
    check_writable, create_dir, create_file, fs_step, quit_now, remove_file, remove_temporaries, rename, temp_path, temporary_of, write_atomic, write_bytes,
    LineLog, OutFile,
};
pub use lock::IdLock;
pub use stdout::{say_line, stdout_failed, warn_line};


/// Run `f`, turning a panic into an error for `path`: one recording's bug
/// must not end the whole run.
pub fn isolate<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(Error::new(path, ErrorKind::Internal(msg)))
        }
    }
}

/// Fault injection for the output path. In the unit tests (`cfg(test)`),

/// The names under `dir` (at any depth) of what proctor keeps only while it
/// runs: temporaries (`.<name>.tmp-<pid>`, `.proctor-tmp-*` directories) and
/// lock files. After a run, however it ended, there should be none.
pub fn leftovers_under(dir: &Path) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".proctor-") || n.contains(".tmp-") || n.ends_with(".lock"))
        .collect()
}

#[cfg(test)]
mod tests;
