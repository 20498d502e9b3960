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
