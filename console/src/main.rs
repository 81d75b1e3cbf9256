//! `opsbox`: parse the command line and hand over to the library.

use std::process::ExitCode;

use opsbox::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::try_parse_checked(std::env::args_os()).unwrap_or_else(|error| error.exit());
    match opsbox::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("opsbox: {err:#}");
            ExitCode::from(opsbox::cli::exit_code(&err))
        }
    }
}
