//! Fuzzing on stable Rust: every recording fixture, mutated from a fixed seed
//! (bit flips, byte runs, truncation, damaged headers, swapped and repeated
//! regions), goes through the whole analysis without models (probe, decode,
//! audio, observations, events, score) and the writers (Parquet, summary,
//! Typst report). Each case must end, within a bound, in a clean error or in
//! outputs that load back; a panic or a hang fails the test.
//!
//! `PROCTOR_FUZZ_CASES` sets the number of cases (default 200);
//! `PROCTOR_FUZZ_SEED` the seed (default 1).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use crate::util::*;

/// splitmix64: a small deterministic generator, so a failing case can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutation of `data`, and its name for the log.
fn mutate(data: &[u8], rng: &mut Rng) -> (Vec<u8>, String) {
    let mut v = data.to_vec();
    let n = v.len();
    match rng.below(6) {
        0 => {
            let flips = 1 + rng.below(16);
            for _ in 0..flips {
                let i = rng.below(n);
                v[i] ^= 1 << rng.below(8);
            }
            (v, format!("{flips} bit flips"))
        }
        1 => {
            let at = rng.below(n);
            let len = (1 + rng.below(256)).min(n - at);
            let byte = [0x00, 0xff, 0x80, rng.next() as u8][rng.below(4)];
            v[at..at + len].fill(byte);
            (v, format!("run of {len} x {byte:#04x} at {at}"))
        }
        2 => {
            let at = rng.below(n);
            v.truncate(at);
            (v, format!("truncated at {at}"))
        }
        3 => {
            let len = (8 + rng.below(120)).min(n);
            for b in &mut v[..len] {
                *b = rng.next() as u8;
            }
            (v, format!("first {len} bytes random"))
        }
        4 => {
            // swap two regions (packets of different streams change places)
            let len = 1 + rng.below(n / 4 + 1);
            let a = rng.below(n - len + 1);
            let b = rng.below(n - len + 1);
            let (lo, hi) = (a.min(b), a.max(b));
            if hi >= lo + len {
                let tmp = v[lo..lo + len].to_vec();
                v.copy_within(hi..hi + len, lo);
                v[hi..hi + len].copy_from_slice(&tmp);
            }
            (v, format!("swapped {len} bytes at {lo} and {hi}"))
        }
        _ => {
            let len = 1 + rng.below(n / 8 + 1);
            let from = rng.below(n - len + 1);
            let to = rng.below(n);
            let piece = v[from..from + len].to_vec();
            v.splice(to..to, piece);
            (v, format!("{len} bytes from {from} repeated at {to}"))
        }
    }
}

/// The recordings in fixtures/ (images are left out: they go through the
/// image crate, not FFmpeg).
fn corpus() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("fixtures"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| ["webm", "mp4", "mkv"].contains(&e.to_string_lossy().as_ref())))
        .filter(|p| std::fs::metadata(p).map(|m| m.len() > 0).unwrap_or(false))
        .collect();
    v.sort();
    v
}

enum Outcome {
    Ok,
    CleanError,
    Panic(String),
}

/// One case: analyse without models, write everything, read the tables back.
fn one_case(input: &Path, outdir: &Path) -> Outcome {
    let r = std::panic::catch_unwind(|| -> Result<(), proctor::Error> {
        let settings = proctor::analyze::Settings { config: Default::default(), models: Default::default(), threads: 2 };
        let mut a = proctor::analyze::analyze(input, &settings, &proctor::progress::NoProgress)?;
        a.candidate = Some("Fuzz".into());
        let out = proctor::write::write_all(&a, outdir)?;
        for p in [&out.frames, &out.detections, &out.events] {
            proctor::timeline::read_parquet(p).expect("written tables load");
        }
        let (_, events) = proctor::timeline::read_events(&out.events).expect("events load");
        assert_eq!(events, a.events);
        let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&out.summary).unwrap()).expect("summary loads");
        assert!(s["duration_s"].as_f64().is_some_and(|d| d.is_finite() && d > 0.0));
        assert!(std::fs::read(&out.report).unwrap().starts_with(b"%PDF"));
        Ok(())
    });
    match r {
        Ok(Ok(())) => Outcome::Ok,
        Ok(Err(e)) => {
            // a clean error names the file it is about: the input, or an output
            let msg = e.to_string();
            assert!(msg.contains(&input.display().to_string()) || msg.contains(&outdir.display().to_string()), "{msg}");
            Outcome::CleanError
        }
        Err(p) => Outcome::Panic(
            p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_default(),
        ),
    }
}

#[test]
fn mutated_fixtures_never_panic_or_hang() {
    let cases: usize = std::env::var("PROCTOR_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let seed: u64 = std::env::var("PROCTOR_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let limit = Duration::from_secs(60);
    let files = corpus();
    assert!(files.len() >= 10, "{files:?}");
    let originals: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let d = tempfile::tempdir().unwrap();
    let mut rng = Rng(seed);
    let (mut ok, mut clean, mut panics, mut hangs) = (0, 0, Vec::new(), Vec::new());
    for case in 0..cases {
        let k = case % files.len();
        let (bytes, what) = mutate(&originals[k], &mut rng);
        let ext = files[k].extension().unwrap().to_string_lossy().into_owned();
        let input = d.path().join(format!("case{case:05}.{ext}"));
        std::fs::write(&input, &bytes).unwrap();
        let outdir = d.path().join(format!("out{case:05}"));
        let (tx, rx) = mpsc::channel();
        let (i2, o2) = (input.clone(), outdir.clone());
        std::thread::spawn(move || {
            let _ = tx.send(one_case(&i2, &o2));
        });
        let label = format!("case {case} (seed {seed}): {} with {what}", files[k].file_name().unwrap().to_string_lossy());
        match rx.recv_timeout(limit) {
            Ok(Outcome::Ok) => ok += 1,
            Ok(Outcome::CleanError) => clean += 1,
            Ok(Outcome::Panic(msg)) => panics.push(format!("{label}: {msg}")),
            Err(_) => hangs.push(label),
        }
        let _ = std::fs::remove_file(&input);
        let _ = std::fs::remove_dir_all(&outdir);
    }
    println!(
        "fuzz: {cases} cases from {} fixtures, seed {seed}: {ok} analysed, {clean} clean errors, {} panics, {} hangs",
        files.len(),
        panics.len(),
        hangs.len()
    );
    assert!(panics.is_empty(), "panics:\n{}", panics.join("\n"));
    assert!(hangs.is_empty(), "hangs (over {limit:?}):\n{}", hangs.join("\n"));
    // the corpus is not all rejected: the analysis really ran on damaged files
    assert!(ok > cases / 10, "only {ok} of {cases} cases were analysed");
}
