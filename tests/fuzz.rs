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
        let out = proctor::save::write_all(&a, outdir)?;
        for p in [&out.frames, &out.detections, &out.events] {
            proctor::tables::read_parquet(p).expect("written tables load");
        }
        let (_, events) = proctor::tables::read_events(&out.events).expect("events load");
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

// ---- the project's own inputs, through the CLI ----
//
// Config TOML, ground-truth JSON, reference photos, summary.json and the
// events Parquet that `proctor report` reads: each mutated (bytes, and for
// the text formats values swapped for hostile ones, lines dropped or
// repeated), each case one run of the binary. Every run must end within a
// bound, without a panic, with exit status 0 or 2, and when 2 with exactly
// one `proctor: error:` line on stderr that names the file.
//
// `PROCTOR_FUZZ_CLI_CASES` sets the cases per input (default 16).

/// A text mutation: a byte mutation, or a value replaced by a hostile one,
/// or a line dropped or repeated.
fn mutate_text(data: &[u8], rng: &mut Rng) -> (Vec<u8>, String) {
    let text = String::from_utf8_lossy(data).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    match rng.below(4) {
        0 => mutate(data, rng),
        1 => {
            // a number (or a quoted value) replaced
            const HOSTILE: [&str; 14] =
                ["-1", "0", "-0.0", "1e309", "nan", "inf", "-inf", "99999999999999999999", "\"x\"", "[]", "{}", "true", "1e-320", "4294967297"];
            let spans: Vec<(usize, usize)> = {
                let b = text.as_bytes();
                let mut v = Vec::new();
                let mut i = 0;
                while i < b.len() {
                    if b[i].is_ascii_digit() || (b[i] == b'"' && i + 1 < b.len()) {
                        let start = i;
                        if b[i] == b'"' {
                            i += 1;
                            while i < b.len() && b[i] != b'"' {
                                i += 1;
                            }
                            i = (i + 1).min(b.len());
                        } else {
                            while i < b.len() && (b[i].is_ascii_digit() || b".eE-+".contains(&b[i])) {
                                i += 1;
                            }
                        }
                        v.push((start, i));
                    } else {
                        i += 1;
                    }
                }
                v
            };
            if spans.is_empty() {
                return mutate(data, rng);
            }
            let (a, b) = spans[rng.below(spans.len())];
            let with = HOSTILE[rng.below(HOSTILE.len())];
            let out = format!("{}{with}{}", &text[..a], &text[b..]);
            (out.into_bytes(), format!("{:?} -> {with}", &text[a..b]))
        }
        2 if !lines.is_empty() => {
            let k = rng.below(lines.len());
            let out: Vec<&str> = lines.iter().enumerate().filter(|(i, _)| *i != k).map(|(_, l)| *l).collect();
            (out.join("\n").into_bytes(), format!("line {} dropped", k + 1))
        }
        _ if !lines.is_empty() => {
            let k = rng.below(lines.len());
            let mut out: Vec<&str> = lines.clone();
            out.insert(k, lines[k]);
            (out.join("\n").into_bytes(), format!("line {} repeated", k + 1))
        }
        _ => mutate(data, rng),
    }
}

/// Run the binary with a time bound; `None` when it had to be killed.
fn run_bounded(cmd: &mut std::process::Command, limit: Duration) -> Option<std::process::Output> {
    use std::process::Stdio;
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let t0 = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What a run must look like: no panic, 0 or 2, one error line naming `file` on 2.
fn judge(label: &str, out: Option<std::process::Output>, file: &Path, problems: &mut Vec<String>) -> Option<i32> {
    let Some(out) = out else {
        problems.push(format!("{label}: hung"));
        return None;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        problems.push(format!("{label}: panic: {stderr}"));
    } else if !matches!(code, Some(0) | Some(2)) {
        problems.push(format!("{label}: exit {code:?}: {stderr}"));
    } else if code == Some(2) {
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("proctor: error:")).collect();
        let name = file.file_name().unwrap().to_string_lossy();
        if errors.len() != 1 {
            problems.push(format!("{label}: {} error lines: {stderr}", errors.len()));
        } else if !errors[0].contains(name.as_ref()) {
            problems.push(format!("{label}: the error does not name {name}: {}", errors[0]));
        }
    }
    code
}

