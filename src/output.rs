//! Writing outputs safely: to a temporary name beside the target, then a
//! rename, so an interrupted run never leaves a half-written file that looks
//! complete.
//!
//! Every file-system step of the output path goes through this module
//! ([`create_file`], [`create_dir`], [`rename`], the writer [`write_atomic`]
//! hands out, [`append_line`]), so that the tests can make any one of them
//! fail ([`faults`], compiled into the unit tests only) and check that
//! nothing half-written is left and nothing is lost.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

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
/// temporaries (and the id locks it holds are released). Steps under way in
/// other threads finish first; later ones never start ([`fs_step`]).
pub fn quit_now(clean: impl FnOnce(), code: i32) -> ! {
    let mut quitting = QUITTING.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    *quitting = true;
    clean();
    for p in HELD_LOCKS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).drain(..) {
        let _ = std::fs::remove_file(p);
    }
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

/// Check, before any recording is decoded, that `dir` can hold outputs:
/// create it when missing, then create and remove a file in it.
pub fn check_writable(dir: &Path) -> Result<()> {
    let err = |e: std::io::Error| Error::new(dir, ErrorKind::Output(format!("the output directory cannot be written: {e}")));
    std::fs::create_dir_all(dir).map_err(err)?;
    // named like a temporary, so that one left by a kill is cleaned as one
    let probe = dir.join(format!(".proctor-probe.tmp-{}", std::process::id()));
    let made = fs_step(|| {
        faults::check(faults::Op::Create, &probe)?;
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&probe)
    });
    match made {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(err(e)),
    }
}

/// Lock files held by this process, removed by [`quit_now`].
static HELD_LOCKS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Whether process `pid` exists.
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    #[cfg(unix)]
    {
        // SAFETY: signal 0 only checks that the process exists and may be signalled.
        let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    // elsewhere a lock is never taken over: the message names the file to remove
    #[cfg(not(unix))]
    true
}

/// The exclusive right to write one recording id into one directory: two
/// runs writing the same id there would otherwise race, the last writer
/// silently winning. A lock file `.<id>.lock` holding the owner's process
/// id, made with `create_new`; removed when dropped. A lock whose process is
/// no longer running (killed) is taken over.
#[derive(Debug)]
pub struct IdLock {
    path: PathBuf,
}

impl IdLock {
    pub fn path_for(dir: &Path, id: &str) -> PathBuf {
        dir.join(format!(".{id}.lock"))
    }

    pub fn acquire(dir: &Path, id: &str) -> Result<IdLock> {
        let path = Self::path_for(dir, id);
        let out_err = |why: String| Error::new(&path, ErrorKind::Output(why));
        std::fs::create_dir_all(dir).map_err(|e| Error::new(dir, ErrorKind::Output(e.to_string())))?;
        for attempt in 0..6 {
            match Self::acquire_once(&path) {
                Ok(lock) => return Ok(lock),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = std::fs::read_to_string(&path).ok().and_then(|s| s.trim().parse::<u32>().ok());
                    match owner {
                        Some(pid) if process_alive(pid) => {
                            return Err(Error::new(
                                dir,
                                ErrorKind::Output(format!(
                                    "another proctor run (pid {pid}) is writing the outputs of '{id}' here; \
                                     wait for it to finish or choose another output directory"
                                )),
                            ))
                        }
                        // its owner is gone: a killed run
                        Some(_) => {
                            let _ = std::fs::remove_file(&path);
                        }
                        // being made this instant (its pid not yet written), or
                        // left empty by a run killed while making it
                        None if attempt < 3 => std::thread::sleep(std::time::Duration::from_millis(100)),
                        None => {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(out_err(e.to_string())),
            }
        }
        Err(out_err("the lock file keeps being made by another run".into()))
    }

    fn acquire_once(path: &Path) -> std::io::Result<IdLock> {
        let mut f = fs_step(|| std::fs::OpenOptions::new().write(true).create_new(true).open(path))?;
        HELD_LOCKS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(path.to_path_buf());
        let lock = IdLock { path: path.to_path_buf() };
        f.write_all(std::process::id().to_string().as_bytes())?;
        Ok(lock)
    }
}

impl Drop for IdLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        HELD_LOCKS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|p| p != &self.path);
    }
}

/// Set when a write to stdout failed for a reason other than a closed pipe.
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

