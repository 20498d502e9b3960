//! Shared helpers: fixture paths, a command for the built binary, temp dirs,
//! and `skip` for a test that cannot run here.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The largest absolute difference of two tensors of one shape (the parity tests'
/// measure against the original runtimes).
pub fn max_abs_diff(a: &candle_core::Tensor, b: &candle_core::Tensor) -> anyhow::Result<f32> {
    Ok((a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?)
}

pub fn fixture(name: &str) -> PathBuf {
    let p = root().join("fixtures").join(name);
    assert!(p.exists(), "missing fixture {} (run fixtures/make_fixtures.sh)", p.display());
    p
}

/// ../shared/devset beside the repository, when present.
pub fn devset() -> Option<PathBuf> {
    let p = root().join("..").join("shared").join("devset");
    p.join("ground_truth.json").exists().then_some(p)
}

pub fn proctor() -> Command {
    Command::new(env!("CARGO_BIN_EXE_proctor"))
}

pub struct Run {
    pub out: Output,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.out.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
}

pub fn run(args: &[&str]) -> Run {
    Run { out: proctor().args(args).output().expect("binary runs") }
}

/// `proctor analyze` on files into `outdir`, quietly.
pub fn analyze(files: &[&Path], outdir: &Path, extra: &[&str]) -> Run {
    let mut cmd = proctor();
    cmd.arg("analyze").arg("-q").arg("-o").arg(outdir);
    for f in files {
        cmd.arg(f);
    }
    cmd.args(extra);
    Run { out: cmd.output().expect("binary runs") }
}

/// `ffmpeg -v error -y BEFORE... -i INPUT AFTER... OUTPUT`, which must succeed
/// (a test's own clip made from a fixture).
pub fn ffmpeg(before: &[&str], input: &Path, after: &[&str], output: &Path) {
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(before)
        .arg("-i")
        .arg(input)
        .args(after)
        .arg(output)
        .status()
        .expect("ffmpeg runs");
    assert!(st.success(), "ffmpeg {before:?} -i {} {after:?} {} failed", input.display(), output.display());
}

/// Names of the files in a directory, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => vec![],
    };
    v.sort();
    v
}

/// Whether process `pid` has a file open in `dir` (Linux: /proc). The
/// evidence pictures' file has no name, so a test that waits for an
/// analysis to be under way looks for it here: an unnamed file shows as
/// `<dir>/#<inode> (deleted)`.
pub fn has_file_open_in(pid: u32, dir: &Path) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return false };
    fds.flatten().filter_map(|fd| std::fs::read_link(fd.path()).ok()).any(|target| target.starts_with(dir))
}

/// A test that cannot run here says so, and is counted: it prints
/// `SKIPPED: <test>: <why>` straight to stderr (past libtest's capture, so the
/// line shows in a plain `cargo test`) and appends it to the file named by
/// `PROCTOR_SKIP_LOG`, which `scripts/test.sh` counts and lists after the run.
/// Under `PROCTOR_NO_SKIP=1` (set by `.ci/run`, where the devset, the group
/// photos and the tools are all provided) a skip is a failure instead. The
/// caller returns right after.
pub fn skip(why: &str) {
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    let line = format!("SKIPPED: {test}: {why}");
    if std::env::var_os("PROCTOR_NO_SKIP").is_some_and(|v| v == "1") {
        panic!("{line}; PROCTOR_NO_SKIP=1 asks every test to run (see scripts/setup.sh)");
    }
    let _ = writeln!(std::io::stderr(), "{line}");
    if let Some(log) = std::env::var_os("PROCTOR_SKIP_LOG") {
        let f = std::fs::OpenOptions::new().create(true).append(true).open(&log);
        // one write per line: lines of tests running in parallel do not interleave
        let _ = f.and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
    }
}

