//! Shell completion scripts and the manual page, generated from the clap
//! definitions in `cli.rs` (so they never list a flag the binary lacks).

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
