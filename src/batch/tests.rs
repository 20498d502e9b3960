//! The batch's tests: shards, sources, discovery of bad entries, and every
//! failing step of a batch.

use super::*;
use super::run::outputs_intact;
use crate::analyze::Settings;
use crate::progress::Progress;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

#[test]
fn shards_partition_the_items() {
    let items: Vec<Item> = (0..200)
        .map(|i| Item { rel: format!("d/{i}.webm"), path: PathBuf::from(format!("d/{i}.webm")), id: i.to_string(), problem: None })
        .collect();
    let n = 3;
    let mut counts = vec![0; n];
    for it in &items {
        let owners: Vec<u64> = (1..=n as u64).filter(|k| Shard { k: *k, n: n as u64 }.contains(it)).collect();
        assert_eq!(owners.len(), 1);
        counts[owners[0] as usize - 1] += 1;
    }
    assert!(counts.iter().all(|c| *c > 40), "{counts:?}");
    assert!("0/3".parse::<Shard>().is_err());
    assert!("4/3".parse::<Shard>().is_err());
    assert_eq!("2/3".parse::<Shard>().unwrap(), Shard { k: 2, n: 3 });
}

#[test]
fn candidate_from_regex_and_csv() {
    let it = Item { rel: "cohort1/alice_smith-exam2.webm".into(), path: "x/alice_smith-exam2.webm".into(), id: "a".into(), problem: None };
    let re = CandidateSource::parse(r"([a-z]+_[a-z]+)-exam").unwrap();
    assert_eq!(re.candidate(&it).as_deref(), Some("alice_smith"));
    let d = tempfile::tempdir().unwrap();
    let csv = d.path().join("names.csv");
    std::fs::write(&csv, "path,candidate\nalice_smith-exam2.webm,\"Smith, Alice \"\"Al\"\"\"\n").unwrap();
    let c = CandidateSource::parse(csv.to_str().unwrap()).unwrap();
    assert_eq!(c.candidate(&it).as_deref(), Some("Smith, Alice \"Al\""));
    // the header row is not data
    let CandidateSource::Csv(map) = &c else { panic!("a CSV source") };
    assert_eq!(map.len(), 1);
    assert!(!map.contains_key("path"));
}

#[test]
fn reference_photos_by_id_and_from_a_csv() {
    let d = tempfile::tempdir().unwrap();
    let it = Item { rel: "cohort1/alice.webm".into(), path: "x/cohort1/alice.webm".into(), id: "cohort1__alice".into(), problem: None };
    let other = Item { rel: "bob.webm".into(), path: "x/bob.webm".into(), id: "bob".into(), problem: None };
    std::fs::write(d.path().join("cohort1__alice.jpeg"), b"x").unwrap();
    let dir = ReferenceSource::parse(d.path()).unwrap();
    assert_eq!(dir.photo(&it), Some(d.path().join("cohort1__alice.jpeg")));
    assert_eq!(dir.photo(&other), None);
    let csv = d.path().join("refs.csv");
    std::fs::write(&csv, "recording,photo\ncohort1/alice.webm,photos/a.jpg\nbob,/abs/b.png\n").unwrap();
    let c = ReferenceSource::parse(&csv).unwrap();
    assert_eq!(c.photo(&it), Some(d.path().join("photos/a.jpg")));
    assert_eq!(c.photo(&other), Some(PathBuf::from("/abs/b.png")));
    std::fs::write(&csv, "alice.webm\n").unwrap();
    assert!(ReferenceSource::parse(&csv).unwrap_err().contains("line 1: expected two columns"));
    assert!(ReferenceSource::parse(&d.path().join("missing")).is_err());
}

pub(crate) fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo {}", p.display());
}

