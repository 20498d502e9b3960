//! `proctor calibrate`: thresholds learnt from the reviewers' verdicts (the work is in [`crate::calibrate`]).

use std::process::ExitCode;

use crate::calibrate::{calibrate, load_dir, Options};
use crate::cli::CalibrateArgs;

use super::EXIT_FAILED;

/// The command line as typed, for the written file's comments.
fn command_line() -> String {
    let words: Vec<String> = std::env::args().skip(1).collect();
    let quoted: Vec<String> = words
        .iter()
        .map(|w| if !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=@:".contains(c)) { w.clone() } else { format!("'{}'", w.replace('\'', "'\\''")) })
        .collect();
    format!("proctor {}", quoted.join(" ")).replace('\n', " ")
}

pub(super) fn calibrate_cmd(args: &CalibrateArgs) -> ExitCode {
    let mut recordings = Vec::new();
    let (mut orphans, mut failed) = (0, false);
    for dir in &args.dirs {
        match load_dir(dir) {
            Ok(l) => {
                for w in &l.warnings {
                    crate::warn!("proctor: warning: {w}");
                }
                orphans += l.orphans;
                recordings.extend(l.recordings);
            }
            Err(e) => {
                crate::warn!("proctor: error: {e}");
                failed = true;
            }
        }
    }
    // thresholds are learnt from all the directories asked for, or not at all
    if failed {
        return ExitCode::from(EXIT_FAILED);
    }
    let opts = Options { min_verdicts: args.min_verdicts, ..Options::default() };
    let mut report = calibrate(&recordings, &opts);
    report.dirs = args.dirs.iter().map(|d| d.display().to_string()).collect();
    report.orphans = orphans;
    if let Some(path) = &args.output {
        let text = crate::calibrate::to_toml(&report, &command_line());
        // what is written must load as a configuration
        let checked = toml::from_str::<crate::config::Config>(&text).map_err(|e| e.to_string()).and_then(|c| c.validate());
        if let Err(why) = checked {
            crate::warn!("proctor: error: {}: the suggested configuration does not load ({why}): not written", path.display());
            return ExitCode::from(EXIT_FAILED);
        }
        if let Err(e) = crate::output::write_bytes(path, text.as_bytes()) {
            crate::warn!("proctor: error: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    }
    if args.json {
        crate::say!("{}", serde_json::to_string(&report).expect("serialises"));
    } else {
        crate::say!("{}", crate::calibrate::table(&report).trim_end());
    }
    ExitCode::SUCCESS
}
