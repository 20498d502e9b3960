//! The commands behind the CLI: build the configuration once, run, report
//! each file's outcome, and decide the exit code.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::analyze::{analyze_without_pictures, Settings};
use crate::batch::{self, BatchOptions, BatchProgress, CandidateSource, ReferenceSource, Row, Shard};
use crate::cli::{AnalyzeArgs, BatchArgs, Cli, Command, CommonArgs, DetectArgs, EvalArgs, ReportArgs, ReviewArgs};
use crate::config::{load_policy, Config};
use crate::detect::models::Which;
use crate::detect::Models;
use crate::error::{Error, ErrorKind};
use crate::progress::Progress;
use crate::report;
use crate::save::WriteOptions;

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
    if !matches!(cli.command, Command::Analyze(_) | Command::Batch(_)) {
        // SIGTERM and SIGHUP end every command as Ctrl-C does, with 130 (analyze
        // and batch set their own handler, which also removes their temporaries)
        let _ = ctrlc::set_handler(|| std::process::exit(i32::from(EXIT_INTERRUPTED)));
    }
    match cli.command {
        Command::Analyze(args) => analyze_cmd(args),
        Command::Report(args) => match report_cmd(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                crate::warn!("proctor: error: {e}");
                ExitCode::from(EXIT_FAILED)
            }
        },
        Command::Batch(args) => batch_cmd(args),
        Command::Detect(args) => detect_cmd(&args),
        Command::Eval(args) => eval_cmd(&args),
        Command::Review(args) => review_cmd(args),
        Command::Config => {
            crate::say!("{}", Config::default().to_toml().trim_end());
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
    let which = Which { faces: true, objects: !common.no_objects, speech: cfg.analysis.audio, identity: cfg.analysis.identity_fps > 0.0 };
    crate::detect::models::load(common.models.as_deref(), which)
}

