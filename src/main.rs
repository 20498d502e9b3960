use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    proctor::app::run(proctor::cli::Cli::parse())
}
