//! Bad input: every case either analyses correctly or fails with one clear
//! line naming the file and the problem, exit code 2, no panic, and no
//! output left behind.

use crate::util::*;

/// Analyse one bad file; check the exit code, the one-line message naming
/// the file and the problem, and that nothing was written.
fn rejects(path: &std::path::Path, problem: &str) {
    let dir = tempfile::tempdir().unwrap();
    rejects_run(path, problem, dir.path(), analyze(&[path], dir.path(), &[]));
}

/// The checks of `rejects` on a run that wrote (or did not) into `outdir`.
fn rejects_run(path: &std::path::Path, problem: &str, outdir: &std::path::Path, r: Run) {
    let err = r.stderr();
    assert_eq!(r.code(), 2, "exit code for {}: {err}", path.display());
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {err}");
    assert!(lines[0].starts_with("proctor: error: "), "{err}");
    assert!(lines[0].contains(&path.display().to_string()), "names the file: {err}");
    assert!(lines[0].contains(problem), "says '{problem}': {err}");
    assert!(listing(outdir).is_empty(), "left behind: {:?}", listing(outdir));
}

#[test]
fn missing_file() {
    rejects(std::path::Path::new("/nonexistent/interview.webm"), "no such file");
}

#[test]
fn directory() {
    let d = tempfile::tempdir().unwrap();
    rejects(d.path(), "is a directory");
}

#[test]
fn empty_file() {
    rejects(&fixture("empty.mp4"), "is empty (0 bytes)");
}

#[test]
fn random_bytes() {
    rejects(&fixture("random.webm"), "is not a video file FFmpeg can read");
}

#[test]
fn text_file_named_mp4() {
    rejects(&fixture("notvideo.mp4"), "is not a video file FFmpeg can read");
}

#[test]
fn audio_only() {
    rejects(&fixture("audio_only.webm"), "has no video stream (audio only)");
}

/// A file its reader may not open. Root opens any file whatever its mode (and
/// CI runs as root), so as root the binary runs as `nobody` (uid and gid 65534,
/// no supplementary groups): the file's mode must then stop it.
#[test]
fn unreadable_file() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let mode = |p: &std::path::Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    let d = tempfile::tempdir().unwrap();
    mode(d.path(), 0o777); // nobody may enter it, and write the outputs in it
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    mode(&out, 0o777);
    let p = d.path().join("locked.webm");
    std::fs::copy(fixture("vp8_opus.webm"), &p).unwrap();
    mode(&p, 0o000);
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_proctor"));
    if root {
        // the checkout may sit under a directory nobody cannot enter (/root):
        // a link to the binary beside the file (a copy across file systems)
        let here = d.path().join("proctor");
        if std::fs::hard_link(&bin, &here).is_err() {
            std::fs::copy(&bin, &here).unwrap();
        }
        mode(&here, 0o755);
        bin = here;
    }
    let mut cmd = std::process::Command::new(&bin);
    cmd.args(["analyze", "-q", "-o"]).arg(&out).arg(&p);
    if root {
        cmd.uid(65534).gid(65534);
        assert!(std::fs::File::open(&p).is_ok(), "root reads a mode-000 file: the run below is what tests it");
    }
    let r = Run { out: cmd.output().unwrap() };
    rejects_run(&p, "cannot be read", &out, r);
    // the same file readable again is analysed: the error above came from its mode
    mode(&p, 0o644);
    let r = Run { out: cmd.output().unwrap() };
    assert_eq!(r.code(), 0, "{}", r.stderr());
}

