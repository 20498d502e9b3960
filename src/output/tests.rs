//! The output path's tests: atomic writes, locks, stdout, panics, and every
//! failing step of writing a recording.

use super::*;
use super::stdout::write_line;
use std::io::Write;

#[test]
fn failed_write_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("x.json");
    let r = write_atomic(&target, |w| {
        w.write_all(b"half").unwrap();
        Err("disk on fire".into())
    });
    assert!(r.unwrap_err().to_string().contains("disk on fire"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    write_bytes(&target, b"whole").unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"whole");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_panic_becomes_an_error_for_its_file() {
    let r: Result<()> = isolate(Path::new("bad.webm"), || panic!("index out of bounds"));
    let e = r.unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Internal(_)));
    assert_eq!(e.to_string(), "bad.webm: internal error, please report it (index out of bounds)");
    assert_eq!(isolate(Path::new("ok.webm"), || Ok(3)).unwrap(), 3);
}

use faults::{arm, Effect, Op};

/// Names in `dir` (recursively) that are temporaries or locks.
fn leftovers(dir: &Path) -> Vec<String> {
    leftovers_under(dir)
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).map_or_else(|_| Vec::new(), |rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect());
    v.sort();
    v
}

#[test]
fn every_failing_step_of_an_atomic_write_keeps_the_old_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("t.bin");
    // big enough for several writes through the buffer
    let new: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    for (errno, what) in [(libc::ENOSPC, "No space left"), (libc::EIO, "Input/output error")] {
        let mut n = 1;
        loop {
            std::fs::write(&target, b"old").unwrap();
            let guard = arm(dir.path(), None, n, Effect::Fail(errno));
            let r = write_atomic(&target, |w| {
                for c in new.chunks(10_000) {
                    w.write_all(c).map_err(|e| e.to_string())?;
                }
                Ok(())
            });
            let fired = guard.fired();
            drop(guard);
            if !fired {
                r.unwrap();
                assert_eq!(std::fs::read(&target).unwrap(), new);
                break;
            }
            let e = r.unwrap_err();
            assert!(e.to_string().contains(what) && e.to_string().contains("t.bin"), "step {n}: {e}");
            assert_eq!(std::fs::read(&target).unwrap(), b"old", "step {n} ({what})");
            assert_eq!(names(dir.path()), ["t.bin"], "step {n} ({what})");
            n += 1;
        }
        // create, writes, sync, rename: at least four steps were failed
        assert!(n > 4, "{n}");
    }
}

/// An analysis (no models: fast) of a short fixture.
fn analysis() -> crate::analyze::Analysis {
    let settings = crate::analyze::Settings { config: Default::default(), models: Default::default(), threads: 1 };
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/vp8_noaudio.webm");
    let mut a = crate::analyze::analyze(&f, &settings, &crate::progress::NoProgress).unwrap();
    a.recording = "rec".into();
    a
}

