//! `proctor batch` and `proctor batch merge`: an archive, with bars, a summary line and exit codes.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::analyze::Settings;
use crate::batch::{self, BatchOptions, BatchProgress, CandidateSource, ReferenceSource, Row, Shard};
use crate::cli::BatchArgs;
use crate::progress::Progress;
use crate::save::WriteOptions;

use super::{config_and_models, threads, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_UNDER};
use super::bar::Bar;

/// Archive bar (files done / total, ETA) above the per-file bars.
struct BatchBars {
    multi: MultiProgress,
    archive: ProgressBar,
    show: bool,
    /// Recordings skipped by `--resume` (done before, outputs intact).
    skipped: std::sync::atomic::AtomicUsize,
}

impl BatchProgress for BatchBars {
    fn file_progress(&self, id: &str) -> Box<dyn Progress + '_> {
        Box::new(Bar::new(&self.multi, id, self.show))
    }
    fn file_done(&self, row: &Row, skipped: bool) {
        self.archive.inc(1);
        if skipped {
            self.skipped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.archive.set_message(format!("skipped {} (done before)", row.id));
        }
        if let Some(e) = &row.error {
            let _ = self.multi.println(format!("proctor: error: {}: {e}", row.path));
        }
    }
}

/// The exit status of a batch: 2 when a recording failed, 1 when one scored
/// under `fail_under`, else 0.
pub fn exit_for(rows: &[Row], fail_under: Option<f64>) -> u8 {
    if rows.iter().any(|r| !r.is_ok()) {
        EXIT_FAILED
    } else if fail_under.is_some_and(|min| rows.iter().any(|r| r.score.is_some_and(|s| s < min))) {
        EXIT_UNDER
    } else {
        0
    }
}

/// The run's last line: what it did to how many recordings.
pub fn batch_summary_line(rows: &[Row], skipped: usize) -> String {
    let ok = rows.iter().filter(|r| r.is_ok()).count();
    let failed = rows.len() - ok;
    if skipped > 0 {
        format!("{} recordings: {} analysed, {} skipped (done before), {} failed", rows.len(), ok.saturating_sub(skipped), skipped, failed)
    } else {
        format!("{} recordings: {} analysed, {} failed", rows.len(), ok, failed)
    }
}

fn print_batch_summary(rows: &[Row], skipped: usize, quiet: bool) {
    let failed: Vec<&Row> = rows.iter().filter(|r| !r.is_ok()).collect();
    if !quiet {
        crate::say!("{}", batch_summary_line(rows, skipped));
    }
    for r in failed {
        crate::warn!("proctor: failed: {}: {}", r.path, r.error.as_deref().unwrap_or("unknown error"));
    }
}

pub(super) fn batch_cmd(args: BatchArgs) -> ExitCode {
    let fail = |msg: String| {
        crate::warn!("proctor: error: {msg}");
        ExitCode::from(EXIT_FAILED)
    };
    if args.merge {
        let shards: Vec<PathBuf> = args.inputs.iter().map(PathBuf::from).collect();
        return match batch::merge(&shards, &args.outdir, args.force) {
            Ok(rows) => {
                if !args.common.quiet {
                    crate::say!("{} shard(s) merged: {}", shards.len(), batch_summary_line(&rows, 0).replace(" analysed,", " done,"));
                }
                print_batch_summary(&rows, 0, true);
                ExitCode::from(exit_for(&rows, args.fail_under))
            }
            Err(e) => fail(e.to_string()),
        };
    }
    let (cfg, models) = match config_and_models(&args.common) {
        Ok(v) => v,
        Err(e) => return fail(e.to_string()),
    };
    let mut items = match batch::discover(&args.inputs) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    if let Some(spec) = &args.shard {
        match spec.parse::<Shard>() {
            Ok(shard) => items.retain(|it| shard.contains(it)),
            Err(e) => return fail(format!("--shard: {e}")),
        }
    }
    let candidates = match args.candidate_from.as_deref().map(CandidateSource::parse).transpose() {
        Ok(c) => c.unwrap_or(CandidateSource::None),
        Err(e) => return fail(e),
    };
    let references = match args.reference_from.as_deref().map(ReferenceSource::parse).transpose() {
        Ok(r) => r.unwrap_or(ReferenceSource::None),
        Err(e) => return fail(e),
    };
    let total = threads(&args.common);
    let jobs = args.jobs.filter(|j| *j > 0).unwrap_or((total / 2).max(1));
    let settings = Settings { config: cfg, models, threads: (total / jobs).max(1) };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let stop = stop.clone();
        let outdir = args.outdir.clone();
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, std::sync::atomic::Ordering::SeqCst) {
                // quit now, leaving no temporaries of this run behind
                crate::output::quit_now(|| crate::batch::clean_own_temporaries(&outdir), EXIT_INTERRUPTED as i32);
            }
            crate::warn!("proctor: interrupted: finishing the recordings under way (Ctrl-C again to quit now)");
        });
    }
    let show = !args.common.quiet && std::io::stderr().is_terminal() && std::io::stdout().is_terminal();
    let multi = MultiProgress::with_draw_target(if show { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() });
    let archive = if show { multi.add(ProgressBar::new(items.len() as u64)) } else { ProgressBar::hidden() };
    archive.set_style(
        ProgressStyle::with_template("archive [{bar:30.green/white}] {pos}/{len} recordings, eta {eta} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let bars = BatchBars { multi, archive, show, skipped: Default::default() };
    let opts = BatchOptions {
        outdir: args.outdir.clone(),
        jobs,
        resume: args.resume,
        candidates,
        references,
        write: WriteOptions { save_embeddings: args.save_embeddings, no_review_page: args.no_review_page, no_report: false },
    };
    let rows = match batch::run_batch(&items, &settings, &opts, &bars, &stop) {
        Ok(r) => r,
        Err(e) => return fail(e.to_string()),
    };
    bars.archive.finish_and_clear();
    print_batch_summary(&rows, bars.skipped.load(std::sync::atomic::Ordering::Relaxed), args.common.quiet);
    if stop.load(std::sync::atomic::Ordering::SeqCst) {
        crate::warn!("proctor: interrupted after {} of {} recordings; run again with --resume", rows.len(), items.len());
        return ExitCode::from(EXIT_INTERRUPTED);
    }
    ExitCode::from(exit_for(&rows, args.fail_under))
}
