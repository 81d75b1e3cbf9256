//! `opsbox` with no subcommand: the console, on the environment `--env` names.

use clap::Args;

use crate::env::EnvArgs;
use crate::tui::{self, ConsoleOptions};

#[derive(Debug, Clone, Args)]
pub struct ConsoleArgs {
    /// Show everything, change nothing: every action (promote, abort, kill, requeue,
    /// drills, starting the environment) is disabled.
    #[arg(long)]
    pub read_only: bool,
}

pub fn run(env: &EnvArgs, args: &ConsoleArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let environment = env.open(args.read_only)?;
    anyhow::ensure!(
        std::io::stdout().is_terminal() && std::io::stdin().is_terminal(),
        "the console needs a terminal; for scripts use `opsbox status`, `opsbox slo` or `--json` verbs"
    );
    tui::run(ConsoleOptions { environment })
}
