//! Fault injection for the output path. In the unit tests (`cfg(test)`),
//! [`arm`] makes the n-th file-system step under a directory fail with an
//! errno (ENOSPC, EIO...) or makes a directory vanish just before it; in the
//! program, [`check`] is an inlined no-op.

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
