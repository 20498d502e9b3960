//! `proctor review`: start the review desk on an output directory.

use std::process::ExitCode;

use crate::cli::ReviewArgs;

use super::EXIT_FAILED;

/// `proctor review DIR`: serve the desk until killed.
pub(super) fn review_cmd(args: ReviewArgs) -> ExitCode {
    if !args.dir.is_dir() {
        crate::warn!("proctor: error: {}: not a directory (give an `analyze` or `batch` output directory)", args.dir.display());
        return ExitCode::from(EXIT_FAILED);
    }
    let opts = crate::review::server::ServeOptions {
        dir: args.dir.clone(),
        listen: args.listen,
        port: args.port,
        reviewer: args.reviewer.clone().filter(|r| !r.trim().is_empty()).unwrap_or_else(crate::review::server::default_reviewer),
        open: args.open,
        idle: std::time::Duration::from_secs(args.idle_timeout),
        new_token: args.new_token,
    };
    match crate::review::server::run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::warn!("proctor: error: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}
