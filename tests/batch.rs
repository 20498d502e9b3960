//! `proctor batch`: per-file errors, shards, resume, archive outputs.

use std::path::{Path, PathBuf};


use crate::util::*;

/// An archive: three good recordings in nested folders and a corrupt one.
fn archive() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("archive");
    std::fs::create_dir_all(root.join("cohort1")).unwrap();
    std::fs::create_dir_all(root.join("cohort2")).unwrap();
    std::fs::copy(fixture("vp8_opus.webm"), root.join("cohort1/alice.webm")).unwrap();
    std::fs::copy(fixture("h264_aac.mp4"), root.join("cohort1/bob.mp4")).unwrap();
    std::fs::copy(fixture("vp9_opus.webm"), root.join("cohort2/carol.webm")).unwrap();
    std::fs::copy(fixture("random.webm"), root.join("cohort2/broken.webm")).unwrap();
    std::fs::write(root.join("cohort2/notes.txt"), "not a recording").unwrap();
    (d, root)
}

fn batch(args: &[&str]) -> Run {
    let mut all = vec!["batch", "-q"];
    all.extend_from_slice(args);
    run(&all)
}

/// summary.parquet rows as comparable strings (elapsed time left out).
fn rows(outdir: &Path) -> Vec<String> {
    let df = proctor::batch::read_summary(outdir).unwrap();
    let df = df.drop("elapsed_s").unwrap();
    (0..df.height())
        .map(|i| df.columns().iter().map(|c| format!("{:?}", c.get(i).unwrap())).collect::<Vec<_>>().join("|"))
        .collect()
}

#[test]
fn good_files_are_analysed_and_the_bad_one_is_an_error_row() {
    let (d, root) = archive();
    let out = d.path().join("out");
    let r = batch(&[root.to_str().unwrap(), "-o", out.to_str().unwrap(), "--jobs", "2"]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("broken.webm: is not a video file FFmpeg can read"), "{}", r.stderr());
    let df = proctor::batch::read_summary(&out).unwrap();
    assert_eq!(df.height(), 4);
    let ids: Vec<&str> = df.column("recording").unwrap().str().unwrap().iter().map(|v| v.unwrap()).collect();
    assert_eq!(ids, ["cohort1__alice", "cohort1__bob", "cohort2__broken", "cohort2__carol"]);
    let status: Vec<&str> = df.column("status").unwrap().str().unwrap().iter().map(|v| v.unwrap()).collect();
    assert_eq!(status, ["ok", "ok", "error", "ok"]);
    // every good one has its outputs and an events partition
    for id in ["cohort1__alice", "cohort1__bob", "cohort2__carol"] {
        assert!(out.join(format!("recordings/{id}.report.pdf")).exists());
        assert!(proctor::batch::partition_path(&out, id).exists());
    }
    // summary rows equal the per-file summary.json files
    let scores = df.column("score").unwrap().f64().unwrap();
    let shas = df.column("sha256").unwrap().str().unwrap();
    for (i, id) in ids.iter().enumerate().filter(|(i, _)| status[*i] == "ok") {
        let s: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join(format!("recordings/{id}.summary.json"))).unwrap()).unwrap();
        assert_eq!(scores.get(i), s["score"].as_f64());
        assert_eq!(shas.get(i), s["sha256"].as_str());
        assert_eq!(s["recording"].as_str(), Some(*id));
    }
}

