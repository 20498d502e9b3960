//! `proctor eval`: accuracy against ground truth, or agreement with the reviewers' verdicts.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use indicatif::{MultiProgress, ProgressDrawTarget};

use crate::analyze::{analyze_without_pictures, Settings};
use crate::batch::{self};
use crate::cli::EvalArgs;
use crate::progress::Progress;

use super::{config_and_models, display_name, threads, EXIT_FAILED};
use super::bar::Bar;

pub(super) fn eval_cmd(args: &EvalArgs) -> ExitCode {
    let fail = |msg: String| {
        crate::warn!("proctor: error: {msg}");
        ExitCode::from(EXIT_FAILED)
    };
    if let Some(dir) = &args.decisions {
        return eval_decisions_cmd(dir, args.json, args.csv);
    }
    let Some(truth_path) = &args.truth else { return fail("--truth or --decisions is needed".into()) };
    let truth = match crate::eval::load_truth(truth_path) {
        Ok(t) => t,
        Err(e) => return fail(e.to_string()),
    };
    let items = match batch::discover(&args.clips) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    if let Some(dir) = &args.saved {
        let cfg = match super::build_config(&args.common) {
            Ok(c) => c,
            Err(e) => return fail(e.to_string()),
        };
        let saved = |it: &batch::Item| -> Result<crate::records::Analysis, crate::error::Error> {
            let summary = dir.join(crate::records::OutputFile::Summary.name(&crate::ids::id_of(&display_name(&it.path))));
            let cfg_path = args.common.config.as_deref().unwrap_or(Path::new("--config"));
            crate::load::load_under(&summary, &cfg, cfg_path).map(|(_, b, _)| b)
        };
        return score_clips(args, &truth, truth_path, &items, cfg.events.face_min_score as f32, |it, _| saved(it));
    }
    let (cfg, models) = match config_and_models(&args.common) {
        Ok(v) => v,
        Err(e) => return fail(e.to_string()),
    };
    let settings = Settings { config: cfg, models, threads: threads(&args.common) };
    let show = !args.common.quiet && std::io::stderr().is_terminal();
    let multi = MultiProgress::with_draw_target(if show { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() });
    let min_score = settings.config.events.face_min_score as f32;
    score_clips(args, &truth, truth_path, &items, min_score, |it, name| {
        let bar = Bar::new(&multi, name, show);
        let a = analyze_without_pictures(&it.path, &settings, &bar);
        bar.finish();
        a
    })
}

/// Each labelled clip's analysis (`analysis` of the clip and its display
/// name) scored against its labels, and the results printed.
fn score_clips(
    args: &EvalArgs,
    truth: &crate::eval::Truth,
    truth_path: &Path,
    items: &[batch::Item],
    face_min_score: f32,
    analysis: impl Fn(&batch::Item, &str) -> Result<crate::records::Analysis, crate::error::Error>,
) -> ExitCode {
    let mut results = Vec::new();
    let mut failed = false;
    for it in items {
        let id = crate::eval::clip_id(&it.path);
        let Some(t) = truth.clips.get(&id) else {
            crate::warn!("proctor: warning: {}: no labels for clip '{id}' in {}", it.path.display(), truth_path.display());
            continue;
        };
        let name = display_name(&it.path);
        match analysis(it, &name) {
            Ok(a) => results.push(crate::eval::evaluate_clip(&id, &name, t, &a.observations, &a.events, face_min_score, args.tolerance)),
            Err(e) => {
                crate::warn!("proctor: error: {e}");
                failed = true;
            }
        }
    }
    let summary = crate::eval::EvalSummary::from_clips(results);
    if args.json {
        let mut v = serde_json::to_value(&summary).expect("serialises");
        v["face_count_accuracy"] = serde_json::json!(summary.face_count_accuracy());
        v["overall_f1"] = serde_json::json!(summary.overall.f1());
        crate::say!("{v}");
    } else {
        crate::say!("{}", summary.to_markdown().trim_end_matches('\n'));
    }
    if failed {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// `proctor eval --decisions DIR`: the precision the reviewers' verdicts measure.
pub(super) fn eval_decisions_cmd(dir: &Path, json: bool, csv: bool) -> ExitCode {
    let table = dir.join(crate::review::decisions::TABLE);
    if !dir.is_dir() {
        crate::warn!("proctor: error: {}: not a directory", dir.display());
        return ExitCode::from(EXIT_FAILED);
    }
    if !table.exists() && !dir.join(crate::review::decisions::JOURNAL).exists() {
        crate::warn!("proctor: error: {}: no verdicts yet (give some with `proctor review {}`)", table.display(), dir.display());
        return ExitCode::from(EXIT_FAILED);
    }
    let loaded = match crate::review::decisions::load(dir) {
        Ok(d) => d,
        Err(e) => {
            crate::warn!("proctor: error: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    for p in &loaded.problems {
        crate::warn!("proctor: warning: {p}");
    }
    // verdicts on events the outputs no longer hold are reported, not counted
    let catalog = crate::review::catalog::Catalog::new(dir);
    let judgeable = catalog.judgeable(&loaded.decisions);
    let (live, orphans) = crate::review::decisions::split_orphans(loaded.decisions, &judgeable);
    if csv {
        crate::say!("{}", crate::review::decisions::to_csv(&live, &orphans).trim_end());
        return ExitCode::SUCCESS;
    }
    for (d, why) in &orphans {
        crate::warn!("proctor: warning: a {} verdict on {} at {:.1}-{:.1} s is not counted: {why}", d.verdict.as_str(), d.kind.as_str(), d.start_s, d.end_s);
    }
    let mut e = crate::review::decisions::evaluate(&live);
    e.orphans = orphans.len();
    if json {
        crate::say!("{}", serde_json::to_string(&e).expect("serialises"));
    } else {
        crate::say!("{}", e.to_markdown().trim_end());
    }
    ExitCode::SUCCESS
}