#[test]
fn one_bad_file_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let a = fixture("vp8_opus.webm");
    let b = fixture("random.webm");
    let c = fixture("h264_aac.mp4");
    let r = analyze(&[&a, &b, &c], dir.path(), &["--json"]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    let lines: Vec<serde_json::Value> = r.stdout().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let status: Vec<&str> = lines.iter().map(|l| l["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["ok", "error", "ok"]);
    let files = listing(dir.path());
    for id in ["vp8_opus", "h264_aac"] {
        for ext in ["frames.parquet", "detections.parquet", "events.parquet", "summary.json", "report.pdf"] {
            assert!(files.contains(&format!("{id}.{ext}")), "{id}.{ext} in {files:?}");
        }
    }
    assert!(!files.iter().any(|f| f.starts_with("random")), "{files:?}");
    assert!(!files.iter().any(|f| f.contains(".tmp-")), "{files:?}");
}

#[test]
fn truncated_webm_is_analysed_up_to_the_cut_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let r = analyze(&[&fixture("truncated.webm")], dir.path(), &["--json"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let v: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
    let warnings = v["warnings"].as_array().unwrap();
    assert!(warnings.iter().any(|w| w.as_str().unwrap().contains("truncated")), "{v}");
    // fewer seconds than the intact file
    let whole = analyze(&[&fixture("vp8_opus.webm")], dir.path(), &["--json"]);
    let w: serde_json::Value = serde_json::from_str(whole.stdout().trim()).unwrap();
    assert!(v["duration_s"].as_f64().unwrap() < w["duration_s"].as_f64().unwrap());
}

#[test]
fn bad_fps_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let r = analyze(&[&fixture("vp8_opus.webm")], dir.path(), &["--fps", "0"]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("analysis.fps must be in (0, 60]"), "{}", r.stderr());
}

#[test]
fn help_teaches() {
    let r = run(&["analyze", "--help"]);
    assert_eq!(r.code(), 0);
    for word in ["--outdir", "--candidate", "--fps", "--threads", "--config", "--quiet", "--json"] {
        assert!(r.stdout().contains(word), "{word} in help");
    }
    // every command teaches by example
    for cmd in ["analyze", "detect", "report", "batch", "eval", "config", "completions", "man"] {
        let r = run(&[cmd, "--help"]);
        assert_eq!(r.code(), 0);
        assert!(r.stdout().contains("Examples:\n  proctor "), "{cmd} --help has no examples:\n{}", r.stdout());
    }
}

#[test]
fn config_prints_a_loadable_default() {
    let r = run(&["config"]);
    assert_eq!(r.code(), 0);
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("proctor.toml");
    std::fs::write(&p, r.stdout()).unwrap();
    let cfg = proctor::config::Config::load(&p).unwrap();
    assert_eq!(cfg, proctor::config::Config::default());
    // each kind's section says what raises it, with its defaults in the words
    assert!(r.stdout().contains("# no_face: raised when no face found for at least 5 s"), "{}", r.stdout());
    assert!(r.stdout().contains("15 points per event.\n[rules.no_face]\nmin_s = 5.0"), "{}", r.stdout());
}

/// The commands of the CLI, as clap knows them (without clap's own `help`).
fn subcommands() -> Vec<String> {
    use clap::CommandFactory;
    let cmd = proctor::cli::Cli::command();
    let names: Vec<String> = cmd.get_subcommands().map(|c| c.get_name().to_string()).filter(|n| n != "help").collect();
    assert!(names.len() >= 8, "{names:?}");
    names
}

#[test]
fn bash_completion_completes_every_command() {
    let r = run(&["completions", "bash"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let d = tempfile::tempdir().unwrap();
    let script = d.path().join("proctor.bash");
    std::fs::write(&script, r.stdout()).unwrap();
    // what bash offers after `proctor <TAB>` and after `proctor analyze --ou<TAB>`
    let complete = |words: &str| {
        let sh = format!(
            "source '{}'\nCOMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n\
             COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}\n\
             _proctor proctor \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
             printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
            script.display()
        );
        let out = std::process::Command::new("bash").arg("-c").arg(sh).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect::<Vec<_>>()
    };
    let offered = complete("proctor ''");
    for name in subcommands() {
        assert!(offered.contains(&name), "`proctor <TAB>` does not offer {name}: {offered:?}");
    }
    assert_eq!(complete("proctor analyze --ou"), ["--outdir"]);
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let r = run(&["completions", shell]);
        assert_eq!(r.code(), 0, "{shell}: {}", r.stderr());
        assert!(r.stdout().contains("analyze"), "{shell}");
    }
    let r = run(&["completions", "tcsh"]);
    assert_eq!(r.code(), 2, "an unknown shell is a usage error");
}

#[test]
fn man_page_is_roff_naming_every_command() {
    let r = run(&["man"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let page = r.stdout();
    assert!(page.starts_with(".TH proctor 1"), "{}", &page[..page.len().min(200)]);
    for name in subcommands() {
        assert!(page.contains(&format!("proctor\\-{name}")) || page.contains(&format!("\n{name}\n")), "{name} not named:\n{page}");
        // and each command has its own page, with its flags
        let r = run(&["man", &name]);
        assert_eq!(r.code(), 0, "{name}: {}", r.stderr());
        assert!(r.stdout().starts_with(&format!(".TH proctor-{name} 1")), "{name}: {}", &r.stdout()[..200.min(r.stdout().len())]);
    }
    assert!(run(&["man", "analyze"]).stdout().contains("\\-\\-outdir"));
    let r = run(&["man", "nosuch"]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("no command 'nosuch'"), "{}", r.stderr());
}
