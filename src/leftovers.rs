//! Temporaries that runs leave behind, found by the process id in their
//! names and removed: the output temporaries ([`crate::save`]) and the
//! evidence stores ([`crate::evidence`]).

use std::path::Path;

/// Whether a process with this id is running (Linux: /proc; elsewhere a
/// temporary is taken as stale once it is a day old).
fn alive(pid: u32, modified: Option<std::time::SystemTime>) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if Path::new("/proc/self").exists() {
        return Path::new(&format!("/proc/{pid}")).exists();
    }
    modified.and_then(|m| m.elapsed().ok()).is_none_or(|age| age.as_secs() < 86_400)
}

/// Whose leftovers [`remove_owned`] removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leftovers {
    /// Those of processes no longer running ([`alive`] says no).
    OfDeadRuns,
    /// This process's own (it quits at once and will not drop them).
    OfThisProcess,
}

/// Remove the entries of `dir` (files, or directories with what they hold)
/// whose name `owner` reads a process id from, when `whose` covers that
/// process: the output temporaries here, the evidence stores in
/// `crate::evidence`.
pub fn remove_owned(dir: &Path, owner: impl Fn(&str) -> Option<u32>, whose: Leftovers) {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = owner(&name) else { continue };
        let meta = e.metadata().ok();
        let doomed = match whose {
            Leftovers::OfDeadRuns => !alive(pid, meta.as_ref().and_then(|m| m.modified().ok())),
            Leftovers::OfThisProcess => pid == me,
        };
        if doomed {
            let p = e.path();
            let _ = if meta.is_some_and(|m| m.is_dir()) { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        }
    }
}

