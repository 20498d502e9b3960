//! Every `proctor ...` example in the README's command sections (from
//! "## Commands" to "## Models") runs as written, in README order, in a
//! directory holding the files the examples name (short fixture recordings
//! under those names). An example may exit 0, or 1 where it asks for
//! `--fail-under`; never 2, never a panic.

use std::path::Path;

use crate::util::*;

/// The `proctor` lines of the ```sh blocks between the two headings.
fn examples(readme: &str) -> Vec<String> {
    let start = readme.find("\n## Commands").expect("a Commands section");
    let end = readme[start..].find("\n## Models").map_or(readme.len(), |e| start + e);
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in readme[start..end].lines() {
        let t = line.trim();
        if t.starts_with("```") {
            in_sh = !in_sh && t == "```sh";
            continue;
        }
        if in_sh && t.starts_with("proctor ") {
            // a trailing "  # comment" is not part of the command
            let cmd = match t.find("  #") {
                Some(i) => t[..i].trim_end(),
                None => t,
            };
            out.push(cmd.to_string());
        }
    }
    out
}

fn setup(dir: &Path) {
    let copy = |from: &str, to: &str| {
        let dst = dir.join(to);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(fixture(from), dst).unwrap();
    };
    copy("vp8_opus.webm", "interview.webm");
    copy("vp9_opus.webm", "exam.webm");
    copy("h264_aac.mp4", "exam.mp4");
    copy("face.jpg", "photo.jpg");
    copy("vp8_noaudio.webm", "archive/2026/cohort-a/alice.webm");
    copy("h264_noaudio.mp4", "archive/2026/cohort-b/bob.mp4");
    // a reference photo for one of the archive's recordings (by id); the other has none
    copy("face.jpg", "photos/cohort-a__alice.jpg");
    std::fs::write(dir.join("todo.txt"), "# recordings to audit\ninterview.webm\nexam.mp4\n").unwrap();
    std::fs::write(dir.join("strict.toml"), "[events]\nno_face_min_s = 5\n\n[policy.deductions]\nphone = 30\n").unwrap();
}

#[test]
fn readme_command_examples_run_as_written() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let cmds = examples(&readme);
    assert!(cmds.len() >= 8, "{cmds:?}");
    let d = tempfile::tempdir().unwrap();
    setup(d.path());
    let bin = env!("CARGO_BIN_EXE_proctor");
    for cmd in &cmds {
        // --threads 1 keeps the suite's CPU use in bounds; -q the output short
        let script = format!("proctor() {{ '{bin}' \"$@\"; }}\n{cmd}\n");
        let out = std::process::Command::new("bash").arg("-c").arg(&script).current_dir(d.path()).output().unwrap();
        let code = out.status.code().unwrap_or(-1);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let allowed = if cmd.contains("--fail-under") { code == 0 || code == 1 } else { code == 0 };
        assert!(allowed, "README example `{cmd}` exited {code}:\n{stderr}");
        assert!(!stderr.contains("panicked"), "`{cmd}`: {stderr}");
    }
}
