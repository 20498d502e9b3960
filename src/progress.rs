//! Progress reporting, passed in by the caller: the library never owns a
//! terminal. The CLI puts indicatif bars behind this trait; tests pass
//! [`NoProgress`].

/// Receives progress of one recording's analysis, in seconds of media.
pub trait Progress: Sync {
    /// Analysis of a recording of `total_s` seconds starts.
    fn start(&self, _total_s: f64) {}
    /// `media_s` more seconds of media have been analysed.
    fn advance(&self, _media_s: f64) {}
    /// The recording is done (successfully or not).
    fn finish(&self) {}
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {}