#[test]
fn bad_entries_are_found_each_on_its_own_and_never_stop_the_search() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("archive");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("a.webm"), b"x").unwrap();
    std::fs::write(root.join("sub/z.webm"), b"x").unwrap();
    std::os::unix::fs::symlink("nothere.webm", root.join("dangling.webm")).unwrap();
    std::os::unix::fs::symlink("self.webm", root.join("self.webm")).unwrap();
    std::os::unix::fs::symlink("..", root.join("sub/loop")).unwrap();
    std::os::unix::fs::symlink("nothere", root.join("notes.txt")).unwrap();
    mkfifo(&root.join("pipe.webm"));
    let items = discover(&[root.display().to_string()]).unwrap();
    let got: Vec<(&str, Option<&str>)> = items.iter().map(|it| (it.rel.as_str(), it.problem.as_deref())).collect();
    let rels: Vec<&str> = got.iter().map(|g| g.0).collect();
    assert_eq!(rels, ["a.webm", "dangling.webm", "pipe.webm", "self.webm", "sub/loop", "sub/z.webm"], "{got:?}");
    assert!(got[4].1.is_some_and(|p| p.contains("a loop")), "{got:?}");
    assert!(got.iter().filter(|g| g.0 != "sub/loop").all(|g| g.1.is_none()), "{got:?}");
    // a glob keeps broken links and FIFOs too
    let items = discover(&[format!("{}/*.webm", root.display())]).unwrap();
    assert_eq!(items.len(), 4, "{items:?}");
}

#[test]
fn every_failing_step_of_a_batch_loses_nothing_the_manifest_claims() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("in");
    std::fs::create_dir(&root).unwrap();
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/vp8_noaudio.webm"), root.join("a.webm")).unwrap();
    let items = discover(&[root.display().to_string()]).unwrap();
    let settings = Settings { config: Default::default(), models: Default::default(), threads: 1 };
    struct Quiet;
    impl BatchProgress for Quiet {
        fn file_progress(&self, _: &str) -> Box<dyn Progress + '_> {
            Box::new(crate::progress::NoProgress)
        }
        fn file_done(&self, _: &Row, _: bool) {}
    }
    let stop = AtomicBool::new(false);
    let opts = |outdir: PathBuf, resume: bool| BatchOptions {
        outdir,
        jobs: 1,
        resume,
        candidates: CandidateSource::None,
        references: ReferenceSource::None,
        write: Default::default(),
    };
    let counting = d.path().join("count");
    let g = crate::output::faults::arm(&counting, None, usize::MAX, crate::output::faults::Effect::Fail(0));
    run_batch(&items, &settings, &opts(counting.clone(), false), &Quiet, &stop).unwrap();
    let steps = g.seen();
    drop(g);
    assert!(steps >= 15, "{steps}");
    for n in 1..=steps {
        let out = d.path().join(format!("out{n}"));
        let errno = if n % 2 == 0 { libc::EIO } else { libc::ENOSPC };
        let g = crate::output::faults::arm(&out, None, n, crate::output::faults::Effect::Fail(errno));
        let r = run_batch(&items, &settings, &opts(out.clone(), false), &Quiet, &stop);
        assert!(g.fired(), "step {n}");
        drop(g);
        // the failure is said: an error row, or the run's error
        let said = match &r {
            Ok(rows) => !rows[0].is_ok(),
            Err(_) => true,
        };
        assert!(said, "step {n} of {steps}: a failed write went unnoticed ({r:?})");
        // what the manifest says is done is there and whole
        let rec = out.join("recordings");
        for row in read_manifest(&out.join("manifest.jsonl")).values().filter(|r| r.is_ok()) {
            assert!(outputs_intact(&out, &rec, row, &Default::default()), "step {n}: manifest claims {}", row.id);
        }
        let left = crate::output::leftovers_under(&out);
        assert!(left.is_empty(), "step {n}: {left:?}");
        // and a resumed run ends whole
        let rows = run_batch(&items, &settings, &opts(out.clone(), true), &Quiet, &stop).unwrap();
        assert_eq!(rows[0].status, Status::Ok, "step {n}: {:?}", rows[0].error);
        assert!(outputs_intact(&out, &rec, &rows[0], &Default::default()), "step {n}");
        assert_eq!(read_summary(&out).unwrap().height(), 1);
    }
}
