//! Batch throughput: recordings per minute on the codec fixtures with
//! `--jobs 1` (all threads on one file at a time) against `--jobs 2` (one
//! thread per file), measured in the same run.
//!
//! Run: `cargo bench --profile dev --bench batch` (pass `--no-objects`-like
//! speed by setting PROCTOR_BENCH_NO_OBJECTS=1).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use proctor::analyze::Settings;
use proctor::batch::{discover, run_batch, BatchOptions, BatchProgress, CandidateSource, ReferenceSource, Row};
use proctor::config::Config;
use proctor::detect::models::{load, Which};
use proctor::progress::{NoProgress, Progress};

struct Quiet;
impl BatchProgress for Quiet {
    fn file_progress(&self, _id: &str) -> Box<dyn Progress + '_> {
        Box::new(NoProgress)
    }
    fn file_done(&self, _row: &Row, _skipped: bool) {}
}

fn main() {
    // as the CLI does: one thread per network (set before any thread starts)
    proctor::detect::models::one_thread_per_network_at_start();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let objects = std::env::var_os("PROCTOR_BENCH_NO_OBJECTS").is_none();
    let tmp = std::env::temp_dir().join(format!("proctor-batch-bench-{}", std::process::id()));
    let input = tmp.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let names = ["vp8_opus.webm", "vp9_opus.webm", "av1_opus.webm", "h264_aac.mp4", "vp9_vorbis.webm", "h264_noaudio.mp4", "vp8_noaudio.webm", "odd_size.webm"];
    for n in names {
        std::fs::copy(root.join("fixtures").join(n), input.join(n)).unwrap();
    }
    let items = discover(&[input.display().to_string()]).unwrap();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut per_min = vec![];
    for jobs in [1usize, 2] {
        let models = load(None, Which { faces: true, objects, hands: objects, speech: true, identity: true }).unwrap();
        let settings = Settings { config: Config::default(), models, threads: (threads / jobs).max(1) };
        let opts = BatchOptions {
            outdir: tmp.join(format!("out{jobs}")),
            jobs,
            resume: false,
            candidates: CandidateSource::None,
            references: ReferenceSource::None,
            write: Default::default(),
        };
        let t = Instant::now();
        let rows = run_batch(&items, &settings, &opts, &Quiet, &AtomicBool::new(false)).unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert!(rows.iter().all(|r| r.is_ok()));
        let rate = rows.len() as f64 / secs * 60.0;
        println!("batch --jobs {jobs} ({} threads each): {} recordings in {secs:.1} s = {rate:.1} recordings/min", settings.threads, rows.len());
        per_min.push(rate);
    }
    println!("--jobs 2 / --jobs 1 throughput: {:.2}x (objects {})", per_min[1] / per_min[0], if objects { "on" } else { "off" });
    let _ = std::fs::remove_dir_all(&tmp);
}
