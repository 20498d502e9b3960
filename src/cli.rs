//! Command-line arguments (validated here; the work is done elsewhere).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "proctor",
    version,
    about = "Audit recorded online interviews and exams",
    long_about = "proctor decodes a recording (webm from a browser's MediaRecorder, mp4, mkv), \
runs face and object detectors over it, turns what it sees into timed events \
(no face, several faces, looking away, gaze away, eyes closed, phones, books, devices, \
other people, loud audio), and writes a Parquet timeline, a JSON summary and a PDF report \
with an integrity score.\n\nFlags are for a human to review, not verdicts: the report says why \
each one was raised and shows the frame behind it.",
    after_help = "Examples:\n  proctor analyze interview.webm\n  proctor analyze *.mp4 -o audit/ --json\n  \
proctor report audit/interview.summary.json --policy strict.toml -o strict.pdf\n  \
proctor config > proctor.toml\n\nExit status: 0 success, 2 when a recording could not be analysed."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse recordings: write <id>.frames.parquet, <id>.detections.parquet,
    /// <id>.events.parquet, <id>.summary.json and <id>.report.pdf for each.
    #[command(after_help = "The id is the file name without its extension (alice.smith.webm -> alice.smith); \
two inputs with the same id get the sha256 of their path appended to the second. Outputs are written \
all or nothing: a present report means the tables beside it are complete.\n\n\
Examples:\n  proctor analyze interview.webm\n  \
proctor analyze exam.mp4 --candidate \"Ada Lovelace\" -o audit/\n  \
proctor analyze *.webm -o audit/ --json --no-objects\n  \
proctor analyze interview.webm --config proctor.toml --fps 2\n\n\
Exit status: 0 all analysed, 2 some could not be (each named with its reason).")]
    Analyze(AnalyzeArgs),
    /// Run the detectors on images or single video frames and print what they found
    /// (faces with pose, eyes and gaze; objects). For checking a threshold on a real frame.
    #[command(after_help = "Examples:\n  proctor detect photo.jpg --annotate seen.png\n  \
proctor detect interview.webm@95.5 --json")]
    Detect(DetectArgs),
    /// Render the report of a saved analysis (an output directory) without the recording;
    /// re-score it under another policy or configuration.
    #[command(after_help = "Without --policy or --config the report shows the configuration the analysis \
used (from <id>.summary.json); with them it is re-scored, and the page says so.\n\n\
Examples:\n  proctor report audit/ --id interview\n  \
proctor report audit/interview.summary.json --policy strict.toml -o strict.pdf\n  \
proctor report audit/interview.events.parquet --candidate \"Ada Lovelace\" --json")]
    Report(ReportArgs),
    /// What if the thresholds were others? Derive the events of saved analyses again under
    /// another configuration, without decoding anything, into another directory.
    #[command(after_help = "Events are a function of what was seen (the saved frames and detections tables) \
and the configuration's rules: rescore applies a configuration's rules and policy to every analysis of \
an analyze or batch output directory, writes the new outputs to -o (never over the inputs; a batch \
directory gives a batch directory), and prints per kind how many events were added and removed, and \
how many recordings changed band. Settings that change what is seen (the [analysis] section, the \
object classes, face counting, whose voice) need a new analysis: a configuration that changes one \
is refused, naming it.\n\n\
Examples:\n  proctor rescore audit/ --config stricter.toml -o audit-strict/\n  \
proctor rescore archive-out/ --config gaze5s.toml -o whatif/ --no-reports --json\n\n\
Exit status: 0 all rescored, 2 some could not be (each named with its reason).")]
    Rescore(RescoreArgs),
    /// Analyse whole archives: parallel, resumable, shardable across machines.
    Batch(BatchArgs),
    /// Measure accuracy against hand-labelled ground truth: event precision/recall/F1
    /// per kind and frame-level face-count accuracy.
    Eval(EvalArgs),
    /// Review the flags of an `analyze` or `batch` output directory in the browser and record
    /// a verdict on each (confirmed or dismissed) in DIR/decisions.parquet.
    #[command(after_help = "Serves DIR's review pages, its index and the recordings its summaries name, on \
