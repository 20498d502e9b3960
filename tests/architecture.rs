//! The data flows one way: every module of `src/` may use only modules below
//! it in [`LAYERS`]. This reads the `crate::` paths of each file, grouped
//! ones and `super::` chains that reach the crate root included (tests and
//! comments left out: `#[cfg(test)] mod tests` blocks and `tests.rs` files),
//! so an import that points back up the flow, or an import cycle, fails here
//! with the file that made it.

use std::collections::BTreeMap;
use std::path::Path;

/// The modules from the bottom up: each may use those before it only.
const LAYERS: &[&str] = &[
    // plain facts and utilities, depending on nothing of the project
    "error",
    "clock",
    "ids",
    "text",
    "progress",
    "kinds",
    "output",
    "config",
    // the records every stage hands the next
    "records",
    // the stages, in the order data flows through them
    "decode",
    "audio",
    "detect",
    "geometry",
    "schedule",
    "observation",
    "identity",
    "events",
    "score",
    "rules",
    // the measurements views plot over time (the report's figure, the page's plots)
    "signals",
    "evidence",
    "analyze",
    // writers, readers and views of a whole analysis
    "tables",
    // reads a saved analysis back (the review desk reads the summaries through it)
    "load",
    "report",
    "review",
    "save",
    // one recording's job (lock, analyse, save), for analyze and batch
    "job",
    "eval",
    // thresholds learnt from the verdicts, on saved analyses
    "calibrate",
    "batch",
    "rescore",
    // the command line
    "cli",
    "cli_docs",
    "app",
];

/// Macros exported at the crate root, and the module they are defined in.
const MACROS: &[(&str, &str)] = &[("say", "output"), ("warn", "output")];

fn module_of(rel: &Path) -> String {
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    first.strip_suffix(".rs").unwrap_or(&first).to_string()
}

/// The source without its `#[cfg(test)] mod tests` block and comments.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// The module path of a file under `src/`: `a.rs` and `a/mod.rs` are `[a]`,
/// `a/b.rs` is `[a, b]`.
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap_or_default();
    if last != "mod.rs" {
        parts.push(last.strip_suffix(".rs").unwrap_or(&last).to_string());
    }
    parts
}

/// The names a path continues with after a `crate::` (or a `super::` that
/// reaches the crate root): one name, or each top-level name of a `{...}` group.
fn names_at(rest: &str) -> Vec<String> {
    let ident = |s: &str| -> String { s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect() };
    let rest = rest.trim_start();
    let Some(group) = rest.strip_prefix('{') else {
        return vec![ident(rest)].into_iter().filter(|n| !n.is_empty()).collect();
    };
    let (mut depth, mut names, mut start) = (0usize, Vec::new(), true);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => start = true,
            c if start && !c.is_whitespace() => {
                start = false;
                let n = ident(&group[i..]);
                if !n.is_empty() && n != "self" {
                    names.push(n);
                }
            }
            _ => {}
        }
    }
    names
}

/// The top-level modules `code` (of the file at `rel`) names: through
/// `crate::` paths (single or grouped), and `super::` chains that reach the
/// crate root.
fn uses(code: &str, rel: &Path) -> Vec<String> {
    let depth = module_path(rel).len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let at_word = i == 0 || !code[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        if at_word && rest.starts_with("crate::") {
            out.extend(names_at(&rest["crate::".len()..]));
            i += "crate::".len();
        } else if at_word && rest.starts_with("super::") {
            let mut after = rest;
            let mut ups = 0;
            while let Some(r) = after.strip_prefix("super::") {
                ups += 1;
                after = r;
            }
            if ups >= depth {
                out.extend(names_at(after));
            }
            i += rest.len() - after.len();
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    out
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every `(module, file, used module)` where the file uses another module.
fn imports(src: &Path) -> Vec<(String, String, String)> {
    let mut files = Vec::new();
    sources(src, &mut files);
    let mut out = Vec::new();
    for f in files {
        let rel = f.strip_prefix(src).unwrap();
        let m = module_of(rel);
        // test code may reach anywhere: `tests.rs` files are a module's tests
        if m == "lib" || m == "main" || rel.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&f).unwrap());
        for used in uses(&code, rel) {
            let used = MACROS.iter().find(|(name, _)| *name == used).map_or(used, |(_, home)| home.to_string());
            if used != m {
                out.push((m.clone(), rel.display().to_string(), used));
            }
        }
    }
    out
}

#[test]
fn every_import_points_down_the_flow() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rank: BTreeMap<&str, usize> = LAYERS.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let found = imports(&src);
    assert!(found.len() > 50, "the scan found only {} imports: is it reading src/?", found.len());
    let mut wrong = Vec::new();
    for (m, file, used) in &found {
        match (rank.get(m.as_str()), rank.get(used.as_str())) {
            (None, _) => wrong.push(format!("{file}: module {m} is not placed in LAYERS (tests/architecture.rs)")),
            (_, None) => wrong.push(format!("{file}: uses crate::{used}, which is not placed in LAYERS")),
            (Some(a), Some(b)) if b >= a => wrong.push(format!("{file}: {m} uses {used}, which is above it (or beside it)")),
            _ => {}
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "imports against the flow:\n  {}", wrong.join("\n  "));
}

#[test]
fn the_check_sees_an_import_back_up() {
    // the scan itself: a use of a higher module in a lower one is reported
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("records")).unwrap();
    std::fs::write(d.path().join("records/mod.rs"), "use crate::report::render; // a comment: crate::app\n").unwrap();
    std::fs::write(d.path().join("report.rs"), "use crate::records::Analysis;\n#[cfg(test)]\nmod tests {\n use crate::app::run;\n}\n").unwrap();
    // a `super::` that reaches the crate root, a grouped `crate::{...}`, a re-export
    std::fs::write(d.path().join("score.rs"), "use super::review::page;\n").unwrap();
    std::fs::write(d.path().join("records/event.rs"), "use super::Analysis;\nuse super::super::batch::Row;\n").unwrap();
    std::fs::write(d.path().join("ids.rs"), "pub use crate::{text::visible, eval::{self, Truth}};\n").unwrap();
    let mut got = imports(d.path());
    got.sort();
    let t = |m: &str, f: &str, u: &str| (m.to_string(), f.to_string(), u.to_string());
    assert_eq!(
        got,
        vec![
            t("ids", "ids.rs", "eval"),
            t("ids", "ids.rs", "text"),
            t("records", "records/event.rs", "batch"),
            t("records", "records/mod.rs", "report"),
            t("report", "report.rs", "records"),
            t("score", "score.rs", "review"),
        ]
    );
}

