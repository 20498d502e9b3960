//! Tests of `review/decisions.rs`.

use super::*;
use polars::prelude::*;
use std::path::Path;
use std::io::Write;

fn d(rec: &str, kind: EventKind, s: f64, v: Verdict, who: &str) -> Decision {
    Decision {
        schema_version: DECISIONS_SCHEMA_VERSION,
        recording: rec.into(),
        kind,
        start_s: s,
        end_s: s + 2.5,
        verdict: v,
        note: format!("<script>alert('{who}')</script>"),
        reviewer: who.into(),
        decided_at: "2026-12-05T00:00:00Z".into(),
        input_sha256: String::new(),
        config: String::new(),
    }
}

#[test]
fn a_later_verdict_replaces_the_earlier_and_the_journal_keeps_both() {
    let dir = tempfile::tempdir().unwrap();
    save(dir.path(), &d("a", EventKind::Phone, 1.0, Verdict::Confirmed, "x")).unwrap();
    save(dir.path(), &d("a", EventKind::NoFace, 1.0, Verdict::Confirmed, "x")).unwrap();
    // the same event, its times as they come back from JSON in a browser
    let mut again = d("a", EventKind::Phone, 1.0000000001, Verdict::Dismissed, "x");
    again.end_s = 3.5;
    save(dir.path(), &again).unwrap();
    let table = read_table(&dir.path().join(TABLE)).unwrap();
    assert_eq!(table.len(), 2);
    assert_eq!(table[0].kind, EventKind::Phone);
    assert_eq!(table[0].verdict, Verdict::Dismissed);
    assert_eq!(table[0].end_s, 3.5);
    assert_eq!(table[0].note, "<script>alert('x')</script>");
    assert_eq!(read_journal(dir.path()).unwrap().0.len(), 3);
    assert_eq!(read_latest(dir.path()).unwrap(), table);
}

#[test]
fn two_reviewers_are_both_kept_undo_clears_and_misses_give_recall() {
    let dir = tempfile::tempdir().unwrap();
    let at = |mut x: Decision, t: &str| {
        x.decided_at = format!("2026-12-05T10:00:{t}Z");
        x
    };
    // one phone flag: x confirms, then y dismisses it: both kept, y's counts, a disagreement
    save(dir.path(), &at(d("a", EventKind::Phone, 1.0, Verdict::Confirmed, "x"), "01")).unwrap();
    save(dir.path(), &at(d("a", EventKind::Phone, 1.0, Verdict::Dismissed, "y"), "02")).unwrap();
    // another flag confirmed, then taken back: unreviewed again
    save(dir.path(), &at(d("a", EventKind::Phone, 9.0, Verdict::Confirmed, "x"), "03")).unwrap();
    save(dir.path(), &at(d("a", EventKind::Phone, 9.0, Verdict::Cleared, "x"), "04")).unwrap();
    // a third confirmed, and two phones proctor missed
    save(dir.path(), &at(d("b", EventKind::Phone, 4.0, Verdict::Confirmed, "x"), "05")).unwrap();
    save(dir.path(), &at(d("b", EventKind::Phone, 20.0, Verdict::Missed, "x"), "06")).unwrap();
    save(dir.path(), &at(d("b", EventKind::Phone, 40.0, Verdict::Missed, "y"), "07")).unwrap();
    let all = read_latest(dir.path()).unwrap();
    assert_eq!(all.len(), 6, "{all:?}");
    // the table alone says the same (the cleared verdict is a row of its own)
    std::fs::remove_file(dir.path().join(JOURNAL)).unwrap();
    assert_eq!(read_latest(dir.path()).unwrap(), all);
    let e = evaluate(&all);
    let p = &e.kinds[&EventKind::Phone];
    assert_eq!((p.reviewed, p.confirmed, p.dismissed, p.missed), (2, 1, 1, 2));
    assert_eq!(e.disagreements, 1);
    assert_eq!(p.recall, Some(1.0 / 3.0));
    assert!(p.recall_low.unwrap() < 1.0 / 3.0 && p.recall_high.unwrap() > 1.0 / 3.0);
    let md = e.to_markdown();
    assert!(md.contains("| phone | 1 | 2 | 33.3% |") && md.contains("upper bound") && md.contains("disagree on 1"), "{md}");
    // no marks at all: no recall claimed
    assert_eq!(evaluate(&all[..3]).kinds[&EventKind::Phone].recall, None);
    let csv = to_csv(&all, &[]);
    assert_eq!(csv.lines().count(), 7);
    assert!(csv.lines().next().unwrap().starts_with("recording,kind,start_s,end_s,verdict,reviewer"));
    assert!(csv.contains(",missed,y,"), "{csv}");
    // a missed span must have a length
    let mut bad = d("a", EventKind::Book, 5.0, Verdict::Missed, "x");
    bad.end_s = 5.0;
    assert!(save(dir.path(), &bad).is_err());
}