127.0.0.1 (a free port unless --port). The first line of output is the URL to open: it holds the \
token every request needs. The token is kept in DIR/.proctor-review-token (readable by you only), so \
a restart prints the same URL and open tabs keep working; --new-token replaces it, and a page opened \
with the old one then says so. Each verdict is saved at once in DIR/decisions.parquet (one row per event, \
the latest verdict) and its journal DIR/decisions.jsonl.\n\n\
Examples:\n  proctor analyze interview.webm -o audit/ && proctor review audit/ --open\n  \
proctor review archive-out/ --reviewer alice --port 8700\n  \
proctor eval --decisions archive-out/")]
    Review(ReviewArgs),
    /// Learn thresholds from the reviewers' verdicts: per kind, try each threshold of its
    /// rule at other values on the reviewed recordings, cross-validated by recording, and
    /// suggest a change only where it does better than the current setting.
    #[command(after_help = "DIR is an `analyze` or `batch` output directory with verdicts (`proctor review`); \
the events are derived again from the saved analyses, so the recordings are not needed. A kind with \
fewer than --min-verdicts verdicts, or verdicts on fewer than 3 recordings, gets no suggestion. \
Nothing is changed: --output writes a proctor.toml of the suggested keys, with the evidence for each, \
to be given to `proctor analyze --config` if you agree with it.\n\n\
Examples:\n  proctor calibrate review-1/\n  \
proctor calibrate review-1/ review-2/ --output calibrated.toml\n  \
proctor calibrate archive-out/ --json --min-verdicts 20\n\n\
Exit status: 0 done (with or without suggestions), 2 a DIR holds no verdicts or no analyses.")]
    Calibrate(CalibrateArgs),
    /// Print the default configuration (a complete proctor.toml) to stdout.
    #[command(after_help = "Examples:\n  proctor config > proctor.toml\n  \
proctor analyze interview.webm --config proctor.toml\n\n\
A configuration file may hold any subset of the keys; the others keep their defaults.")]
    Config,
    /// Print a shell completion script to stdout.
    #[command(after_help = "Examples:\n  proctor completions bash > ~/.local/share/bash-completion/completions/proctor\n  \
