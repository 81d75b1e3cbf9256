//! `opsbox`: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;
use opsbox::cli::Cli;

fn main() -> ExitCode {
    match opsbox::cli::run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("opsbox: {err:#}");
            ExitCode::from(opsbox::cli::exit_code(&err))
        }
    }
}
