//! Locks on what one run writes: the kernel's `flock` on a small file, which
//! the kernel releases however the process ends (a `kill -9` included), so
//! there is never a stale lock to find or take over.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::atomic::fs_step;
use crate::error::{Error, ErrorKind, Result};

/// Lock files held by this process, removed by [`super::quit_now`] (the
/// kernel releases the locks at exit; this only keeps the directory tidy).
static HELD: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Remove the lock files this process holds (it quits at once and will not
/// drop them).
pub(super) fn remove_held() {
    for p in HELD.lock().unwrap_or_else(std::sync::PoisonError::into_inner).drain(..) {
        let _ = std::fs::remove_file(p);
    }
}

/// The exclusive right to write one recording id (or one archive's tables)
/// into one directory: two runs writing the same id there would otherwise
/// race, the last writer silently winning. An `flock` on `.<id>.lock`, which
/// holds the owner's process id for the message another run gives; the file
/// is removed when the lock is dropped.
#[derive(Debug)]
pub struct IdLock {
    path: PathBuf,
    /// Held for its lock, released when dropped (or by the kernel at exit).
    file: File,
}

/// Whether the lock was free.
enum Try {
    Held(IdLock),
    Busy(String),
}

impl IdLock {
    pub fn path_for(dir: &Path, id: &str) -> PathBuf {
        dir.join(format!(".{id}.lock"))
    }

    /// Take the lock of `id` in `dir`, or fail at once, naming the run that
    /// holds it.
    pub fn acquire(dir: &Path, id: &str) -> Result<IdLock> {
        match Self::take(dir, id, false)? {
            Try::Held(lock) => Ok(lock),
            Try::Busy(owner) => Err(Error::new(
                dir,
                ErrorKind::Output(format!(
                    "another proctor run{owner} is writing the outputs of '{id}' here; \
                     wait for it to finish or choose another output directory"
                )),
            )),
        }
    }

    /// Take the lock of `id` in `dir`, waiting while another run holds it
    /// (the archive tables, which every shard of a batch writes at its end).
    pub fn wait(dir: &Path, id: &str) -> Result<IdLock> {
        match Self::take(dir, id, true)? {
            Try::Held(lock) => Ok(lock),
            Try::Busy(_) => unreachable!("a blocking lock is never busy"),
        }
    }

    fn take(dir: &Path, id: &str, block: bool) -> Result<Try> {
        let path = Self::path_for(dir, id);
        let out_err = |e: std::io::Error| Error::new(&path, ErrorKind::Output(e.to_string()));
        std::fs::create_dir_all(dir).map_err(|e| Error::new(dir, ErrorKind::Output(e.to_string())))?;
        loop {
            let file = fs_step(|| std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path))
                .map_err(out_err)?;
            let locked = if block { file.lock().map_err(std::fs::TryLockError::Error) } else { file.try_lock() };
            match locked {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    let pid = std::fs::read_to_string(&path).ok().and_then(|s| s.trim().parse::<u32>().ok());
                    return Ok(Try::Busy(pid.map(|p| format!(" (pid {p})")).unwrap_or_default()));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(out_err(e)),
            }
            // the holder that just let go removed the file: this lock is on
            // a file no longer at `path`, so another run could lock the new one
            if !same_file(&file, &path) {
                continue;
            }
            HELD.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(path.clone());
            // made before the pid is written, so that a failed write drops it (and removes the file)
            let lock = IdLock { path: path.clone(), file };
            lock.file.set_len(0).and_then(|_| (&lock.file).write_all(std::process::id().to_string().as_bytes())).map_err(out_err)?;
            return Ok(Try::Held(lock));
        }
    }
}

/// Whether the open `file` is the one at `path`.
fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

impl Drop for IdLock {
    fn drop(&mut self) {
        // removed while still locked, then unlocked as the file closes
        let _ = std::fs::remove_file(&self.path);
        HELD.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|p| p != &self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn an_id_lock_refuses_a_holder_and_needs_no_takeover_after_a_kill() {
        let dir = tempfile::tempdir().unwrap();
        let lock = IdLock::acquire(dir.path(), "exam").unwrap();
        let p = IdLock::path_for(dir.path(), "exam");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), std::process::id().to_string());
        // a second writer of the same id (an flock is per open file, so this
        // process stands for another run)
        let e = IdLock::acquire(dir.path(), "exam").unwrap_err();
        assert!(e.to_string().contains(&format!("another proctor run (pid {})", std::process::id())), "{e}");
        // another id is free
        drop(IdLock::acquire(dir.path(), "other").unwrap());
        drop(lock);
        assert!(!p.exists());
        // a file left by a killed run holds no lock: it is simply taken
        std::fs::write(&p, "12345").unwrap();
        let again = IdLock::acquire(dir.path(), "exam").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), std::process::id().to_string());
        drop(again);
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn a_waiting_lock_gets_it_when_the_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = IdLock::wait(dir.path(), "archive").unwrap();
        let d = dir.path().to_path_buf();
        let waiter = std::thread::spawn(move || IdLock::wait(&d, "archive").map(drop));
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!waiter.is_finished(), "the second lock did not wait");
        // the holder removes the file as it lets go: the waiter, which locked
        // the removed file, locks the new one instead
        drop(first);
        waiter.join().unwrap().unwrap();
        assert!(names(dir.path()).is_empty());
    }
}