#[test]
fn every_failing_step_of_writing_a_recording_leaves_a_whole_set_or_none() {
    let mut a = analysis();
    let opts = crate::save::WriteOptions { save_embeddings: true, ..Default::default() };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // the old set, of another run (another candidate)
    a.candidate = Some("Old".into());
    crate::save::write_all_with(&a, &out, &opts).unwrap();
    a.candidate = Some("New".into());
    let old: Vec<(String, Vec<u8>)> = names(&out).into_iter().map(|n| (n.clone(), std::fs::read(out.join(&n)).unwrap())).collect();
    let counted = arm(&out, None, usize::MAX, Effect::Fail(0));
    crate::save::write_all_with(&a, &out, &opts).unwrap();
    let steps = counted.seen();
    drop(counted);
    assert!(steps >= 20, "{steps} steps");
    let tmp_dir = out.join(format!("{}rec-{}", crate::save::TEMP_PREFIX, std::process::id()));
    let mut failures = 0;
    for n in 1..=steps {
        for effect in [Effect::Fail(libc::ENOSPC), Effect::Fail(libc::EIO), Effect::Vanish(tmp_dir.clone())] {
            // start from the old set each time
            for f in names(&out) {
                std::fs::remove_file(out.join(f)).unwrap();
            }
            for (name, bytes) in &old {
                std::fs::write(out.join(name), bytes).unwrap();
            }
            let guard = arm(&out, None, n, effect.clone());
            let r = crate::save::write_all_with(&a, &out, &opts);
            assert!(guard.fired(), "step {n} of {steps}");
            drop(guard);
            let case = format!("step {n} of {steps}, {effect:?}");
            assert!(leftovers(&out).is_empty(), "{case}: {:?}", leftovers(&out));
            let report = out.join("rec.report.pdf");
            match r {
                Ok(_) => {
                    // a directory that vanished before it was needed is made again... or
                    // the step was one whose loss does not matter: the new set is whole
                    assert!(matches!(effect, Effect::Vanish(_)), "{case}: a failed step was ignored");
                    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("rec.summary.json")).unwrap()).unwrap();
                    assert_eq!(s["candidate"], "New", "{case}");
                }
                Err(e) => {
                    failures += 1;
                    assert!(e.to_string().contains(&out.display().to_string()), "{case}: {e}");
                    // nothing half-written: a present report is the old one, with all its tables
                    if report.exists() {
                        for (name, bytes) in &old {
                            if name.ends_with(".summary.json") || name.ends_with(".report.pdf") {
                                assert_eq!(&std::fs::read(out.join(name)).unwrap(), bytes, "{case}: {name}");
                            } else {
                                assert!(out.join(name).exists(), "{case}: {name}");
                            }
                        }
                    }
                }
            }
            // nothing stuck: the next run writes the whole new set
            crate::save::write_all_with(&a, &out, &opts).unwrap_or_else(|e| panic!("{case}: then {e}"));
            let s: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("rec.summary.json")).unwrap()).unwrap();
            assert_eq!(s["candidate"], "New", "{case}");
            assert!(leftovers(&out).is_empty(), "{case}");
        }
    }
    assert!(failures >= 2 * steps, "{failures} failures in {steps} steps");
}

#[test]
fn a_failing_line_log_spoils_only_its_own_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.jsonl");
    std::fs::write(&p, "{\"a\":1}\n{\"cut").unwrap();
    let mut log = LineLog::open(&p).unwrap();
    log.append("{\"b\":2}").unwrap();
    {
        let _g = arm(dir.path(), Some(Op::Write), 1, Effect::Fail(libc::ENOSPC));
        assert!(log.append("{\"c\":3}").unwrap_err().to_string().contains("No space left"));
    }
    log.append("{\"d\":4}").unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    let whole: Vec<&str> = text.lines().filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()).collect();
    assert_eq!(whole, ["{\"a\":1}", "{\"b\":2}", "{\"d\":4}"], "{text}");
}

#[test]
fn a_write_error_on_stdout_is_an_error_but_not_a_closed_pipe() {
    struct Failing(std::io::ErrorKind);
    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from(self.0))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let e = write_line(&mut Failing(std::io::ErrorKind::StorageFull), format_args!("x")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::StorageFull);
    let mut ok = Vec::new();
    write_line(&mut ok, format_args!("a {}", 1)).unwrap();
    assert_eq!(ok, b"a 1\n");
}

#[test]
fn an_unwritable_output_directory_is_found_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    check_writable(&dir.path().join("new/deeper")).unwrap();
    assert!(dir.path().join("new/deeper").is_dir());
    assert!(names(&dir.path().join("new/deeper")).is_empty());
    // under a file (fails for root too)
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    let e = check_writable(&dir.path().join("file/out")).unwrap_err();
    assert!(e.to_string().contains("the output directory cannot be written"), "{e}");
    // a full disk
    let _g = arm(dir.path(), Some(Op::Create), 1, Effect::Fail(libc::ENOSPC));
    assert!(check_writable(dir.path()).unwrap_err().to_string().contains("No space left"));
}
