//! The commands behind the CLI, one file each (`app/<command>.rs`): what
//! they share is here: the configuration and models every analysing command
//! starts from, the exit codes, and the dispatch.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::{Cli, Command, CommonArgs};
use crate::config::Config;
use crate::detect::models::Which;
use crate::detect::Models;
use crate::error::{Error, ErrorKind};

mod analyze;
mod bar;
mod batch;
mod calibrate;
mod detect;
mod eval;
mod report;
mod rescore;
mod review;

pub use batch::{batch_summary_line, exit_for};
pub use detect::parse_frame_spec;

/// Exit status when some input could not be processed.
pub const EXIT_FAILED: u8 = 2;

/// Keep freed memory for reuse instead of handing it back to the kernel.
/// The networks allocate and free tensors of the same few sizes (0.1 to 10
/// MB) for every frame; with glibc's defaults most of them are fresh mmaps,
/// and the page faults and zeroing cost about 2 s of system time per minute
/// of 720p video (`perf`: 13% of samples in the kernel). Raising the mmap
/// and trim thresholds brings that to about 1 s for some 30 MB more RSS.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
        libc::mallopt(libc::M_TOP_PAD, 16 << 20);
    }
}

pub fn run(cli: Cli) -> ExitCode {
    let code = run_command(cli);
    // stdout that could not be written (a full disk, an I/O error; not a
    // closed pipe): what was asked for was not delivered
    if crate::output::stdout_failed() {
        return ExitCode::from(EXIT_FAILED);
    }
    code
}

fn run_command(cli: Cli) -> ExitCode {
    if matches!(cli.command, Command::Analyze(_) | Command::Batch(_) | Command::Detect(_) | Command::Eval(_)) {
        // before any thread starts (the signal handler's is the first)
        crate::detect::models::one_thread_per_network_at_start();
    }
    if !matches!(cli.command, Command::Analyze(_) | Command::Batch(_)) {
        // SIGTERM and SIGHUP end every command as Ctrl-C does, with 130 (analyze
        // and batch set their own handler, which also removes their temporaries)
        let _ = ctrlc::set_handler(|| std::process::exit(i32::from(EXIT_INTERRUPTED)));
    }
    match cli.command {
        Command::Analyze(args) => analyze::analyze_cmd(args),
        Command::Report(args) => match report::report_cmd(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                crate::warn!("proctor: error: {e}");
                ExitCode::from(EXIT_FAILED)
            }
        },
        Command::Batch(args) => batch::batch_cmd(args),
        Command::Rescore(args) => rescore::rescore_cmd(&args),
        Command::Detect(args) => detect::detect_cmd(&args),
        Command::Eval(args) => eval::eval_cmd(&args),
        Command::Review(args) => review::review_cmd(args),
        Command::Calibrate(args) => calibrate::calibrate_cmd(&args),
        Command::Config => {
            crate::say!("{}", crate::cli_docs::commented_config().trim_end());
            ExitCode::SUCCESS
        }
        Command::Completions { shell } => print_bytes(&crate::cli_docs::completion_script(shell)),
        Command::Man { command } => match crate::cli_docs::man_page(command.as_deref()) {
            Ok(page) => print_bytes(&page),
            Err(e) => {
                crate::warn!("proctor: error: {e}");
                ExitCode::from(EXIT_FAILED)
            }
        },
    }
}

/// Write generated text (a completion script, a man page) to stdout as it is.
fn print_bytes(bytes: &[u8]) -> ExitCode {
    crate::say!("{}", String::from_utf8_lossy(bytes).trim_end());
    ExitCode::SUCCESS
}

/// The configuration: defaults, then the file, then flags.
pub fn build_config(common: &CommonArgs) -> Result<Config, Error> {
    let mut cfg = match &common.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(fps) = common.fps {
        cfg.analysis.fps = fps;
        cfg.analysis.object_fps = cfg.analysis.object_fps.min(fps);
    }
    cfg.validate().map_err(|why| Error::new("--fps", ErrorKind::Config(why)))?;
    Ok(cfg)
}

/// The configuration and the detectors: what every analysing command starts from.
pub fn config_and_models(common: &CommonArgs) -> Result<(Config, Models), Error> {
    let cfg = build_config(common)?;
    let mut models = load_models(common, &cfg)?;
    if let Some(faces) = models.faces.as_mut() {
        // the detector's own floor, so a face_min_score below its default takes effect
        faces.set_min_score(cfg.events.face_min_score as f32);
        faces.set_unconfirmed_min_score(cfg.events.face_unconfirmed_min_score as f32);
        faces.set_min_width_px(cfg.events.face_min_px as f32);
    }
    Ok((cfg, models))
}

/// The detectors, built in or from `--models`.
pub fn load_models(common: &CommonArgs, cfg: &Config) -> Result<Models, Error> {
    let which = Which { faces: true, objects: !common.no_objects, hands: cfg.objects.hand_crop, speech: cfg.analysis.audio, identity: cfg.analysis.identity_fps > 0.0 };
    crate::detect::models::load(common.models.as_deref(), which)
}

pub fn threads(common: &CommonArgs) -> usize {
    common.threads.filter(|n| *n > 0).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn display_name(p: &Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Exit status when some recording scored under `--fail-under`.
pub const EXIT_UNDER: u8 = 1;

/// Exit status after Ctrl-C.
pub const EXIT_INTERRUPTED: u8 = 130;
