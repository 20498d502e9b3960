//! Lines on stdout and stderr that never panic: a closed stdout pipe ends
//! the program quietly, any other write error is said once and makes the
//! exit status 2.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

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

pub(crate) fn write_line(out: &mut impl Write, args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
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
