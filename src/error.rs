//! The library's error: which file, and what went wrong with it.
//!
//! Every error a recording can cause carries the path, so a batch run can
//! report it on one line and move on to the next file.

use std::fmt;
use std::path::{Path, PathBuf};

/// An error tied to one input or output file.
#[derive(Debug)]
pub struct Error {
    pub path: PathBuf,
    pub kind: ErrorKind,
}

/// What went wrong. New kinds may be added.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    NotFound,
    IsDirectory,
    Unreadable(std::io::Error),
    Empty,
    /// FFmpeg could not recognise the container.
    NotMedia(String),
    /// The file has no video stream (for example an audio-only recording).
    NoVideo { has_audio: bool },
    /// A video stream exists but its codec cannot be decoded here.
    UnsupportedCodec(String),
    /// Not a single frame could be decoded.
    NoFrames(String),
    /// Decoding failed in a way that left nothing usable.
    Decode(String),
    /// Writing an output failed.
    Output(String),
    /// Loading or running a model failed.
    Model(String),
    /// The configuration or policy file is wrong.
    Config(String),
    /// A saved output (table or summary) cannot be read back.
    BadOutput(String),
    /// A bug in proctor (a panic), caught at the per-file boundary.
    Internal(String),
    /// Not a regular file: a FIFO, a device, a socket, a broken or looping
    /// symbolic link. The text says which ("is a FIFO (named pipe)...").
    Special(String),
    /// The file changed (was truncated, rewritten or replaced) while it was
    /// being analysed: no result is made from it.
    Changed(String),
}

impl Error {
    pub fn new(path: impl AsRef<Path>, kind: ErrorKind) -> Self {
        Error { path: path.as_ref().to_path_buf(), kind }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::NotFound => write!(f, "no such file"),
            ErrorKind::IsDirectory => write!(f, "is a directory, not a recording"),
            ErrorKind::Unreadable(e) => write!(f, "cannot be read ({e})"),
            ErrorKind::Empty => write!(f, "is empty (0 bytes)"),
            ErrorKind::NotMedia(why) => {
                write!(f, "is not a video file FFmpeg can read ({why})")
            }
            ErrorKind::NoVideo { has_audio: true } => write!(
                f,
                "has no video stream (audio only): proctor needs the camera recording"
            ),
            ErrorKind::NoVideo { has_audio: false } => write!(f, "has no video stream"),
            ErrorKind::UnsupportedCodec(c) => write!(f, "uses a video codec this FFmpeg cannot decode ({c})"),
            ErrorKind::NoFrames(why) => write!(f, "no video frame could be decoded ({why})"),
            ErrorKind::Decode(why) => write!(f, "decoding failed ({why})"),
            ErrorKind::Output(why) => write!(f, "cannot write output ({why})"),
            ErrorKind::Model(why) => write!(f, "model error ({why})"),
            ErrorKind::Config(why) => write!(f, "bad configuration ({why})"),
            ErrorKind::BadOutput(why) => write!(f, "is not a readable proctor output ({why})"),
            ErrorKind::Internal(why) => write!(f, "internal error, please report it ({why})"),
            ErrorKind::Special(what) => write!(f, "{what}"),
            ErrorKind::Changed(how) => write!(
                f,
                "changed while it was being analysed ({how}): no result was kept; analyse it again once the file is complete"
            ),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.kind)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Unreadable(e) => Some(e),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
