//! The `proctor` binary: parse the command line and run it (`proctor::app`).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    proctor::app::tune_allocator();
    proctor::app::run(proctor::cli::Cli::parse())
}