/// A reviewer holding the ground truth reviews every event proctor raised
/// on `clips` (analysed into `out`, read from their events tables): confirmed
/// when a labelled event of its kind matches it (`proctor::eval::matched`,
/// 0.5 s of tolerance, as `eval --truth` matches), dismissed otherwise; with
/// `misses`, each labelled event of a kind proctor raises that no event
/// matched is also marked missed. The verdicts are saved in `out` as
/// `proctor review` saves them, and returned.
pub fn verdicts_from_labels(out: &Path, clips: &[PathBuf], truth: &proctor::eval::Truth, misses: bool) -> Vec<proctor::review::decisions::Decision> {
    use proctor::review::decisions::{save, Decision, Verdict, DECISIONS_SCHEMA_VERSION};
    let mut given = Vec::new();
    for clip in clips {
        let id = proctor::eval::clip_id(clip);
        let rec = proctor::ids::id_of(&clip.file_name().unwrap().to_string_lossy());
        let (_, events) = proctor::tables::read_events(&out.join(format!("{rec}.events.parquet"))).unwrap();
        let labels = &truth.clips[&id];
        for kind in proctor::kinds::EventKind::ALL {
            let of: Vec<&proctor::records::Event> = events.iter().filter(|e| e.kind == kind).collect();
            let pred: Vec<(f64, f64)> = of.iter().map(|e| (e.start_s, e.end_s)).collect();
            let want: Vec<(f64, f64)> = labels.events.iter().filter(|e| e.kind == kind.as_str()).map(|e| (e.start, e.end)).collect();
            let verdict = |verdict: Verdict, (start_s, end_s): (f64, f64)| Decision {
                schema_version: DECISIONS_SCHEMA_VERSION,
                recording: rec.clone(),
                kind,
                start_s,
                end_s,
                verdict,
                note: String::new(),
                reviewer: "labels".into(),
                decided_at: "2026-12-05T00:00:00Z".into(),
                input_sha256: String::new(),
                config: String::new(),
            };
            for (p, ok) in pred.iter().zip(proctor::eval::matched(&pred, &want, 0.5)) {
                given.push(verdict(if ok { Verdict::Confirmed } else { Verdict::Dismissed }, *p));
            }
            if misses {
                // the labels no event matched (matching the other way round)
                for (w, found) in want.iter().zip(proctor::eval::matched(&want, &pred, 0.5)) {
                    if !found && w.1 > w.0 {
                        given.push(verdict(Verdict::Missed, *w));
                    }
                }
            }
        }
    }
    for d in &given {
        save(out, d).unwrap();
    }
    given
}

pub fn have(cmd: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {cmd}")).output().map(|o| o.status.success()).unwrap_or(false)
}

/// An analysis of an hour-long recording with these events and nothing
/// else, scored under the default policy (for rendering views).
pub fn blank_analysis(events: &[proctor::records::Event]) -> proctor::records::Analysis {
    let config = proctor::config::Config::default();
    proctor::records::Analysis {
        recording: "r".into(),
        candidate: None,
        analysed_at: "2026-11-22T00:00:00Z".into(),
        info: {
            let mut info = proctor::records::MediaInfo::default();
            info.path = "r.webm".into();
            info.video_codec = "vp8".into();
            (info.width, info.height, info.duration_s) = (640, 480, 3600.0);
            info
        },
        sha256: "00".into(),
        observations: Vec::new(),
        events: events.to_vec(),
        baseline: Default::default(),
        score: proctor::score::score(events, &config.policy),
        audio: Default::default(),
        stats: Default::default(),
        elapsed_s: 0.0,
        warnings: Vec::new(),
        config,
        models: Vec::new(),
        checked: proctor::events::checked_kinds(true, true, true, true),
        identity: Default::default(),
        evidence: Vec::new(),
    }
}

/// One HTTP/1.1 request, raw (the path is sent as given, `..` included).
pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = all[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, head, body)
}

pub fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let nl = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..nl]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + n]);
        b = &b[nl + 4 + n..];
    }
}

/// `proctor review` running; killed when dropped.
pub struct Server {
    pub child: std::process::Child,
    pub url: String,
}

impl Server {
    /// `proctor review DIR --reviewer tester EXTRA...`.
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        Server::spawn(proctor().arg("review").arg(dir).args(["--reviewer", "tester"]).args(extra).stderr(std::process::Stdio::piped()))
    }

    /// Start `cmd` (a `proctor review`, perhaps wrapped) and read the URL it prints first.
    pub fn spawn(cmd: &mut Command) -> Server {
        use std::io::BufRead;
        let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(line.starts_with("http://127.0.0.1:"), "first line: {line:?}");
        Server { child, url: line.trim().to_string() }
    }

    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").split('/').next().unwrap().to_string()
    }

    pub fn token(&self) -> String {
        self.url.split("token=").nth(1).unwrap().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text of a PDF (`pdftotext -layout`); `None`, with a skip, without poppler-utils.
pub fn pdf_text(pdf: &Path) -> Option<String> {
    if !have("pdftotext") {
        skip("pdftotext (poppler-utils) is not installed");
        return None;
    }
    let out = Command::new("pdftotext").arg("-layout").arg(pdf).arg("-").output().unwrap();
    assert!(out.status.success(), "pdftotext {}", pdf.display());
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}