#[test]
fn mutated_project_inputs_through_the_cli_end_cleanly() {
    let cases: usize = std::env::var("PROCTOR_FUZZ_CLI_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(16);
    let seed: u64 = std::env::var("PROCTOR_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let limit = Duration::from_secs(120);
    let d = tempfile::tempdir().unwrap();
    // one real analysis gives the summary.json and events file to mutate
    let clip = d.path().join("sample.webm");
    std::fs::copy(fixture("short_0.2s.webm"), &clip).unwrap();
    let base = d.path().join("base");
    let r = analyze(&[&fixture("sample.webm")], &base, &["--no-objects"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let events = std::fs::read(base.join("sample.events.parquet")).unwrap();
    let summary = std::fs::read(base.join("sample.summary.json")).unwrap();
    // a reviewer's verdict, for the decisions files `eval --decisions` reads
    let (_, evs) = proctor::tables::read_events(&base.join("sample.events.parquet")).unwrap();
    let e = evs.first().expect("the sample raises events");
    let verdict = proctor::review::decisions::Decision {
        schema_version: proctor::review::decisions::DECISIONS_SCHEMA_VERSION,
        recording: "sample".into(),
        kind: e.kind,
        start_s: e.start_s,
        end_s: e.end_s,
        verdict: proctor::review::decisions::Verdict::Confirmed,
        note: "a real <b>second</b> person".into(),
        reviewer: "fuzz".into(),
        decided_at: "2026-12-05T00:00:00Z".into(),
        input_sha256: String::new(),
        config: String::new(),
    };
    proctor::review::decisions::save(&base, &verdict).unwrap();
    let journal = std::fs::read(base.join(proctor::review::decisions::JOURNAL)).unwrap();
    let table = std::fs::read(base.join(proctor::review::decisions::TABLE)).unwrap();
    let config = run(&["config"]).out.stdout;
    let truth = std::fs::read(fixture("sample.truth.json")).unwrap();
    let photos = [std::fs::read(fixture("face.jpg")).unwrap(), std::fs::read(fixture("chelsea.png")).unwrap()];
    let mut rng = Rng(seed);
    let mut problems = Vec::new();
    let mut codes = std::collections::BTreeMap::<(&str, Option<i32>), usize>::new();
    for case in 0..cases {
        let work = d.path().join(format!("c{case}"));
        std::fs::create_dir(&work).unwrap();
        let pdf = work.join("out.pdf");
        let s = |p: &Path| p.to_str().unwrap().to_string();

        // proctor.toml, read by `report --config`
        let (bytes, what) = mutate_text(&config, &mut rng);
        let cfg = work.join("proctor.toml");
        std::fs::write(&cfg, &bytes).unwrap();
        let out = run_bounded(proctor().args(["report", &s(&base.join("sample.events.parquet")), "--config", &s(&cfg), "-o", &s(&pdf)]), limit);
        *codes.entry(("config", judge(&format!("config case {case} (seed {seed}): {what}"), out, &cfg, &mut problems))).or_default() += 1;

        // the ground truth, read by `eval` (and used to score a real clip)
        let (bytes, what) = mutate_text(&truth, &mut rng);
        let t = work.join("truth.json");
        std::fs::write(&t, &bytes).unwrap();
        let out = run_bounded(proctor().args(["eval", "--no-objects", "--truth", &s(&t), &s(&clip)]), limit);
        *codes.entry(("truth", judge(&format!("truth case {case} (seed {seed}): {what}"), out, &t, &mut problems))).or_default() += 1;

        // a reference photo, read by `analyze --reference` before any recording
        let k = case % photos.len();
        let (bytes, what) = mutate(&photos[k], &mut rng);
        let photo = work.join(if k == 0 { "ref.jpg" } else { "ref.png" });
        std::fs::write(&photo, &bytes).unwrap();
        let missing = work.join("missing.webm");
        let out = run_bounded(
            proctor().args(["analyze", "-q", "--no-objects", "--reference", &s(&photo), "-o", &s(&work.join("o")), &s(&missing)]),
            limit,
        );
        // exit 2 always: the photo's error, or else the missing recording's
        let label = format!("photo case {case} (seed {seed}): {what}");
        let named = match &out {
            Some(o) if String::from_utf8_lossy(&o.stderr).contains("missing.webm") => missing.clone(),
            _ => photo.clone(),
        };
        *codes.entry(("photo", judge(&label, out, &named, &mut problems))).or_default() += 1;

        // summary.json beside a good events file, read by `report`
        let rep = work.join("rep");
        std::fs::create_dir(&rep).unwrap();
        // the whole saved analysis (report loads every table), then one file mutated
        for f in listing(&base) {
            std::fs::copy(base.join(&f), rep.join(&f)).unwrap();
        }
        let (bytes, what) = mutate_text(&summary, &mut rng);
        let sj = rep.join("sample.summary.json");
        std::fs::write(&sj, &bytes).unwrap();
        let out = run_bounded(proctor().args(["report", &s(&rep.join("sample.events.parquet")), "-o", &s(&pdf)]), limit);
        *codes.entry(("summary", judge(&format!("summary case {case} (seed {seed}): {what}"), out, &sj, &mut problems))).or_default() += 1;

        // the events file itself
        let (bytes, what) = mutate(&events, &mut rng);
        std::fs::write(rep.join("sample.summary.json"), &summary).unwrap();
        let ev = rep.join("sample.events.parquet");
        std::fs::write(&ev, &bytes).unwrap();
        let out = run_bounded(proctor().args(["report", &s(&ev), "-o", &s(&pdf)]), limit);
        *codes.entry(("events", judge(&format!("events case {case} (seed {seed}): {what}"), out, &ev, &mut problems))).or_default() += 1;

        // the decisions journal, then the decisions table, read by `eval --decisions`
        let dec = work.join("dec");
        std::fs::create_dir(&dec).unwrap();
        let (bytes, what) = mutate_text(&journal, &mut rng);
        let jp = dec.join(proctor::review::decisions::JOURNAL);
        std::fs::write(&jp, &bytes).unwrap();
        let out = run_bounded(proctor().args(["eval", "--decisions", &s(&dec)]), limit);
        *codes.entry(("journal", judge(&format!("journal case {case} (seed {seed}): {what}"), out, &jp, &mut problems))).or_default() += 1;
        std::fs::remove_file(&jp).unwrap();
        let (bytes, what) = mutate(&table, &mut rng);
        let tp = dec.join(proctor::review::decisions::TABLE);
        std::fs::write(&tp, &bytes).unwrap();
        let out = run_bounded(proctor().args(["eval", "--decisions", &s(&dec)]), limit);
        *codes.entry(("decisions", judge(&format!("decisions case {case} (seed {seed}): {what}"), out, &tp, &mut problems))).or_default() += 1;

        let _ = std::fs::remove_dir_all(&work);
    }
    println!("fuzz (CLI inputs): {cases} cases per input, seed {seed}: {codes:?}");
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n\n"));
    // the mutations were not all rejected, nor all accepted
    for input in ["config", "truth", "summary", "events"] {
        let ok = codes.get(&(input, Some(0))).copied().unwrap_or(0);
        let failed = codes.get(&(input, Some(2))).copied().unwrap_or(0);
        assert!(ok + failed == cases, "{input}: {codes:?}");
    }
}
