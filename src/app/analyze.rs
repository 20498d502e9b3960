//! `proctor analyze`: analyse each recording given, save its outputs, say how it went.

use std::io::IsTerminal;
use std::process::ExitCode;

use indicatif::{MultiProgress, ProgressDrawTarget};

use crate::analyze::Settings;
use crate::cli::AnalyzeArgs;
use crate::progress::Progress;
use crate::save::WriteOptions;

use super::{config_and_models, display_name, threads, EXIT_FAILED, EXIT_INTERRUPTED};
use super::bar::Bar;

pub(super) fn analyze_cmd(args: AnalyzeArgs) -> ExitCode {
    // checked before anything is loaded or decoded
    if let Err(e) = crate::output::check_writable(&args.outdir) {
        crate::warn!("proctor: error: {e}");
        return ExitCode::from(EXIT_FAILED);
    }
    {
        // Ctrl-C, SIGTERM, SIGHUP: remove this run's temporaries (the evidence
        // pictures in $TMPDIR, the outputs being written) and quit
        let outdir = args.outdir.clone();
        let _ = ctrlc::set_handler(move || {
            crate::output::quit_now(
                || crate::save::clean_own(&outdir),
                EXIT_INTERRUPTED as i32,
            )
        });
    }
    let (cfg, models) = match config_and_models(&args.common) {
        Ok(v) => v,
        Err(e) => {
            crate::warn!("proctor: error: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let reference = match args.reference.as_deref().map(|photo| crate::identity::load_reference(photo, &models, &cfg)).transpose() {
        Ok(r) => r,
        Err(e) => {
            crate::warn!("proctor: error: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let settings = Settings { config: cfg, models, threads: threads(&args.common) };
    let show = !args.common.quiet && std::io::stderr().is_terminal() && std::io::stdout().is_terminal();
    let multi = MultiProgress::with_draw_target(if show { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() });
    // one id per input, distinct within the run (crate::ids)
    let ids = crate::ids::ids_for_files(&args.files);
    let write_opts = WriteOptions { save_embeddings: args.save_embeddings, no_review_page: args.no_review_page, no_report: false };
    let mut failed = 0usize;
    for (path, id) in args.files.iter().zip(&ids) {
        let bar = Bar::new(&multi, &display_name(path), show);
        let job = crate::job::Job {
            path,
            id,
            outdir: &args.outdir,
            candidate: args.candidate.clone(),
            reference: reference.as_ref(),
            warning: None,
            write: write_opts,
        };
        let result = crate::output::isolate(path, || crate::job::run(&job, &settings, &bar, |_| Ok(())));
        bar.finish();
        match result {
            Ok((a, out)) => {
                for w in &a.warnings {
                    if !args.common.quiet && !args.json {
                        let _ = multi.println(format!("proctor: warning: {}: {w}", path.display()));
                    }
                }
                if args.json {
                    let line = serde_json::json!({
                        "path": path.display().to_string(),
                        "status": "ok",
                        "recording": a.recording,
                        "duration_s": a.info.duration_s,
                        "score": a.score.value,
                        "band": a.score.band.as_str(),
                        "events": a.events.len(),
                        "warnings": a.warnings,
                        "outputs": out,
                    });
                    crate::say!("{line}");
                } else if !args.common.quiet {
                    crate::say!(
                        "{}: score {:.0} ({} risk), {} event{}, {:.1} s of media in {:.1} s -> {}",
                        path.display(),
                        a.score.value,
                        a.score.band.as_str(),
                        a.events.len(),
                        if a.events.len() == 1 { "" } else { "s" },
                        a.info.duration_s,
                        a.elapsed_s,
                        out.report.display()
                    );
                }
            }
            Err(e) => {
                failed += 1;
                crate::warn!("proctor: error: {e}");
                if args.json {
                    crate::say!("{}", serde_json::json!({"path": path.display().to_string(), "status": "error", "error": e.kind.to_string()}));
                }
            }
        }
    }
    if failed > 0 {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}