/// Every file holds one job a newcomer can name: it opens with a `//!`
/// comment saying which, and none is over 600 lines but the kernel library
/// (`detect/ops.rs`), where the kernels share their helpers.
#[test]
fn every_file_says_its_job_and_none_is_too_long() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 80, "{} files", files.len());
    let mut wrong = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap().display().to_string();
        let text = std::fs::read_to_string(&f).unwrap();
        if !text.starts_with("//!") {
            wrong.push(format!("{rel}: does not open with a //! comment saying its job"));
        }
        let lines = text.lines().count();
        if lines > 600 && rel != "detect/ops.rs" {
            wrong.push(format!("{rel}: {lines} lines (split it by job)"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// One palette: a kind's colour is given in `src/kinds/mod.rs` only. No other
/// source, template or page asset pairs a kind's name with a colour of its
/// own (the PDF once drew `phone` blue where the page drew it pink).
#[test]
fn a_kinds_colour_has_one_home() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    fn all(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                all(&p, out);
            } else if p.extension().is_some_and(|x| ["rs", "typ", "js", "css", "html"].iter().any(|e| x == *e)) {
                out.push(p);
            }
        }
    }
    all(&src, &mut files);
    let names: Vec<String> = proctor::kinds::EventKind::ALL.iter().map(|k| k.to_string()).collect();
    let colour = regex::Regex::new(r#"#[0-9a-fA-F]{6}\b"#).unwrap();
    let mut wrong = Vec::new();
    for f in files.iter().filter(|f| !f.ends_with("kinds/mod.rs")) {
        for (n, line) in std::fs::read_to_string(f).unwrap().lines().enumerate() {
            let named = names.iter().any(|k| line.contains(&format!("{k}:")) || line.contains(&format!("\"{k}\"")));
            if named && colour.is_match(line) {
                wrong.push(format!("{}:{}: {}", f.strip_prefix(&src).unwrap().display(), n + 1, line.trim()));
            }
        }
    }
    assert!(wrong.is_empty(), "a kind's colour outside src/kinds:\n{}", wrong.join("\n"));
}

/// A kind lives in its home, `src/kinds/<kind>.rs`, and the list beside it
/// (`src/kinds/mod.rs`): the configuration, the rules, the report and the
/// review desk name no kind in a string and know no threshold of one by the
/// key it had before it moved to `[rules.<kind>]` (they read a kind's
/// thresholds through the typed `cfg.rules.<kind>`, and its words, colour
/// and deduction from its home). Comments and tests are left out.
#[test]
fn a_kinds_name_and_thresholds_live_in_its_home() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for dir in ["events", "report", "review"] {
        sources(&src.join(dir), &mut files);
    }
    files.push(src.join("config.rs"));
    files.push(src.join("report/template.typ"));
    let mut forbidden: Vec<String> = proctor::kinds::EventKind::ALL.iter().map(|k| format!("\"{k}\"")).collect();
    for k in proctor::kinds::EventKind::ALL {
        for (old, field) in proctor::kinds::legacy(k) {
            // (a key whose name did not change, `absence_mark_s`, is its section's field)
            if let Some(flat) = old.strip_prefix("events.").filter(|flat| flat != field) {
                forbidden.push(flat.to_string());
            }
        }
    }
    forbidden.sort();
    forbidden.dedup();
    let mut wrong = Vec::new();
    for f in files.iter().filter(|f| !f.ends_with("tests.rs")) {
        let text = std::fs::read_to_string(f).unwrap();
        let code = if f.extension().is_some_and(|x| x == "rs") { code_of(&text) } else { text.clone() };
        for (n, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap_or("");
            if let Some(hit) = forbidden.iter().find(|k| line.contains(k.as_str()) && (k.starts_with('"') || word_in(line, k))) {
                wrong.push(format!("{}:{}: {hit} in {}", f.strip_prefix(&src).unwrap().display(), n + 1, line.trim()));
            }
        }
    }
    assert!(wrong.is_empty(), "a kind's name or old threshold key outside src/kinds:\n{}", wrong.join("\n"));
}

/// Whether `word` stands in `line` as a whole identifier.
fn word_in(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}