#[test]
fn a_line_cut_by_a_crash_loses_no_other_verdict() {
    let dir = tempfile::tempdir().unwrap();
    save(dir.path(), &d("a", EventKind::Phone, 1.0, Verdict::Confirmed, "x")).unwrap();
    let mut j = std::fs::OpenOptions::new().append(true).open(dir.path().join(JOURNAL)).unwrap();
    j.write_all(b"{\"recording\":\"a\",\"ki").unwrap();
    drop(j);
    save(dir.path(), &d("a", EventKind::Book, 5.0, Verdict::Dismissed, "x")).unwrap();
    let all = read_latest(dir.path()).unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(read_table(&dir.path().join(TABLE)).unwrap(), all);
    // a temporary left by a killed save is not the table
    std::fs::write(crate::output::temp_path(&dir.path().join(TABLE)), b"half").unwrap();
    assert_eq!(read_table(&dir.path().join(TABLE)).unwrap().len(), 2);
}

#[test]
fn concurrent_saves_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::thread::scope(|s| {
        for who in 0..4 {
            let p = dir.path();
            s.spawn(move || {
                for i in 0..15 {
                    save(p, &d("a", EventKind::Phone, (who * 100 + i) as f64, Verdict::Confirmed, &who.to_string())).unwrap();
                }
            });
        }
    });
    assert_eq!(read_journal(dir.path()).unwrap().0.len(), 60);
    assert_eq!(read_table(&dir.path().join(TABLE)).unwrap().len(), 60);
}

#[test]
fn bad_verdicts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut x = d("a", EventKind::Phone, 1.0, Verdict::Confirmed, "x");
    x.end_s = f64::NAN;
    assert!(save(dir.path(), &x).is_err());
    assert!(serde_json::from_str::<Decision>(r#"{"recording":"a","kind":"phone","start_s":1,"end_s":2,"verdict":"maybe"}"#).is_err());
    assert!(!dir.path().join(TABLE).exists());
}

#[test]
fn precision_and_wilson_interval() {
    // known values: 8 of 10 -> 0.4902..0.9433
    let (lo, hi) = wilson(8, 10);
    assert!((lo - 0.4902).abs() < 1e-3 && (hi - 0.9433).abs() < 1e-3, "{lo} {hi}");
    let (lo, hi) = wilson(0, 5);
    assert_eq!(lo, 0.0);
    assert!((hi - 0.4345).abs() < 1e-3, "{hi}");
    let ds = vec![
        d("a", EventKind::Phone, 1.0, Verdict::Confirmed, "x"),
        d("a", EventKind::Phone, 9.0, Verdict::Dismissed, "x"),
        d("b", EventKind::NoFace, 1.0, Verdict::Confirmed, "x"),
    ];
    let e = evaluate(&ds);
    assert_eq!(e.recordings, 2);
    assert_eq!(e.kinds[&EventKind::Phone].precision, Some(0.5));
    assert_eq!(e.all.reviewed, 3);
    assert_eq!(e.all.confirmed, 2);
    assert!(e.to_markdown().contains("| phone | 2 | 1 | 1 | 50.0% |"));
}

fn three(dir: &Path) -> Vec<Decision> {
    let ds = [
        d("a", EventKind::Phone, 1.0, Verdict::Confirmed, "x"),
        d("a", EventKind::NoFace, 9.0, Verdict::Dismissed, "x"),
        d("b", EventKind::Book, 2.0, Verdict::Confirmed, "y"),
    ];
    for x in &ds {
        save(dir, x).unwrap();
    }
    ds.to_vec()
}

fn keys(ds: &[Decision]) -> Vec<EventKey> {
    let mut k: Vec<EventKey> = ds.iter().map(Decision::key).collect();
    k.sort();
    k
}

#[test]
fn a_missing_or_empty_journal_loses_nothing_and_is_filled_again() {
    for how in ["deleted", "emptied", "cut"] {
        let dir = tempfile::tempdir().unwrap();
        let ds = three(dir.path());
        let jp = dir.path().join(JOURNAL);
        match how {
            "deleted" => std::fs::remove_file(&jp).unwrap(),
            "emptied" => std::fs::write(&jp, b"").unwrap(),
            _ => {
                let j = std::fs::read(&jp).unwrap();
                std::fs::write(&jp, &j[..j.len() / 2]).unwrap();
            }
        }
        // read: the table's three
        assert_eq!(keys(&read_latest(dir.path()).unwrap()), keys(&ds), "{how}");
        // one more verdict: four in the table, and the journal alone holds them all
        let more = d("c", EventKind::Voices, 3.0, Verdict::Confirmed, "z");
        save(dir.path(), &more).unwrap();
        let all: Vec<Decision> = ds.iter().cloned().chain([more]).collect();
        assert_eq!(keys(&read_table(&dir.path().join(TABLE)).unwrap()), keys(&all), "{how}");
        std::fs::remove_file(dir.path().join(TABLE)).unwrap();
        assert_eq!(keys(&read_latest(dir.path()).unwrap()), keys(&all), "{how}: the journal alone");
    }
}

#[test]
fn a_table_that_cannot_be_read_is_never_written_over() {
    let newer = {
        let dir = tempfile::tempdir().unwrap();
        three(dir.path());
        let mut df = crate::tables::read_parquet(&dir.path().join(TABLE)).unwrap();
        df.with_column(Column::new("schema_version".into(), vec![DECISIONS_SCHEMA_VERSION + 1; 3])).unwrap();
        let p = dir.path().join("newer.parquet");
        ParquetWriter::new(std::fs::File::create(&p).unwrap()).finish(&mut df).unwrap();
        std::fs::read(p).unwrap()
    };
    let whole = {
        let dir = tempfile::tempdir().unwrap();
        three(dir.path());
        std::fs::read(dir.path().join(TABLE)).unwrap()
    };
    for (how, bytes) in [("newer schema", newer), ("cut short", whole[..whole.len() / 2].to_vec()), ("empty", Vec::new())] {
        for with_journal in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            if with_journal {
                three(dir.path());
            }
            std::fs::write(dir.path().join(TABLE), &bytes).unwrap();
            let e = load(dir.path()).unwrap_err().to_string();
            assert!(e.contains(TABLE) && e.contains("will not write over it"), "{how}: {e}");
            assert!(open(dir.path()).is_err(), "{how}");
            assert!(save(dir.path(), &d("c", EventKind::Voices, 3.0, Verdict::Confirmed, "z")).is_err(), "{how}");
            assert_eq!(std::fs::read(dir.path().join(TABLE)).unwrap(), bytes, "{how}: the table was written over");
        }
    }
}

