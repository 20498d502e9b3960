//! Shell completion scripts and the manual page, generated from the clap
//! definitions in `cli.rs` (so they never list a flag the binary lacks), and
//! the kinds' reference in docs/rules.md, generated from their homes in
//! `src/kinds` (so it never states a default the binary does not have).

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// The completion script for `shell`.
pub fn completion_script(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "proctor", &mut out);
    out
}

/// The roff source of proctor(1), or of proctor-COMMAND(1) for one command.
pub fn man_page(command: Option<&str>) -> Result<Vec<u8>, String> {
    let mut cmd = Cli::command();
    cmd.build();
    let page = match command {
        None => cmd,
        Some(name) => {
            let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).filter(|n| *n != "help").collect();
            let sub = cmd
                .find_subcommand(name)
                .filter(|_| name != "help")
                .ok_or_else(|| format!("no command '{name}' (one of: {})", names.join(", ")))?;
            sub.clone()
        }
    };
    let source = format!("proctor {}", env!("CARGO_PKG_VERSION"));
    let mut out = Vec::new();
    clap_mangen::Man::new(page).source(source).render(&mut out).map_err(|e| e.to_string())?;
    Ok(title_first(out))
}

/// The page with its `.TH` title line first: the roff crate puts the
/// definition of the apostrophe string before it, which is as valid after it,
/// and a page that starts with its title is what man(7) shows and tools expect.
fn title_first(page: Vec<u8>) -> Vec<u8> {
    let text = String::from_utf8_lossy(&page);
    let Some(start) = text.find("\n.TH ").map(|i| i + 1) else { return page };
    let end = text[start..].find('\n').map_or(text.len(), |e| start + e + 1);
    format!("{}{}{}", &text[start..end], &text[..start], &text[end..]).into_bytes()
}

/// The reference of every kind, in Markdown, from its home: the rule in words
/// under the default configuration, its `[rules.<kind>]` keys with their
/// defaults, its deduction and why, what it needs, and the keys of earlier
/// files that set its thresholds. docs/rules.md holds it between
/// `<!-- kinds:begin -->` and `<!-- kinds:end -->` (a test keeps them equal).
pub fn kinds_reference() -> String {
    use crate::kinds::{self, EventKind, Needs};
    let cfg = crate::config::Config::default();
    let sections = toml::Table::try_from(&cfg.rules).expect("the rules serialise");
    let mut out = String::new();
    for k in EventKind::ALL {
        let keys: Vec<String> = match sections.get(k.as_str()).and_then(|v| v.as_table()) {
            Some(t) => t.iter().map(|(key, v)| format!("`{key} = {v}`")).collect(),
            None => Vec::new(),
        };
        let (points, why) = kinds::deduction(k);
        let scaled = kinds::full_at_s(k).map_or(String::new(), |s| format!(", its share of them for events shorter than {s} s"));
        let needs = match kinds::needs(k) {
            Needs::Faces => "the face models",
            Needs::Objects => "the object model",
            Needs::Audio => "an audio stream",
            Needs::Speech => "speech detection on the audio, and the face models",
            Needs::Reference => "the face descriptor and a reference photo (`--reference`)",
            Needs::Enrolment => "the face descriptor, no reference photo (the candidate is enrolled from the session)",
        };
        let legacy: Vec<String> = kinds::legacy(k).iter().map(|(old, field)| format!("`{old}` (now `{field}`)")).collect();
        out.push_str(&format!("### `{k}`\n\n"));
        out.push_str(&format!("- **Raised when** {}.\n", k.rule(&cfg)));
        out.push_str(&format!("- **Thresholds**, `[rules.{k}]`: {}.\n", keys.join(", ")));
        out.push_str(&format!("- **Deduction**: {points} points per event{scaled}: {why}.\n"));
        out.push_str(&format!("- **Checked** with {needs}; colour `{}`.\n", kinds::colour(k)));
        if !legacy.is_empty() {
            out.push_str(&format!("- **Earlier keys**, still read: {}.\n", legacy.join(", ")));
        }
        out.push('\n');
    }
    out.trim_end().to_string() + "\n"
}

/// `proctor config`: every setting with its default, each kind's section
/// preceded by its rule in words and its deduction (from its home).
pub fn commented_config() -> String {
    use crate::kinds::EventKind;
    let cfg = crate::config::Config::default();
    let mut out = String::new();
    for line in cfg.to_toml().trim_end().lines() {
        let kind = line.strip_prefix("[rules.").and_then(|l| l.strip_suffix(']')).and_then(|k| k.parse::<EventKind>().ok());
        if let Some(k) = kind {
            let words = format!("{k}: raised when {}; {} points per event.", k.rule(&cfg), crate::kinds::deduction(k).0);
            for w in wrap(&words, 96) {
                out.push_str(&format!("# {w}\n"));
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `text` in lines of at most `width` characters, broken at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let last = lines.last_mut().expect("one line");
        if !last.is_empty() && last.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}