pub fn threads(common: &CommonArgs) -> usize {
    common.threads.filter(|n| *n > 0).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// An indicatif bar per recording: media time done / total and speed as a
/// multiple of real time.
struct Bar {
    bar: ProgressBar,
}

impl Bar {
    fn new(multi: &MultiProgress, name: &str, visible: bool) -> Bar {
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

fn analyze_cmd(args: AnalyzeArgs) -> ExitCode {
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
    let write_opts = WriteOptions { save_embeddings: args.save_embeddings, no_review_page: args.no_review_page };
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

fn display_name(p: &Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// `proctor report`: the report of a saved analysis, loaded whole
/// ([`crate::load`]): the recording is not decoded, nothing is re-derived.
/// Only `--policy`/`--config` re-score (the events stay as they were found),
/// and the page then says so.
fn report_cmd(args: &ReportArgs) -> Result<(), Error> {
    let summary = crate::load::find_summary(&args.input, args.id.as_deref())?;
    let mut a = crate::load::load(&summary)?;
    if let Some(p) = &args.config {
        a.config = Config::load(p)?;
        a.warnings.push(format!("re-scored with the configuration {} (not the analysis's own)", p.display()));
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
    let out: PathBuf = args.output.clone().unwrap_or_else(|| summary.with_file_name(format!("{}.report.pdf", a.recording)));
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

/// Exit status when some recording scored under `--fail-under`.
pub const EXIT_UNDER: u8 = 1;
/// Exit status after Ctrl-C.
pub const EXIT_INTERRUPTED: u8 = 130;

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
    if rows.iter().any(|r| r.status != "ok") {
        EXIT_FAILED
    } else if fail_under.is_some_and(|min| rows.iter().any(|r| r.score.is_some_and(|s| s < min))) {
        EXIT_UNDER
    } else {
        0
    }
}

/// The run's last line: what it did to how many recordings.
pub fn batch_summary_line(rows: &[Row], skipped: usize) -> String {
    let ok = rows.iter().filter(|r| r.status == "ok").count();
    let failed = rows.len() - ok;
    if skipped > 0 {
        format!("{} recordings: {} analysed, {} skipped (done before), {} failed", rows.len(), ok.saturating_sub(skipped), skipped, failed)
    } else {
        format!("{} recordings: {} analysed, {} failed", rows.len(), ok, failed)
    }
}

fn print_batch_summary(rows: &[Row], skipped: usize, quiet: bool) {
    let failed: Vec<&Row> = rows.iter().filter(|r| r.status != "ok").collect();
    if !quiet {
        crate::say!("{}", batch_summary_line(rows, skipped));
    }
    for r in failed {
        crate::warn!("proctor: failed: {}: {}", r.path, r.error.as_deref().unwrap_or("unknown error"));
    }
}

fn batch_cmd(args: BatchArgs) -> ExitCode {
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
        write: WriteOptions { save_embeddings: args.save_embeddings, no_review_page: args.no_review_page },
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

/// Split `VIDEO@SECONDS`; a plain path (even one containing '@') stays whole.
pub fn parse_frame_spec(spec: &str) -> (PathBuf, Option<f64>) {
    if let Some((path, t)) = spec.rsplit_once('@') {
        if let Ok(t) = t.parse::<f64>() {
            if t.is_finite() && t >= 0.0 && !Path::new(spec).exists() {
                return (PathBuf::from(path), Some(t));
            }
        }
    }
    (PathBuf::from(spec), None)
}

/// The picture named by an input of `proctor detect`.
fn load_picture(spec: &str, max_side: u32) -> Result<image::RgbImage, Error> {
    let (path, t) = parse_frame_spec(spec);
    match t {
        Some(t) => {
            let info = crate::decode::probe(&path)?;
            if t > info.duration_s {
                return Err(Error::new(&path, ErrorKind::Decode(format!("{t} s is past the end ({:.2} s)", info.duration_s))));
            }
            crate::decode::frame_at(&info, t, max_side)
        }
        None => {
            crate::decode::probe::check_file(&path)?;
            image::open(&path)
                .map(|i| i.to_rgb8())
                .map_err(|e| Error::new(&path, ErrorKind::NotMedia(format!("not an image proctor can read: {e}"))))
        }
    }
}

fn annotate_path(base: &Path, i: usize, n: usize) -> PathBuf {
    if n == 1 {
        return base.to_path_buf();
    }
    let stem = base.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = base.extension().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "png".into());
    base.with_file_name(format!("{stem}-{}.{ext}", i + 1))
}

fn detect_cmd(args: &DetectArgs) -> ExitCode {
    let (cfg, models) = match config_and_models(&args.common) {
        Ok(v) => v,
        Err(e) => {
            crate::warn!("proctor: error: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let mut failed = false;
    for (i, spec) in args.inputs.iter().enumerate() {
        let result = load_picture(spec, cfg.analysis.max_side).and_then(|img| {
            let found = crate::analyze::observe_picture(&img, &models, &cfg)
                .map_err(|e| Error::new(spec, ErrorKind::Model(format!("{e:#}"))))?;
            Ok((img, found))
        });
        match result {
            Ok((mut img, (faces, objects))) => {
                if let Some(base) = &args.annotate {
                    let o = crate::records::Observation {
                        width: img.width(),
                        height: img.height(),
                        faces: Some(faces.clone()),
                        objects: Some(objects.clone()),
                        ..Default::default()
                    };
                    crate::evidence::draw_boxes(&mut img, &crate::evidence::boxes_of(&o));
                    for f in &faces {
                        let kp: Vec<([f32; 4], [u8; 3])> =
                            f.keypoints.iter().map(|p| ([p[0] - 2.0, p[1] - 2.0, p[0] + 2.0, p[1] + 2.0], [255, 220, 0])).collect();
                        crate::evidence::draw_boxes(&mut img, &kp);
                    }
                    let out = annotate_path(base, i, args.inputs.len());
                    let mut buf = std::io::Cursor::new(Vec::new());
                    let saved = img
                        .write_to(&mut buf, image::ImageFormat::Png)
                        .map_err(|e| Error::new(&out, ErrorKind::Output(e.to_string())))
                        .and_then(|_| crate::output::write_bytes(&out, buf.get_ref()));
                    if let Err(e) = saved {
                        crate::warn!("proctor: error: {e}");
                        failed = true;
                    }
                }
                if args.json {
                    crate::say!(
                        "{}",
                        serde_json::json!({"input": spec, "width": img.width(), "height": img.height(), "faces": faces, "objects": objects})
                    );
                } else {
                    crate::say!("{spec}: {}x{}, {} face(s), {} object(s)", img.width(), img.height(), faces.len(), objects.len());
                    let opt = |v: Option<f32>, d: usize| v.map_or("-".to_string(), |v| format!("{v:.d$}"));
                    for f in &faces {
                        crate::say!(
                            "  face   score {:.2} box [{:.0} {:.0} {:.0} {:.0}] yaw {} pitch {} roll {} EAR {}/{} gaze {}/{}",
                            f.score, f.bbox[0], f.bbox[1], f.bbox[2], f.bbox[3],
                            opt(f.yaw, 1), opt(f.pitch, 1), opt(f.roll, 1),
                            opt(f.ear_left, 3), opt(f.ear_right, 3), opt(f.gaze_x, 2), opt(f.gaze_y, 2)
                        );
                    }
                    for d in &objects {
                        crate::say!(
                            "  object {} ({}) score {:.2} box [{:.0} {:.0} {:.0} {:.0}]",
                            d.class, d.category, d.score, d.bbox[0], d.bbox[1], d.bbox[2], d.bbox[3]
                        );
                    }
                }
            }
            Err(e) => {
                crate::warn!("proctor: error: {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

fn eval_cmd(args: &EvalArgs) -> ExitCode {
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
    let (cfg, models) = match config_and_models(&args.common) {
        Ok(v) => v,
        Err(e) => return fail(e.to_string()),
    };
    let items = match batch::discover(&args.clips) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let settings = Settings { config: cfg, models, threads: threads(&args.common) };
    let show = !args.common.quiet && std::io::stderr().is_terminal();
    let multi = MultiProgress::with_draw_target(if show { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() });
    let mut results = Vec::new();
    let mut failed = false;
    for it in &items {
        let id = crate::eval::clip_id(&it.path);
        let Some(t) = truth.clips.get(&id) else {
            crate::warn!("proctor: warning: {}: no labels for clip '{id}' in {}", it.path.display(), truth_path.display());
            continue;
        };
        let bar = Bar::new(&multi, &display_name(&it.path), show);
        let a = analyze_without_pictures(&it.path, &settings, &bar);
        bar.finish();
        match a {
            Ok(a) => results.push(crate::eval::evaluate_clip(
                &id,
                &display_name(&it.path),
                t,
                &a.observations,
                &a.events,
                settings.config.events.face_min_score as f32,
                args.tolerance,
            )),
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
fn eval_decisions_cmd(dir: &Path, json: bool, csv: bool) -> ExitCode {
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

/// `proctor review DIR`: serve the desk until killed.
fn review_cmd(args: ReviewArgs) -> ExitCode {
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