#[test]
fn journal_lines_that_cannot_be_read_are_kept_reported_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ds = three(dir.path());
    let jp = dir.path().join(JOURNAL);
    let lines: Vec<String> = std::fs::read_to_string(&jp).unwrap().lines().map(str::to_string).collect();
    // the middle line garbled, a line of a newer schema, a line with bad times
    let mut newer: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    newer["schema_version"] = serde_json::json!(DECISIONS_SCHEMA_VERSION + 1);
    newer["start_s"] = serde_json::json!(50.0);
    let mut bad_times: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    bad_times["end_s"] = serde_json::json!(-1.0);
    let edited = format!("{}\n{{\"recording\":\"a\",garbled\n{}\n{newer}\n{bad_times}\n", lines[0], lines[2]);
    std::fs::write(&jp, &edited).unwrap();
    let l = load(dir.path()).unwrap();
    assert_eq!(l.problems.len(), 3, "{:?}", l.problems);
    assert!(l.problems[0].contains("line 2") && l.problems[1].contains("newer proctor") && l.problems[2].contains("bad times"), "{:?}", l.problems);
    // the garbled line's verdict is still in the table, so nothing is lost
    assert_eq!(keys(&l.decisions), keys(&ds));
    save(dir.path(), &d("c", EventKind::Voices, 3.0, Verdict::Confirmed, "z")).unwrap();
    assert_eq!(read_table(&dir.path().join(TABLE)).unwrap().len(), 4);
    // the lines stay in the journal as they were
    assert!(std::fs::read_to_string(&jp).unwrap().starts_with(&edited));
}

#[test]
fn the_later_verdict_wins_whichever_file_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = d("a", EventKind::Phone, 1.0, Verdict::Confirmed, "x");
    first.decided_at = "2026-12-05T10:00:00Z".into();
    let mut second = first.clone();
    second.verdict = Verdict::Dismissed;
    second.decided_at = "2026-12-05T11:00:00Z".into();
    save(dir.path(), &first).unwrap();
    save(dir.path(), &second).unwrap();
    // the journal's last line lost: the table's later verdict still wins over the journal's earlier one
    let jp = dir.path().join(JOURNAL);
    let text = std::fs::read_to_string(&jp).unwrap();
    std::fs::write(&jp, format!("{}\n", text.lines().next().unwrap())).unwrap();
    assert_eq!(read_latest(dir.path()).unwrap()[0].verdict, Verdict::Dismissed);
}

#[test]
fn a_killed_save_leaves_no_temporary_once_the_desk_opens_again() {
    let dir = tempfile::tempdir().unwrap();
    three(dir.path());
    let stale = dir.path().join(".decisions.parquet.tmp-999999");
    std::fs::write(&stale, b"half").unwrap();
    open(dir.path()).unwrap();
    assert!(!stale.exists());
}

