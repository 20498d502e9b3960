//! Writing a file atomically: to a temporary name beside the target, then a
//! rename, so an interrupted run never leaves a half-written file that looks
//! complete.
//!
//! Every file-system step of the output path goes through this module
//! ([`create_file`], [`create_dir`], [`rename`], the writer [`write_atomic`]
//! hands out, [`LineLog::append`]), so that the tests can make any one of them
//! fail ([`super::faults`], compiled into the unit tests only) and check that
//! nothing half-written is left and nothing is lost.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::faults;
use crate::error::{Error, ErrorKind, Result};


/// The temporary name used while `path` is being written.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// What a name made by [`temp_path`] is the temporary of, and the process
/// id that made it: `.<target>.tmp-<pid>` gives `(target, pid)`.
pub fn temporary_of(name: &str) -> Option<(&str, &str)> {
    let (target, pid) = name.strip_prefix('.')?.rsplit_once(".tmp-")?;
    (!target.is_empty() && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())).then_some((target, pid))
}

/// Remove the temporaries in `dir` ([`temp_path`]'s, made by any process)
/// of the files whose name `of` accepts, in one listing of `dir`. Call only
/// under the lock that guards those files, so that every such temporary is
/// one a killed run left.
pub fn remove_temporaries(dir: &Path, of: impl Fn(&str) -> bool) {
    let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() { Path::new(".") } else { dir }) else { return };
    for e in entries.flatten() {
        if temporary_of(&e.file_name().to_string_lossy()).is_some_and(|(target, _)| of(target)) {
            let _ = std::fs::remove_file(e.path());
        }
    }
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
/// temporaries (and the id locks it holds are released). Steps under way in
/// other threads finish first; later ones never start ([`fs_step`]).
/// End the process now with `code`, after `clean` has removed its
/// temporaries (and the lock files it holds are removed). Steps under way in
/// other threads finish first; later ones never start ([`fs_step`]).
pub fn quit_now(clean: impl FnOnce(), code: i32) -> ! {
    let mut quitting = QUITTING.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    *quitting = true;
    clean();
    super::lock::remove_held();
    std::process::exit(code)
}

/// Create (or truncate) a file of the output path.
pub fn create_file(path: &Path) -> std::io::Result<File> {
    fs_step(|| {
        faults::check(faults::Op::Create, path)?;
        File::create(path)
    })
}

/// Create a directory of the output path (its parent must exist).
pub fn create_dir(path: &Path) -> std::io::Result<()> {
    fs_step(|| {
        faults::check(faults::Op::CreateDir, path)?;
        std::fs::create_dir(path)
    })
}

/// Rename within the output path.
pub fn rename(from: &Path, to: &Path) -> std::io::Result<()> {
    fs_step(|| {
        faults::check(faults::Op::Rename, to)?;
        std::fs::rename(from, to)
    })
}

/// Remove a file of the output path (an old report before the new set moves in).
pub fn remove_file(path: &Path) -> std::io::Result<()> {
    faults::check(faults::Op::Remove, path)?;
    std::fs::remove_file(path)
}

/// The file [`write_atomic`] writes into: a plain file whose writes the
/// fault-injection tests can make fail.
pub struct OutFile {
    file: File,
    path: PathBuf,
}

impl Write for OutFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        faults::check(faults::Op::Write, &self.path)?;
        self.file.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Write `path` through `write`, atomically: into a temporary beside it,
/// flushed and synced, then renamed over it. On any error the temporary is
/// removed and `path` is as it was.
pub fn write_atomic<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<OutFile>) -> std::result::Result<(), String>,
{
    let tmp = temp_path(path);
    let out = (|| {
        let file = create_file(&tmp).map_err(|e| e.to_string())?;
        let mut w = BufWriter::new(OutFile { file, path: tmp.clone() });
        write(&mut w)?;
        w.flush().map_err(|e| e.to_string())?;
        let file = w.into_inner().map_err(|e| e.to_string())?;
        faults::check(faults::Op::Sync, &tmp).map_err(|e| e.to_string())?;
        file.file.sync_all().map_err(|e| e.to_string())?;
        rename(&tmp, path).map_err(|e| e.to_string())
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

/// An append-only file of lines (the batch manifest), whose every line is
/// whole: a line cut short by a failed write is ended before the next one,
/// so it spoils only itself.
pub struct LineLog {
    file: File,
    path: PathBuf,
    /// The file does not end with a newline (a line was cut short).
    open_line: bool,
}

impl LineLog {
    pub fn open(path: &Path) -> std::io::Result<LineLog> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = fs_step(|| std::fs::OpenOptions::new().create(true).read(true).append(true).open(path))?;
        let len = file.metadata()?.len();
        let mut open_line = false;
        if len > 0 {
            file.seek(SeekFrom::Start(len - 1))?;
            let mut last = [0u8; 1];
            file.read_exact(&mut last)?;
            open_line = last[0] != b'\n';
        }
        Ok(LineLog { file, path: path.to_path_buf(), open_line })
    }

    /// Append `line` and a newline, in one write, and sync it.
    pub fn append(&mut self, line: &str) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(line.len() + 2);
        if self.open_line {
            buf.push(b'\n');
        }
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        // a failed write may have written part of the line: end it next time
        self.open_line = true;
        faults::check(faults::Op::Write, &self.path)?;
        self.file.write_all(&buf)?;
        self.file.sync_data()?;
        self.open_line = false;
        Ok(())
    }
}

/// Check, before any recording is decoded, that `dir` can hold outputs:/// create it when missing, then make sure a file can be created in it (an
/// unnamed one, which leaves nothing behind however the process ends).
pub fn check_writable(dir: &Path) -> Result<()> {
    let err = |e: std::io::Error| Error::new(dir, ErrorKind::Output(format!("the output directory cannot be written: {e}")));
    std::fs::create_dir_all(dir).map_err(err)?;
    fs_step(|| {
        faults::check(faults::Op::Create, &dir.join(".proctor-probe"))?;
        tempfile::tempfile_in(dir)
    })
    .map(drop)
    .map_err(err)
}
