//! The progress bar of one recording (indicatif): media time done and speed.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::progress::Progress;

/// An indicatif bar per recording: media time done / total and speed as a
/// multiple of real time.
pub(super) struct Bar {
    bar: ProgressBar,
}

impl Bar {
    pub(super) fn new(multi: &MultiProgress, name: &str, visible: bool) -> Bar {
        let bar = if visible { multi.add(ProgressBar::new(0)) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{prefix:.bold} [{bar:30.cyan/blue}] {msg} {elapsed_precise} (eta {eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(name.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        Bar { bar }
    }
}

impl Progress for Bar {
    fn start(&self, total_s: f64) {
        self.bar.set_length((total_s * 10.0).round() as u64);
        self.bar.reset_elapsed();
    }
    fn advance(&self, media_s: f64) {
        self.bar.inc((media_s * 10.0).round() as u64);
        let done = self.bar.position() as f64 / 10.0;
        let total = self.bar.length().unwrap_or(0) as f64 / 10.0;
        let el = self.bar.elapsed().as_secs_f64().max(1e-3);
        self.bar.set_message(format!("{done:.0}/{total:.0} s media, {:.1}x real time", done / el));
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