#[test]
fn fail_under_gives_exit_1() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let f = fixture("sample.webm");
    // the sample has events, so its score is under 100
    let r = batch(&[f.to_str().unwrap(), "-o", out.to_str().unwrap(), "--fail-under", "100"]);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let r = batch(&[f.to_str().unwrap(), "-o", out.to_str().unwrap(), "--fail-under", "0"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
}

#[test]
fn shards_merged_equal_the_unsharded_run() {
    let (d, root) = archive();
    let whole = d.path().join("whole");
    batch(&[root.to_str().unwrap(), "-o", whole.to_str().unwrap()]);
    let s1 = d.path().join("s1");
    let s2 = d.path().join("s2");
    batch(&[root.to_str().unwrap(), "-o", s1.to_str().unwrap(), "--shard", "1/2"]);
    batch(&[root.to_str().unwrap(), "-o", s2.to_str().unwrap(), "--shard", "2/2"]);
    let n1 = rows(&s1).len();
    let n2 = rows(&s2).len();
    assert_eq!(n1 + n2, 4);
    let merged = d.path().join("merged");
    let r = batch(&["--merge", s1.to_str().unwrap(), s2.to_str().unwrap(), "-o", merged.to_str().unwrap()]);
    assert_eq!(r.code(), 2, "the broken file is still an error: {}", r.stderr());
    assert_eq!(rows(&merged), rows(&whole));
    for id in ["cohort1__alice", "cohort1__bob", "cohort2__carol"] {
        assert!(proctor::batch::partition_path(&merged, id).exists());
    }
}

#[test]
fn interrupted_then_resumed_equals_uninterrupted() {
    let (d, root) = archive();
    std::fs::remove_file(root.join("cohort2/broken.webm")).unwrap();
    let whole = d.path().join("whole");
    assert_eq!(batch(&[root.to_str().unwrap(), "-o", whole.to_str().unwrap()]).code(), 0);

    // an interrupted run: carol was never finished (no manifest line, a
    // half-written temporary file), bob's line is there
    let out = d.path().join("out");
    assert_eq!(batch(&[root.to_str().unwrap(), "-o", out.to_str().unwrap()]).code(), 0);
    let manifest = out.join("manifest.jsonl");
    let kept: Vec<String> =
        std::fs::read_to_string(&manifest).unwrap().lines().filter(|l| !l.contains("carol")).map(String::from).collect();
    std::fs::write(&manifest, kept.join("\n") + "\n").unwrap();
    for f in listing(&out.join("recordings")).iter().filter(|f| f.contains("carol")) {
        std::fs::remove_file(out.join("recordings").join(f)).unwrap();
    }
    std::fs::write(out.join("recordings/.cohort2__carol.report.pdf.tmp-1"), b"half").unwrap();

    let r = batch(&[root.to_str().unwrap(), "-o", out.to_str().unwrap(), "--resume"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    // only carol was analysed again
    let lines = std::fs::read_to_string(&manifest).unwrap();
    assert_eq!(lines.lines().count(), 3, "{lines}");
    assert!(lines.lines().last().unwrap().contains("carol"));
    assert_eq!(rows(&out), rows(&whole));
    assert!(out.join("recordings/cohort2__carol.report.pdf").exists());
}

#[test]
fn list_files_and_candidates_from_csv() {
    let (d, root) = archive();
    let list = d.path().join("todo.txt");
    std::fs::write(&list, format!("# today\n{}\n", root.join("cohort1/alice.webm").display())).unwrap();
    let csv = d.path().join("names.csv");
    std::fs::write(&csv, "path,candidate\nalice.webm,Alice Liddell\n").unwrap();
    let out = d.path().join("out");
    let at = format!("@{}", list.display());
    let r = batch(&[&at, "-o", out.to_str().unwrap(), "--candidate-from", csv.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let df = proctor::batch::read_summary(&out).unwrap();
    assert_eq!(df.height(), 1);
    assert_eq!(df.column("candidate").unwrap().str().unwrap().get(0), Some("Alice Liddell"));
}

/// Lines of `text` that name `what`.
fn naming<'a>(text: &'a str, what: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(what)).collect()
}

/// Ids in the manifest, line by line.
fn manifest_ids(out: &Path) -> Vec<String> {
    std::fs::read_to_string(out.join("manifest.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect()
}

/// The issue 23 scenario: an archive of good files, corrupt files, dangling
/// and looping symlinks, a FIFO and a file truncated while it is analysed.
/// Every good file is analysed, every bad one is reported on its own line,
/// the exit status is 2; a `--resume` then redoes exactly the entries whose
/// inputs or outputs are not what the manifest says.
#[test]
fn a_hostile_archive_is_analysed_around_its_bad_entries_and_resumed_exactly() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("archive");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    let good = [
        ("alice.webm", "vp8_opus.webm"),
        ("bob.mp4", "h264_aac.mp4"),
        ("carol.webm", "vp9_opus.webm"),
        ("dave.mp4", "h264_noaudio.mp4"),
        ("sub/erin.webm", "vp8_noaudio.webm"),
    ];
    for (name, src) in good {
        std::fs::copy(fixture(src), root.join(name)).unwrap();
    }
    std::fs::copy(fixture("random.webm"), root.join("broken.webm")).unwrap();
    std::fs::write(root.join("empty.mp4"), b"").unwrap();
    std::os::unix::fs::symlink("nothere.webm", root.join("dangling.webm")).unwrap();
    std::os::unix::fs::symlink("self.webm", root.join("self.webm")).unwrap();
    std::os::unix::fs::symlink("..", root.join("sub/loop")).unwrap();
    let fifo = root.join("pipe.webm");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    // analysed last (jobs 1, path order), truncated while it is
    let shrinking = root.join("zz_shrinking.webm");
    std::fs::copy(fixture("sample.webm"), &shrinking).unwrap();

    let tmp = d.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = d.path().join("out");
    let args = |extra: &[&str]| {
        let mut c = proctor();
        c.args(["batch", "-q", "--no-objects", "--jobs", "1", "--threads", "1"]).arg(&root).arg("-o").arg(&out).args(extra).env("TMPDIR", &tmp);
        c
    };
    let mut child = args(&[]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    // its analysis has begun once its lock and an evidence store (made after
    // the file was probed; a file without a name, open in TMPDIR) are both there
    let lock = out.join("recordings/.zz_shrinking.lock");
    let pid = child.id();
    let evidence = || has_file_open_in(pid, &tmp);
    let t0 = std::time::Instant::now();
    while !(lock.exists() && evidence()) {
        assert!(t0.elapsed() < std::time::Duration::from_secs(300), "the truncated file's analysis never started");
        assert!(child.try_wait().unwrap().is_none(), "the batch ended before the truncated file's analysis began");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let f = std::fs::OpenOptions::new().write(true).open(&shrinking).unwrap();
    f.set_len(f.metadata().unwrap().len() / 2).unwrap();
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let df = proctor::batch::read_summary(&out).unwrap();
    let ids: Vec<String> = df.column("recording").unwrap().str().unwrap().iter().map(|v| v.unwrap().to_string()).collect();
    let status: Vec<String> = df.column("status").unwrap().str().unwrap().iter().map(|v| v.unwrap().to_string()).collect();
    let status_of = |id: &str| status[ids.iter().position(|i| i == id).unwrap_or_else(|| panic!("{id} not in {ids:?}"))].clone();
    for id in ["alice", "bob", "carol", "dave", "sub__erin"] {
        assert_eq!(status_of(id), "ok", "{id}: {stderr}");
        assert!(out.join(format!("recordings/{id}.report.pdf")).exists());
    }
    // every bad entry: an error row, and named on lines of its own with what is wrong
    let bad = [
        ("broken", "broken.webm", "is not a video file FFmpeg can read"),
        ("empty", "empty.mp4", "is empty (0 bytes)"),
        ("dangling", "dangling.webm", "is a symbolic link to nothere.webm, which does not exist"),
        ("self", "self.webm", "is a symbolic link that loops"),
        ("sub__loop", "sub/loop", "(a loop): not followed"),
        ("pipe", "pipe.webm", "is a FIFO (named pipe)"),
        ("zz_shrinking", "zz_shrinking.webm", "changed while it was being analysed"),
    ];
    for (id, name, why) in bad {
        assert_eq!(status_of(id), "error", "{id}");
        let lines = naming(&stderr, name);
        assert!(!lines.is_empty() && lines.iter().all(|l| l.contains(why)), "{name}: {lines:?}\n{stderr}");
        for l in lines {
            let others = bad.iter().filter(|b| b.1 != name && !name.contains(b.1) && l.contains(b.1)).count();
            assert_eq!(others, 0, "two entries on one line: {l}");
        }
    }
    assert_eq!(ids.len(), good.len() + bad.len(), "{ids:?}");
    let first = manifest_ids(&out).len();
    assert_eq!(first, ids.len());

    // what changes before the resume: the truncated file is whole again;
    // alice lost a table; carol gets a candidate name; dave is another
    // recording now; erin's summary is damaged. bob is as he was.
    std::fs::copy(fixture("sample.webm"), &shrinking).unwrap();
    std::fs::remove_file(out.join("recordings/alice.frames.parquet")).unwrap();
    let csv = d.path().join("names.csv");
    std::fs::write(&csv, "path,candidate\ncarol.webm,Carol Q\n").unwrap();
    std::fs::copy(fixture("vp9_vorbis.webm"), root.join("dave.mp4")).unwrap();
    std::fs::write(out.join("recordings/sub__erin.summary.json"), b"{\"recording\": \"sub__er").unwrap();
    let o = args(&["--resume", "--candidate-from", csv.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    let mut redone: Vec<String> = manifest_ids(&out)[first..].to_vec();
    redone.sort();
    let mut expected: Vec<String> = ["alice", "carol", "dave", "sub__erin", "zz_shrinking"].iter().map(|s| s.to_string()).collect();
    expected.extend(bad.iter().filter(|b| b.0 != "zz_shrinking").map(|b| b.0.to_string()));
    expected.sort();
    assert_eq!(redone, expected, "{stderr}");
    let df = proctor::batch::read_summary(&out).unwrap();
    assert_eq!(df.height(), good.len() + bad.len());
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("recordings/carol.summary.json")).unwrap()).unwrap();
    assert_eq!(s["candidate"], "Carol Q");
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("recordings/zz_shrinking.summary.json")).unwrap()).unwrap();
    assert_eq!(s["duration_s"].as_f64().map(|d| d.round()), Some(20.0));
    assert!(out.join("recordings/alice.frames.parquet").exists());
    // nothing left behind, here or in $TMPDIR
    let left = proctor::output::leftovers_under(&out);
    assert!(left.is_empty(), "{left:?}");
    assert!(listing(&tmp).is_empty(), "{:?}", listing(&tmp));
    // and a third run, nothing changed: only the bad entries again
    let o = args(&["--resume", "--candidate-from", csv.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let mut third: Vec<String> = manifest_ids(&out)[first + expected.len()..].to_vec();
    third.sort();
    let mut bad_ids: Vec<String> = bad.iter().filter(|b| b.0 != "zz_shrinking").map(|b| b.0.to_string()).collect();
    bad_ids.sort();
    assert_eq!(third, bad_ids);
}

#[test]
fn resume_after_inputs_were_deleted_drops_them_and_says_what_it_did() {
    let (d, root) = archive();
    std::fs::remove_file(root.join("cohort2/broken.webm")).unwrap();
    let out = d.path().join("out");
    let o = out.to_str().unwrap();
    let r = batch(&[root.to_str().unwrap(), "-o", o, "--no-objects"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    // bob is deleted from the archive; the others are done and skipped
    std::fs::remove_file(root.join("cohort1/bob.mp4")).unwrap();
    let r = run(&["batch", root.to_str().unwrap(), "-o", o, "--no-objects", "--resume"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(r.stdout().contains("2 recordings: 0 analysed, 2 skipped (done before), 0 failed"), "{}", r.stdout());
    assert!(r.stderr().contains("bob.mp4: the input is gone"), "{}", r.stderr());
    // gone from the manifest (so from the index), from events/ and from summary.parquet
    let mut ids = manifest_ids(&out);
    ids.sort();
    assert_eq!(ids, ["cohort1__alice", "cohort2__carol"]);
    assert!(!proctor::batch::partition_path(&out, "cohort1__bob").exists());
    let parts: Vec<String> = listing(&out.join("events"));
    assert_eq!(parts, ["recording=cohort1__alice", "recording=cohort2__carol"]);
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(!index.contains("cohort1__bob"), "the index still lists the deleted recording");
    let df = proctor::batch::read_summary(&out).unwrap();
    assert_eq!(df.height(), 2);
    // a recording this run did not take but whose file is still there stays
    let r = run(&["batch", root.join("cohort1").to_str().unwrap(), "-o", o, "--no-objects", "--resume"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(!r.stderr().contains("is gone"), "{}", r.stderr());
}
