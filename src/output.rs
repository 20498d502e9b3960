//! Writing outputs safely: to a temporary name beside the target, then a
//! rename, so an interrupted run never leaves a half-written file that looks
//! complete.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};

/// The temporary name used while `path` is being written.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Set once the process quits at once (a second Ctrl-C); the lock is held
/// while its temporaries are removed.
static QUITTING: std::sync::RwLock<bool> = std::sync::RwLock::new(false);

/// Run `step`, one file-system change that makes or moves a temporary (a
/// create, a rename), unless the process is quitting at once: then the
/// calling thread waits for the exit instead, so nothing is made after
/// [`quit_now`] has removed this process's temporaries.
pub fn fs_step<T>(step: impl FnOnce() -> T) -> T {
    let quitting = QUITTING.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    if *quitting {
        drop(quitting);
        loop {
            std::thread::park();
        }
    }
    step()
}

/// End the process now with `code`, after `clean` has removed its
/// temporaries. Steps under way in other threads finish first; later ones
/// never start ([`fs_step`]).
pub fn quit_now(clean: impl FnOnce(), code: i32) -> ! {
    let mut quitting = QUITTING.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    *quitting = true;
    clean();
    std::process::exit(code)
}

/// Write `path` through `write`, atomically.
pub fn write_atomic<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> std::result::Result<(), String>,
{
    let tmp = temp_path(path);
    let out = (|| {
        let file = fs_step(|| File::create(&tmp)).map_err(|e| e.to_string())?;
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        w.flush().map_err(|e| e.to_string())?;
        let file = w.into_inner().map_err(|e| e.to_string())?;
        file.sync_all().map_err(|e| e.to_string())?;
        fs_step(|| std::fs::rename(&tmp, path)).map_err(|e| e.to_string())
    })();
    if out.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    out.map_err(|why| Error::new(path, ErrorKind::Output(why)))
}

/// Write bytes atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |w| w.write_all(bytes).map_err(|e| e.to_string()))
}

/// Print a line on stdout. When stdout is a closed pipe (`proctor ... | head
/// -1`), end the program quietly with status 0, as ripgrep does: the reader
/// has all it wanted.
pub fn say_line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|_| out.write_all(b"\n")).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// Print a line on stderr, ignoring a closed stderr.
pub fn warn_line(args: std::fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|_| err.write_all(b"\n"));
}

/// `println!` that ends quietly on a closed pipe.
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => { $crate::output::say_line(format_args!($($t)*)) };
}

/// `eprintln!` that never panics.
#[macro_export]
macro_rules! warn {
    ($($t:tt)*) => { $crate::output::warn_line(format_args!($($t)*)) };
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.json");
        let r = write_atomic(&target, |w| {
            w.write_all(b"half").unwrap();
            Err("disk on fire".into())
        });
        assert!(r.unwrap_err().to_string().contains("disk on fire"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        write_bytes(&target, b"whole").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"whole");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_panic_becomes_an_error_for_its_file() {
        let r: Result<()> = isolate(Path::new("bad.webm"), || panic!("index out of bounds"));
        let e = r.unwrap_err();
        assert!(matches!(e.kind, ErrorKind::Internal(_)));
        assert_eq!(e.to_string(), "bad.webm: internal error, please report it (index out of bounds)");
        assert_eq!(isolate(Path::new("ok.webm"), || Ok(3)).unwrap(), 3);
    }
}