/// Print a line on stdout. When stdout is a closed pipe (`proctor ... | head
/// -1`), end the program quietly with status 0, as ripgrep does: the reader
/// has all it wanted. Any other error (a full disk, an I/O error) is said on
/// stderr once, and [`stdout_failed`] makes the command's exit status 2.
pub fn say_line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = write_line(&mut out, args) {
        stdout_error(e);
    }
}

fn write_line(out: &mut impl Write, args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    out.write_fmt(args).and_then(|_| out.write_all(b"\n")).and_then(|_| out.flush())
}

/// What a failed write to stdout does: a closed pipe ends the program with
/// status 0; anything else is reported once and remembered.
fn stdout_error(e: std::io::Error) {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    if !STDOUT_FAILED.swap(true, Ordering::SeqCst) {
        warn_line(format_args!("proctor: error: standard output: cannot write ({e})"));
    }
}

/// Whether a write to stdout failed (not counting a closed pipe). Flushes
/// stdout first, so that nothing still buffered is lost unnoticed.
pub fn stdout_failed() -> bool {
    if let Err(e) = std::io::stdout().lock().flush() {
        stdout_error(e);
    }
    STDOUT_FAILED.load(Ordering::SeqCst)
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

/// Fault injection for the output path. In the unit tests (`cfg(test)`),
/// [`faults::arm`] makes the n-th file-system step under a directory fail
/// with an errno (ENOSPC, EIO...) or makes a directory vanish just before
/// it; in the program, [`faults::check`] is an inlined no-op.
pub mod faults {

    /// The kinds of step that can be made to fail.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Op {
        Create,
        CreateDir,
        Write,
        Sync,
        Rename,
        Remove,
    }

    #[cfg(not(test))]
    #[inline(always)]
    pub(crate) fn check(_op: Op, _path: &std::path::Path) -> std::io::Result<()> {
        Ok(())
    }

    #[cfg(test)]
    pub(crate) use imp::check;
    #[cfg(test)]
    pub use imp::{arm, Effect, Guard};

    #[cfg(test)]
    mod imp {
        use super::Op;
        use std::path::{Path, PathBuf};
        use std::sync::Mutex;

        /// What happens at the chosen step.
        #[derive(Debug, Clone)]
        pub enum Effect {
            /// The step fails with this errno (libc::ENOSPC, libc::EIO...).
            Fail(i32),
            /// This directory (and what it holds) is removed, then the step runs.
            Vanish(PathBuf),
        }

        struct Armed {
            id: u64,
            under: PathBuf,
            op: Option<Op>,
            nth: usize,
            effect: Effect,
            seen: usize,
            fired: bool,
        }

        static ARMED: Mutex<Vec<Armed>> = Mutex::new(Vec::new());
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

        /// Armed until dropped.
        pub struct Guard(u64);

        impl Guard {
            fn with<T>(&self, f: impl FnOnce(&Armed) -> T) -> T {
                let armed = ARMED.lock().unwrap_or_else(|e| e.into_inner());
                f(armed.iter().find(|a| a.id == self.0).expect("armed"))
            }
            /// Steps of the chosen kind seen under the directory so far.
            pub fn seen(&self) -> usize {
                self.with(|a| a.seen)
            }
            pub fn fired(&self) -> bool {
                self.with(|a| a.fired)
            }
        }

        impl Drop for Guard {
            fn drop(&mut self) {
                ARMED.lock().unwrap_or_else(|e| e.into_inner()).retain(|a| a.id != self.0);
            }
        }

        /// Make the `nth` (1-based) step of kind `op` (any kind: `None`) on a
        /// path under `under` have `effect`. Steps elsewhere are not counted,
        /// so tests in their own temporary directories do not disturb each other.
        pub fn arm(under: &Path, op: Option<Op>, nth: usize, effect: Effect) -> Guard {
            let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            ARMED.lock().unwrap_or_else(|e| e.into_inner()).push(Armed {
                id,
                under: under.to_path_buf(),
                op,
                nth,
                effect,
                seen: 0,
                fired: false,
            });
            Guard(id)
        }

        pub(crate) fn check(op: Op, path: &Path) -> std::io::Result<()> {
            let mut vanish = None;
            {
                let mut armed = ARMED.lock().unwrap_or_else(|e| e.into_inner());
                for a in armed.iter_mut().filter(|a| path.starts_with(&a.under) && a.op.is_none_or(|o| o == op)) {
                    a.seen += 1;
                    if a.seen == a.nth {
                        a.fired = true;
                        match &a.effect {
                            Effect::Fail(errno) => return Err(std::io::Error::from_raw_os_error(*errno)),
                            Effect::Vanish(dir) => vanish = Some(dir.clone()),
                        }
                    }
                }
            }
            if let Some(dir) = vanish {
                let _ = std::fs::remove_dir_all(dir);
            }
            Ok(())
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

    use faults::{arm, Effect, Op};

    /// Names in `dir` (recursively) that are temporaries or locks.
    fn leftovers(dir: &Path) -> Vec<String> {
        walkdir::WalkDir::new(dir)
            .into_iter()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".proctor-") || n.contains(".tmp-") || n.ends_with(".lock"))
            .collect()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir).map_or_else(|_| Vec::new(), |rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect());
        v.sort();
        v
    }

    #[test]
    fn every_failing_step_of_an_atomic_write_keeps_the_old_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t.bin");
        // big enough for several writes through the buffer
        let new: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        for (errno, what) in [(libc::ENOSPC, "No space left"), (libc::EIO, "Input/output error")] {
            let mut n = 1;
            loop {
                std::fs::write(&target, b"old").unwrap();
                let guard = arm(dir.path(), None, n, Effect::Fail(errno));
                let r = write_atomic(&target, |w| {
                    for c in new.chunks(10_000) {
                        w.write_all(c).map_err(|e| e.to_string())?;
                    }
                    Ok(())
                });
                let fired = guard.fired();
                drop(guard);
                if !fired {
                    r.unwrap();
                    assert_eq!(std::fs::read(&target).unwrap(), new);
                    break;
                }
                let e = r.unwrap_err();
                assert!(e.to_string().contains(what) && e.to_string().contains("t.bin"), "step {n}: {e}");
                assert_eq!(std::fs::read(&target).unwrap(), b"old", "step {n} ({what})");
                assert_eq!(names(dir.path()), ["t.bin"], "step {n} ({what})");
                n += 1;
            }
            // create, writes, sync, rename: at least four steps were failed
            assert!(n > 4, "{n}");
        }
    }

    /// An analysis (no models: fast) of a short fixture.
    fn analysis() -> crate::analyze::Analysis {
        let settings = crate::analyze::Settings { config: Default::default(), models: Default::default(), threads: 1 };
        let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/vp8_noaudio.webm");
        let mut a = crate::analyze::analyze(&f, &settings, &crate::progress::NoProgress).unwrap();
        a.recording = "rec".into();
        a
    }

    #[test]
    fn every_failing_step_of_writing_a_recording_leaves_a_whole_set_or_none() {
        let mut a = analysis();
        let opts = crate::save::WriteOptions { save_embeddings: true, ..Default::default() };
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        // the old set, of another run (another candidate)
        a.candidate = Some("Old".into());
        crate::save::write_all_with(&a, &out, &opts).unwrap();
        a.candidate = Some("New".into());
        let old: Vec<(String, Vec<u8>)> = names(&out).into_iter().map(|n| (n.clone(), std::fs::read(out.join(&n)).unwrap())).collect();
        let counted = arm(&out, None, usize::MAX, Effect::Fail(0));
        crate::save::write_all_with(&a, &out, &opts).unwrap();
        let steps = counted.seen();
        drop(counted);
        assert!(steps >= 20, "{steps} steps");
        let tmp_dir = out.join(format!("{}rec-{}", crate::save::TEMP_PREFIX, std::process::id()));
        let mut failures = 0;
        for n in 1..=steps {
            for effect in [Effect::Fail(libc::ENOSPC), Effect::Fail(libc::EIO), Effect::Vanish(tmp_dir.clone())] {
                // start from the old set each time
                for f in names(&out) {
                    std::fs::remove_file(out.join(f)).unwrap();
                }
                for (name, bytes) in &old {
                    std::fs::write(out.join(name), bytes).unwrap();
                }
                let guard = arm(&out, None, n, effect.clone());
                let r = crate::save::write_all_with(&a, &out, &opts);
                assert!(guard.fired(), "step {n} of {steps}");
                drop(guard);
                let case = format!("step {n} of {steps}, {effect:?}");
                assert!(leftovers(&out).is_empty(), "{case}: {:?}", leftovers(&out));
                let report = out.join("rec.report.pdf");
                match r {
                    Ok(_) => {
                        // a directory that vanished before it was needed is made again... or
                        // the step was one whose loss does not matter: the new set is whole
                        assert!(matches!(effect, Effect::Vanish(_)), "{case}: a failed step was ignored");
                        let s: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("rec.summary.json")).unwrap()).unwrap();
                        assert_eq!(s["candidate"], "New", "{case}");
                    }
                    Err(e) => {
                        failures += 1;
                        assert!(e.to_string().contains(&out.display().to_string()), "{case}: {e}");
                        // nothing half-written: a present report is the old one, with all its tables
                        if report.exists() {
                            for (name, bytes) in &old {
                                if name.ends_with(".summary.json") || name.ends_with(".report.pdf") {
                                    assert_eq!(&std::fs::read(out.join(name)).unwrap(), bytes, "{case}: {name}");
                                } else {
                                    assert!(out.join(name).exists(), "{case}: {name}");
                                }
                            }
                        }
                    }
                }
                // nothing stuck: the next run writes the whole new set
                crate::save::write_all_with(&a, &out, &opts).unwrap_or_else(|e| panic!("{case}: then {e}"));
                let s: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("rec.summary.json")).unwrap()).unwrap();
                assert_eq!(s["candidate"], "New", "{case}");
                assert!(leftovers(&out).is_empty(), "{case}");
            }
        }
        assert!(failures >= 2 * steps, "{failures} failures in {steps} steps");
    }

    #[test]
    fn a_failing_line_log_spoils_only_its_own_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.jsonl");
        std::fs::write(&p, "{\"a\":1}\n{\"cut").unwrap();
        let mut log = LineLog::open(&p).unwrap();
        log.append("{\"b\":2}").unwrap();
        {
            let _g = arm(dir.path(), Some(Op::Write), 1, Effect::Fail(libc::ENOSPC));
            assert!(log.append("{\"c\":3}").unwrap_err().to_string().contains("No space left"));
        }
        log.append("{\"d\":4}").unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let whole: Vec<&str> = text.lines().filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()).collect();
        assert_eq!(whole, ["{\"a\":1}", "{\"b\":2}", "{\"d\":4}"], "{text}");
    }

    #[test]
    fn a_write_error_on_stdout_is_an_error_but_not_a_closed_pipe() {
        struct Failing(std::io::ErrorKind);
        impl Write for Failing {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::from(self.0))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let e = write_line(&mut Failing(std::io::ErrorKind::StorageFull), format_args!("x")).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::StorageFull);
        let mut ok = Vec::new();
        write_line(&mut ok, format_args!("a {}", 1)).unwrap();
        assert_eq!(ok, b"a 1\n");
    }

    #[test]
    fn an_id_lock_refuses_a_live_owner_and_takes_over_a_dead_one() {
        let dir = tempfile::tempdir().unwrap();
        let lock = IdLock::acquire(dir.path(), "exam").unwrap();
        let p = IdLock::path_for(dir.path(), "exam");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), std::process::id().to_string());
        // a second writer of the same id (this process stands for a live one)
        let e = IdLock::acquire(dir.path(), "exam").unwrap_err();
        assert!(e.to_string().contains(&format!("another proctor run (pid {})", std::process::id())), "{e}");
        // another id is free
        drop(IdLock::acquire(dir.path(), "other").unwrap());
        drop(lock);
        assert!(!p.exists());
        // left by a killed run: pid 0 is never a user process
        std::fs::write(&p, "0").unwrap();
        let again = IdLock::acquire(dir.path(), "exam").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), std::process::id().to_string());
        drop(again);
        // and one left empty by a run killed while making it
        std::fs::write(&p, "").unwrap();
        drop(IdLock::acquire(dir.path(), "exam").unwrap());
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn an_unwritable_output_directory_is_found_before_any_work() {
        let dir = tempfile::tempdir().unwrap();
        check_writable(&dir.path().join("new/deeper")).unwrap();
        assert!(dir.path().join("new/deeper").is_dir());
        assert!(names(&dir.path().join("new/deeper")).is_empty());
        // under a file (fails for root too)
        std::fs::write(dir.path().join("file"), b"x").unwrap();
        let e = check_writable(&dir.path().join("file/out")).unwrap_err();
        assert!(e.to_string().contains("the output directory cannot be written"), "{e}");
        // a full disk
        let _g = arm(dir.path(), Some(Op::Create), 1, Effect::Fail(libc::ENOSPC));
        assert!(check_writable(dir.path()).unwrap_err().to_string().contains("No space left"));
    }
}
