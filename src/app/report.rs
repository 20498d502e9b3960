//! `proctor report`: render a saved analysis again (another policy, a fresh PDF).

use std::path::{Path, PathBuf};

use crate::cli::ReportArgs;
use crate::config::{load_policy, Config};
use crate::error::{Error, ErrorKind};
use crate::report;

/// `proctor report`: the report of a saved analysis, loaded whole
/// ([`crate::load`]): the recording is not decoded. `--config` derives the
/// events again from the saved observations under that configuration
/// ([`crate::rules`]); `--policy` re-scores the same events; the page then
/// says which.
pub(super) fn report_cmd(args: &ReportArgs) -> Result<(), Error> {
    let summary = crate::load::find_summary(&args.input, args.id.as_deref())?;
    let mut a = crate::load::load(&summary)?;
    if let Some(p) = &args.config {
        // the events that configuration raises, derived again from what was seen
        let cfg = Config::load(p)?;
        crate::load::check_rederivable(&summary)?;
        let (b, change) = crate::load::rules_under(&a, &cfg, p)?;
        a = b;
        a.warnings.insert(0, format!(
            "events derived again from the saved observations under the configuration {} (not the analysis's own): {}",
            p.display(),
            change.describe()
        ));
    }
    if let Some(p) = &args.policy {
        a.config.policy = load_policy(p)?;
        a.warnings.push(format!("re-scored under the policy {} (not the analysis's own)", p.display()));
    }
    // the score is always that of the events shown: outputs edited by hand (an
    // event's kind changed, one removed) get counts and a score that match them
    let rescored = crate::score::score(&a.events, &a.config.policy);
    if args.config.is_none() && args.policy.is_none() && rescored != a.score {
        let w = format!("the events do not give the score the summary holds ({:.0}, now {:.0}): edited by hand? The score is computed again from the events", a.score.value, rescored.value);
        crate::warn!("proctor: warning: {}: {w}", summary.display());
        a.warnings.push(w);
    }
    a.score = rescored;
    if let Some(c) = &args.candidate {
        a.candidate = Some(c.clone());
    }
    // under another configuration or policy, the analysis's own report stays
    let name = match args.config.as_ref().or(args.policy.as_ref()).and_then(|p| p.file_stem()) {
        Some(stem) => format!("{}.report.{}.pdf", a.recording, stem.to_string_lossy()),
        None => crate::records::OutputFile::Report.name(&a.recording),
    };
    let out: PathBuf = args.output.clone().unwrap_or_else(|| summary.with_file_name(name));
    // the review page beside the summary, linked from where the report goes
    let page = summary.with_file_name(crate::review::page::file_name(&a.recording));
    let from = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let link = page.exists().then(|| crate::review::relative_url(from, &page)).flatten();
    let pdf = report::render_linked(&a, link).map_err(|why| Error::new(&summary, ErrorKind::Output(why)))?;
    crate::output::write_bytes(&out, &pdf)?;
    if args.json {
        crate::say!(
            "{}",
            serde_json::json!({"events": a.events.len(), "score": a.score.value, "band": a.score.band.as_str(), "report": out.display().to_string()})
        );
    } else {
        crate::say!(
            "{}: score {:.0} ({} risk), {} events -> {}",
            summary.display(),
            a.score.value,
            a.score.band.as_str(),
            a.events.len(),
            out.display()
        );
    }
    Ok(())
}