#[test]
fn every_failing_step_of_a_save_keeps_every_verdict_given_before() {
    use crate::output::faults::{arm, Effect};
    let base = tempfile::tempdir().unwrap();
    let ds = three(base.path());
    let more = d("c", EventKind::Voices, 3.0, Verdict::Confirmed, "z");
    let mut n = 1;
    loop {
        let dir = tempfile::tempdir().unwrap();
        for f in [TABLE, JOURNAL] {
            std::fs::copy(base.path().join(f), dir.path().join(f)).unwrap();
        }
        let guard = arm(dir.path(), None, n, Effect::Fail(libc::ENOSPC));
        let r = save(dir.path(), &more);
        let fired = guard.fired();
        drop(guard);
        if !fired {
            r.unwrap();
            break;
        }
        assert!(r.is_err(), "step {n}");
        let after = read_latest(dir.path()).unwrap();
        // everything given before is there; the failed one may or may not be
        for x in &ds {
            assert!(after.iter().any(|a| a.key() == x.key()), "step {n}: lost {x:?}");
        }
        // and the next save completes the set
        save(dir.path(), &more).unwrap();
        assert_eq!(read_table(&dir.path().join(TABLE)).unwrap().len(), 4, "step {n}");
        n += 1;
    }
    assert!(n > 3, "only {n} steps were failed");
}

/// Random damage to the journal and the table (bytes flipped, cut,
/// lines doubled or dropped, files emptied or removed): loading never
/// panics; a save either refuses, naming a table it cannot read and
/// leaving it as it was, or keeps every verdict loaded before it.
#[test]
fn damaged_verdict_files_never_lose_what_can_be_read() {
    let base = tempfile::tempdir().unwrap();
    three(base.path());
    let journal = std::fs::read(base.path().join(JOURNAL)).unwrap();
    let table = std::fs::read(base.path().join(TABLE)).unwrap();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n.max(1) as u64) as usize
    };
    for case in 0..200 {
        let dir = tempfile::tempdir().unwrap();
        let mut j = journal.clone();
        let mut t = table.clone();
        for _ in 0..=next(3) {
            let target = if next(2) == 0 { &mut j } else { &mut t };
            match next(6) {
                0 if !target.is_empty() => {
                    let i = next(target.len());
                    target[i] ^= 1 << next(8);
                }
                1 => {
                    let n = next(target.len() + 1);
                    target.truncate(n);
                }
                2 => {
                    let copy = target.clone();
                    target.extend_from_slice(&copy);
                }
                3 => target.clear(),
                _ => {}
            }
        }
        let (keep_j, keep_t) = (next(5) != 0, next(5) != 0);
        if keep_j {
            std::fs::write(dir.path().join(JOURNAL), &j).unwrap();
        }
        if keep_t {
            std::fs::write(dir.path().join(TABLE), &t).unwrap();
        }
        let before = load(dir.path());
        let more = d("z", EventKind::Voices, 7.0, Verdict::Dismissed, "q");
        match (before, save(dir.path(), &more)) {
            (Ok(l), Ok(_)) => {
                let after = read_latest(dir.path()).unwrap();
                for x in l.decisions.iter().chain([&more]) {
                    assert!(after.iter().any(|a| a.key() == x.key()), "case {case}: lost {x:?}");
                }
                // the table alone holds them all too
                let t = read_table(&dir.path().join(TABLE)).unwrap();
                assert_eq!(t.len(), after.len(), "case {case}");
            }
            (Err(e), Err(_)) => {
                assert!(e.to_string().contains(TABLE), "case {case}: {e}");
                assert_eq!(std::fs::read(dir.path().join(TABLE)).unwrap(), t, "case {case}: written over");
            }
            (b, s) => panic!("case {case}: load {:?} but save {:?}", b.map(|l| l.decisions.len()), s.map(|x| x.len())),
        }
    }
}

#[test]
fn a_table_of_schema_1_still_reads_and_takes_new_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let ds = three(dir.path());
    std::fs::remove_file(dir.path().join(JOURNAL)).unwrap();
    // the table as proctor wrote it before verdicts named their analysis
    let mut df = frame(&ds).drop("input_sha256").unwrap().drop("config").unwrap();
    df.with_column(Column::new("schema_version".into(), vec![1u32; 3])).unwrap();
    let p = dir.path().join(TABLE);
    ParquetWriter::new(std::fs::File::create(&p).unwrap()).finish(&mut df).unwrap();
    assert_eq!(read_table(&p).unwrap(), ds);
    save(dir.path(), &d("c", EventKind::Voices, 3.0, Verdict::Confirmed, "z")).unwrap();
    assert_eq!(read_table(&p).unwrap().len(), 4);
}
