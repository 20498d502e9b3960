//! The data flows one way: every module of `src/` may use only modules below
//! it in [`LAYERS`]. This reads the `crate::` paths of each file (tests and
//! comments left out), so an import that points back up the flow, or an
//! import cycle, fails here with the file that made it.

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
    "batch",
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

fn uses(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            out.push(name);
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
        if m == "lib" || m == "main" {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&f).unwrap());
        for used in uses(&code) {
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
    let mut got = imports(d.path());
    got.sort();
    assert_eq!(
        got,
        vec![
            ("records".to_string(), "records/mod.rs".to_string(), "report".to_string()),
            ("report".to_string(), "report.rs".to_string(), "records".to_string()),
        ]
    );
}
