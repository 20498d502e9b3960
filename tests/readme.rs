//! The README and docs/ say what the binary does, and stay a front page and its
//! references:
//! - every `proctor ...` example in the README's Commands section runs as written,
//!   in README order, in a directory holding the files the examples name (short
//!   fixture recordings under those names): exit 0, or 1 where it asks for
//!   `--fail-under`; never 2, never a panic;
//! - every command and every long flag of every command (as clap defines them, so
//!   as `--help` shows them) is named in README.md or docs/*.md;
//! - every relative link in README.md and docs/*.md leads to a file that exists,
//!   and its `#anchor`, if any, to a heading of that file;
//! - the README is under 250 lines and names no commit.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::util::*;

/// The section of `text` from the heading line `heading` to the next heading of
/// the same level.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text.find(&format!("\n{heading}\n")).unwrap_or_else(|| panic!("a `{heading}` section"));
    let level = heading.split(' ').next().unwrap();
    let body = &text[start + heading.len() + 2..];
    let end = body.find(&format!("\n{level} ")).unwrap_or(body.len());
    &body[..end]
}

/// The `proctor` lines of the ```sh blocks of `text`.
fn examples(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in text.lines() {
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
    copy("sample.webm", "sample.webm");
    copy("sample.truth.json", "labels.json");
    copy("vp8_noaudio.webm", "archive/2026/cohort-a/alice.webm");
    copy("h264_noaudio.mp4", "archive/2026/cohort-b/bob.mp4");
    // a reference photo for one of the archive's recordings (by id); the other has none
    copy("face.jpg", "photos/cohort-a__alice.jpg");
    std::fs::write(dir.join("todo.txt"), "# recordings to audit\ninterview.webm\nexam.mp4\n").unwrap();
    std::fs::write(dir.join("strict.toml"), "[rules.no_face]\nmin_s = 5\n\n[policy.deductions]\nphone = 30\n").unwrap();
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

/// README.md and every docs/*.md, with their paths.
fn documents() -> Vec<(PathBuf, String)> {
    let mut docs = vec![(root().join("README.md"), readme())];
    let mut more: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("a docs/ directory")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    more.sort();
    assert!(more.len() >= 6, "{more:?}");
    docs.extend(more.into_iter().map(|p| {
        let text = std::fs::read_to_string(&p).unwrap();
        (p, text)
    }));
    docs
}

#[test]
fn readme_command_examples_run_as_written() {
    let readme = readme();
    let cmds = examples(section(&readme, "## Commands"));
    assert!(cmds.len() >= 12, "{cmds:?}");
    let d = tempfile::tempdir().unwrap();
    setup(d.path());
    let bin = env!("CARGO_BIN_EXE_proctor");
    for cmd in &cmds {
        // an example that waits (a server, a prompt) fails here instead of hanging the suite
        let script = format!("proctor() {{ timeout 300 '{bin}' \"$@\"; }}\n{cmd}\n");
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(d.path())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let code = out.status.code().unwrap_or(-1);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let allowed = if cmd.contains("--fail-under") { code == 0 || code == 1 } else { code == 0 };
        assert!(allowed, "README example `{cmd}` exited {code}:\n{stderr}");
        assert!(!stderr.contains("panicked"), "`{cmd}`: {stderr}");
    }
}

#[test]
fn every_command_and_flag_is_documented() {
    let docs = documents();
    let all: String = docs.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join("\n");
    // `--fps` must not count as documented because `--fps-max` is
    let named = |flag: &str| {
        all.match_indices(flag).any(|(i, _)| {
            !all[i + flag.len()..].chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
    };
    let readme = readme();
    let mut missing = Vec::new();
    let cli = proctor::cli::Cli::command();
    for cmd in cli.get_subcommands() {
        let name = cmd.get_name();
        if !readme.contains(&format!("proctor {name}")) {
            missing.push(format!("command `proctor {name}` (in the README)"));
        }
        for arg in cmd.get_arguments() {
            if let Some(long) = arg.get_long() {
                let flag = format!("--{long}");
                if !named(&flag) {
                    missing.push(format!("{name} {flag}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "not in README.md or docs/*.md: {missing:?}");
}

/// The other direction: every `--flag` the docs give a `proctor <command>`
/// (on the same line, up to a pipe, `&&`, `;` or the end of a code span) is
/// one that command has, and a code span that is a flag alone is some
/// command's flag. A flag renamed or removed in the CLI but left in the docs
/// fails here.
#[test]
fn every_flag_the_docs_give_a_command_exists() {
    let cli = proctor::cli::Cli::command();
    let mut wrong = Vec::new();
    let mut seen = 0;
    for (path, text) in documents() {
        for (n, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(i) = rest.find("proctor ") {
                rest = &rest[i + "proctor ".len()..];
                let name: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '-').collect();
                let Some(cmd) = cli.get_subcommands().find(|c| c.get_name() == name) else { continue };
                let end = rest.find(['|', '`', ';', ')', '#']).unwrap_or(rest.len()).min(rest.find("&&").unwrap_or(rest.len()));
                for word in rest[..end].split_whitespace().filter(|w| w.starts_with("--") && w.len() > 2) {
                    let flag = word[2..].split(['=', ',', '.', '[', '"', '\'', '*']).next().unwrap_or("");
                    if flag.is_empty() || !flag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                        continue;
                    }
                    seen += 1;
                    let known = matches!(flag, "help" | "version") || cmd.get_arguments().any(|a| a.get_long() == Some(flag));
                    if !known {
                        wrong.push(format!("{}:{}: `proctor {name} --{flag}`: no such flag", path.display(), n + 1));
                    }
                }
            }
        }
    }
    // a code span that is a flag alone (`--no-objects`) names one of proctor's
    // commands' flags, or one of the few other tools' flags the docs mention
    // sbatch's --array; cargo's --features, --ignored, --locked, --profile
    let others = ["array", "features", "ignored", "locked", "profile"];
    let any_has = |flag: &str| cli.get_subcommands().any(|c| c.get_arguments().any(|a| a.get_long() == Some(flag)));
    for (path, text) in documents() {
        for (n, line) in text.lines().enumerate() {
            for span in line.split('`').skip(1).step_by(2) {
                let Some(flag) = span.strip_prefix("--") else { continue };
                let flag: String = flag.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
                if !flag.is_empty() && !matches!(flag.as_str(), "help" | "version") && !others.contains(&flag.as_str()) && !any_has(&flag) {
                    wrong.push(format!("{}:{}: `--{flag}`: no proctor command has it", path.display(), n + 1));
                }
            }
        }
    }
    assert!(seen > 40, "only {seen} flags of commands found in the docs: is the scan reading them?");
    assert!(wrong.is_empty(), "flags the CLI does not have:\n  {}", wrong.join("\n  "));
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as '-'.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    let mut in_code = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            out.push(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

#[test]
fn every_docs_link_resolves() {
    let link = regex::Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let mut checked = 0;
    let mut broken = Vec::new();
    for (path, text) in documents() {
        for m in link.captures_iter(&text) {
            let target = &m[1];
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (file, frag) = match target.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (target, None),
            };
            let dest = if file.is_empty() { path.clone() } else { path.parent().unwrap().join(file) };
            if !dest.exists() {
                broken.push(format!("{}: {target} (no such file)", path.display()));
                continue;
            }
            if let Some(a) = frag {
                let text = std::fs::read_to_string(&dest).unwrap_or_default();
                if !anchors(&text).iter().any(|h| h == a) {
                    broken.push(format!("{}: {target} (no such heading)", path.display()));
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} links found");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn readme_is_a_front_page() {
    let readme = readme();
    let lines = readme.lines().count();
    assert!(lines < 250, "README.md has {lines} lines; measured detail belongs in docs/");
    // a commit id: 7 to 40 hex digits with a letter and a digit among them
    let hex = regex::Regex::new(r"\b[0-9a-f]{7,40}\b").unwrap();
    let commits: Vec<&str> = hex
        .find_iter(&readme)
        .map(|m| m.as_str())
        .filter(|h| h.bytes().any(|b| b.is_ascii_digit()) && h.bytes().any(|b| b.is_ascii_alphabetic()))
        .collect();
    assert!(commits.is_empty(), "commit ids in the README: {commits:?}");
}

/// docs/rules.md's reference of the kinds is the one their homes give
/// (`proctor::cli_docs::kinds_reference`): a default, a deduction or a rule's
/// words changed in `src/kinds` and not in the docs fails here.
/// `PROCTOR_BLESS=1 cargo test --test tests readme::` writes it in.
#[test]
fn the_rules_page_documents_each_kind_from_its_home() {
    let path = root().join("docs/rules.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = ("<!-- kinds:begin -->\n", "<!-- kinds:end -->");
    let (Some(b), Some(e)) = (text.find(begin), text.find(end)) else { panic!("docs/rules.md lacks the {begin} ... {end} block") };
    let want = proctor::cli_docs::kinds_reference();
    let got = &text[b + begin.len()..e];
    if got.trim() != want.trim() && std::env::var_os("PROCTOR_BLESS").is_some() {
        std::fs::write(&path, format!("{}{begin}\n{}\n{}", &text[..b], want.trim(), &text[e..])).unwrap();
        return;
    }
    assert_eq!(got.trim(), want.trim(), "docs/rules.md's kinds differ from src/kinds (PROCTOR_BLESS=1 writes them in)");
}
