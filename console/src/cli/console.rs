//! `opsbox` with no subcommand: the console, on the environment `--env` names.

use clap::Args;

use crate::env::local::StateDir;
use crate::tui::{self, ConsoleOptions};

/// The environments the console can open.
const ENVIRONMENTS: [&str; 1] = ["local"];

#[derive(Debug, Clone, Args)]
pub struct ConsoleArgs {
    /// The environment the console opens.
    #[arg(long = "env", default_value = "local", value_parser = clap::builder::PossibleValuesParser::new(ENVIRONMENTS))]
    pub environment: String,
    /// Show everything, change nothing: every action (promote, abort, kill, requeue,
    /// drills, starting the environment) is disabled.
    #[arg(long)]
    pub read_only: bool,
}

pub fn run(state: &StateDir, args: &ConsoleArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    anyhow::ensure!(
        std::io::stdout().is_terminal() && std::io::stdin().is_terminal(),
        "the console needs a terminal; for scripts use `opsbox status`, `opsbox slo` or `--json` verbs"
    );
    tui::run(ConsoleOptions {
        state_dir: state.clone(),
        read_only: args.read_only,
    })
}