proctor completions zsh > ~/.zfunc/_proctor\n  \
proctor completions fish > ~/.config/fish/completions/proctor.fish")]
    Completions {
        /// The shell to complete in.
        #[arg(value_enum, value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to stdout: proctor(1), or proctor-COMMAND(1).
    #[command(after_help = "Examples:\n  proctor man | man -l -\n  \
proctor man analyze > proctor-analyze.1\n  \
proctor man > ~/.local/share/man/man1/proctor.1")]
    Man {
        /// A command to print the page of, instead of proctor's own.
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
    },
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  proctor eval --truth ../shared/devset/ground_truth.json ../shared/devset/*.mp4\n  \
proctor eval --truth fixtures/sample.truth.json fixtures/sample.webm --json\n  \
proctor eval --decisions audit/ --json\n\n\
A clip's labels are found by its file name up to the first dot (E01.vp9.webm -> E01). \
The ground-truth format is described in docs/accuracy.md.")]
pub struct EvalArgs {
    /// Ground-truth JSON (labels per clip id).
    #[arg(long, value_name = "FILE", required_unless_present = "decisions", conflicts_with = "decisions")]
    pub truth: Option<PathBuf>,

    /// Instead of ground truth: the reviewers' verdicts in DIR/decisions.parquet (`proctor
    /// review`): per kind, the events reviewed, confirmed and dismissed, and the precision
    /// (confirmed / reviewed) with its Wilson 95% interval; once reviewers have marked missed
    /// events, the recall those marks measure (an upper bound). Verdicts on events that are
    /// no longer in the outputs (orphans) are named on stderr and not counted.
    #[arg(long, value_name = "DIR")]
    pub decisions: Option<PathBuf>,

    /// With --decisions: print every verdict as CSV instead (recording, kind, start_s,
    /// end_s, verdict, reviewer, decided_at, note, input_sha256, config, orphan).
    #[arg(long, requires = "decisions", conflicts_with = "json")]
    pub csv: bool,

    /// With --truth: do not analyse the clips; derive their events from their saved
    /// analyses in DIR (`proctor analyze CLIP... -o DIR`) under the configuration (--config,
    /// or the defaults). What the rules would score, in seconds: the perception is the
    /// analysis's own.
    #[arg(long, value_name = "DIR", conflicts_with = "decisions")]
    pub saved: Option<PathBuf>,

    /// Labelled recordings, or directories of them.
    #[arg(required_unless_present = "decisions", value_name = "CLIP")]
    pub clips: Vec<String>,

    /// Seconds of slack on each side of a labelled interval when matching events.
    #[arg(long, value_name = "S", default_value_t = 0.5)]
    pub tolerance: f64,

    /// Print the results as one JSON object.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// `analyze` or `batch` output directories holding verdicts.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,

    /// Write the suggested thresholds to FILE as a commented proctor.toml (only the
    /// suggested keys, each after its evidence).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Print the results as one JSON object.
    #[arg(long)]
    pub json: bool,

    /// Fewest verdicts of a kind to suggest a change for it.
    #[arg(long, value_name = "N", default_value_t = crate::calibrate::DEFAULT_MIN_VERDICTS)]
    pub min_verdicts: usize,
}

#[derive(Debug, Args)]
#[command(after_help = "Exit status: 0 all analysed and none under --fail-under; 1 some scored under \
--fail-under; 2 some recordings failed (each listed with its reason); 130 interrupted.\n\n\
Examples:\n  proctor batch /archive/2026 -o audit/ --jobs 2\n  \
proctor batch @todo.txt -o audit/ --shard 3/8 --resume\n  \
proctor batch --merge shard1/ shard2/ -o audit/")]
pub struct BatchArgs {
    /// Directories (searched recursively for webm/mp4/mkv/mov), glob patterns
    /// (quoted), @list.txt files (one path per line), or recordings. With
    /// --merge: the shard output directories to merge.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,

    /// Archive output directory.
    #[arg(long, short = 'o', value_name = "OUTDIR")]
    pub outdir: PathBuf,

    /// Recordings analysed at once; the threads are shared among them [default: 1 per 2 cores, at least 1].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Take only shard K of N (1-based), chosen by a hash of each path relative to its input.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,

    /// Skip recordings the manifest lists as done with the same input hash, configuration,
    /// models and proctor version.
    #[arg(long)]
    pub resume: bool,

    /// Exit 1 when any recording scores below this.
    #[arg(long, value_name = "SCORE")]
    pub fail_under: Option<f64>,

    /// Candidate names: a regex over the relative path (first group), or a CSV file of
    /// path,candidate (quoted fields allowed; a header row starting with "path" is skipped).
    #[arg(long, value_name = "REGEX|CSV")]
    pub candidate_from: Option<String>,

    /// Reference photos of the candidates: a directory of photos named by recording id
    /// (<id>.jpg, .jpeg or .png), or a CSV file of recording,photo (the recording as its
    /// relative path, file name or id; a relative photo path is taken from the CSV's
    /// directory). A recording without a photo is compared with the candidate enrolled
    /// from it (a warning says so); a bad photo fails that recording only.
    #[arg(long, value_name = "DIR|CSV")]
    pub reference_from: Option<PathBuf>,

    /// Also write recordings/<id>.embeddings.parquet: the face descriptors computed for
    /// identity (biometric data: off unless asked).
    #[arg(long)]
    pub save_embeddings: bool,

    /// Do not write recordings/<id>.review.html (the index.html then links to the reports).
    #[arg(long)]
    pub no_review_page: bool,

    /// Merge shard output directories (the INPUTs) into OUTDIR instead of analysing.
    /// Shards made with another configuration, models or proctor version are refused.
    #[arg(long)]
    pub merge: bool,

    /// With --merge: merge shards even when their configurations differ.
    #[arg(long, requires = "merge")]
    pub force: bool,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args, Clone)]
pub struct CommonArgs {
    /// Configuration file (see `proctor config`); values it leaves out keep their defaults.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Frames analysed per second of media [default: 4, or the config's].
    #[arg(long, value_name = "F")]
    pub fps: Option<f64>,

    /// Worker threads [default: all cores].
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,

    /// No progress bars or per-file lines (errors are still printed).
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Read the model files from this directory instead of the ones built into the binary
    /// (yunet_n, face_landmark, iris_landmark, yolox_nano, palm_detection, hand_landmark,
    /// dlib_resnet, silero_vad_16k and resemblyzer .safetensors).
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,

    /// Skip the object detector (phones, books, devices, people): much faster on CPU.
    #[arg(long)]
    pub no_objects: bool,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Recordings to analyse (webm, mp4, mkv, mov; VP8, VP9, AV1 or H.264).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Directory for the outputs (created if missing).
    #[arg(long, short = 'o', value_name = "OUTDIR", default_value = "proctor-out")]
    pub outdir: PathBuf,

    /// Candidate's name, shown on the report.
    #[arg(long, value_name = "NAME")]
    pub candidate: Option<String>,

    /// Print one JSON object per recording on stdout (for scripts).
    #[arg(long)]
    pub json: bool,

    /// A photo of the candidate (one face): the face in the recording is compared with it
    /// and `identity` is raised where it does not match. Without it, the candidate is
    /// enrolled from the recording and `candidate_changed` is raised where the face changes.
    #[arg(long, value_name = "PHOTO")]
    pub reference: Option<PathBuf>,

    /// Also write <id>.embeddings.parquet: the face descriptors computed for identity
    /// (biometric data: off unless asked).
    #[arg(long)]
    pub save_embeddings: bool,

    /// Do not write <id>.review.html (the page to review the flags in a browser).
    #[arg(long)]
    pub no_review_page: bool,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A saved analysis: the output directory `proctor analyze` wrote (holding one
    /// recording, or say which with --id), its <id>.summary.json, or any of its tables
    /// (<id>.events.parquet, ...). Everything is read from the saved files: the
    /// recording itself is not needed.
    #[arg(value_name = "DIR|SUMMARY|EVENTS")]
    pub input: PathBuf,

    /// Which recording of an output directory that holds several.
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,

    /// Scoring policy: a proctor.toml, or a file with just the [policy] keys.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Another configuration: the events it raises are derived again from the saved
    /// observations (nothing is decoded) and the report shows them, saying so at the top.
    /// (`proctor rescore` writes the tables and the review page under it too.)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Where to write the PDF [default: <id>.report.pdf beside the summary; with
    /// --config or --policy, <id>.report.<their file name>.pdf, so the analysis's own
    /// report stays].
    #[arg(long, short = 'o', value_name = "PDF")]
    pub output: Option<PathBuf>,

    /// Candidate's name (overrides the summary's).
    #[arg(long, value_name = "NAME")]
    pub candidate: Option<String>,

    /// Print the new score as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RescoreArgs {
    /// Output directories of `proctor analyze` or `proctor batch`.
    #[arg(required = true, value_name = "DIR")]
    pub inputs: Vec<PathBuf>,

    /// The configuration to apply (a proctor.toml; keys it leaves out keep their defaults).
    #[arg(long, value_name = "FILE", required = true)]
    pub config: PathBuf,

    /// Where the new outputs go (a subdirectory per input when there are several).
    #[arg(long, short = 'o', value_name = "DIR", required = true)]
    pub output: PathBuf,

    /// Do not render the PDF reports (the tables, summaries and review pages are written).
    #[arg(long)]
    pub no_reports: bool,

    /// Print JSON lines: one per recording, then the totals.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// An image (png, jpg) or VIDEO@SECONDS for the frame on screen at that time.
    #[arg(required = true, value_name = "IMAGE|VIDEO@SECONDS")]
    pub inputs: Vec<String>,

    /// Print JSON (one object per input) instead of a table: the faces, the objects
    /// (with `in_hand` and the runner-up class), the hands found and every crop the
    /// object detector looked at again.
    #[arg(long)]
    pub json: bool,

    /// Draw the boxes and keypoints into this PNG, the crops looked at again in grey and
    /// the palms in orange (with several inputs, -1, -2 ... are added before the extension).
    #[arg(long, value_name = "OUT.png")]
    pub annotate: Option<PathBuf>,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// An `analyze` or `batch` output directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// Port to listen on [default: a free one].
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub port: u16,

    /// Address to listen on. Anything but loopback lets other machines reach the
    /// recordings (with the token): a warning says so.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub listen: std::net::IpAddr,

    /// Name recorded with each verdict [default: the user name].
    #[arg(long, value_name = "NAME")]
    pub reviewer: Option<String>,

    /// Also open the URL in the default browser.
    #[arg(long)]
    pub open: bool,

    /// Close a connection that sends no request for this many seconds (a
    /// browser opens a new one when it needs it).
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout: u64,

    /// Make a new token instead of reusing the one kept in DIR/.proctor-review-token: the
    /// URLs printed before (open tabs, bookmarks) stop working.
    #[arg(long)]
    pub new_token: bool,
}
