//! `opsbox rollout start|status|promote|abort|retry|undo`, with the semantics of
//! `kubectl argo rollouts`. Every verb prints the rollout as it stands right after it
//! took effect, and is written to the audit log.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::{rollout_view, runtime};
use crate::env::{AnyEnvironment, Environment};
use crate::model::RolloutStatus;
use crate::operations::{Operation, Performed, Via};

/// How often `rollout status --watch` refreshes.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Start canary instances of a new revision and walk the steps of the chart's
    /// `rollout.steps`.
    Start(StartArgs),
    /// Show the steps, the current weight, analysis results and revisions.
    Status(StatusArgs),
    /// End the current pause, or skip the current step; `--full` skips to 100%.
    Promote(PromoteArgs),
    /// Send all traffic back to stable and stop the canary.
    Abort(OutputArgs),
    /// Start an aborted rollout again from its first step.
    Retry(OutputArgs),
    /// Make the previous stable revision (or `--to-revision`) the stable one again.
    Undo(UndoArgs),
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print the rollout as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// The revision's version label, e.g. `v2`.
    #[arg(long)]
    pub revision: String,
    /// An environment override of the revision's API instances, e.g.
    /// `--set OPSBOX_FAULT_ERROR_RATE=0.3` to ship a bad release on purpose. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_override)]
    pub overrides: Vec<(String, String)>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub output: OutputArgs,
    /// Refresh every second until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// Skip every remaining step (and analysis) and make the canary stable.
    #[arg(long)]
    pub full: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct UndoArgs {
    /// The revision to go back to (default: the previous stable one).
    #[arg(long)]
    pub to_revision: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub(super) fn parse_override(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))?;
    if key.is_empty() {
        return Err(format!("`{text}` has an empty KEY"));
    }
    Ok((key.to_owned(), value.to_owned()))
}

pub fn run(environment: &AnyEnvironment, command: &RolloutCommand) -> anyhow::Result<()> {
    let runtime = runtime()?;
    let (operation, json) = match command {
        RolloutCommand::Status(args) => return runtime.block_on(show(environment, args)),
        RolloutCommand::Start(args) => (
            Operation::StartRollout {
                revision: args.revision.clone(),
                overrides: args.overrides.iter().cloned().collect::<BTreeMap<_, _>>(),
            },
            args.output.json,
        ),
        RolloutCommand::Promote(args) => (Operation::Promote { full: args.full }, args.output.json),
        RolloutCommand::Abort(args) => (Operation::Abort, args.json),
        RolloutCommand::Retry(args) => (Operation::Retry, args.json),
        RolloutCommand::Undo(args) => (
            Operation::Undo {
                to: args.to_revision.clone(),
            },
            args.output.json,
        ),
    };
    let performed = runtime.block_on(operation.perform_and_record(environment, Via::Cli))?;
    let Performed::Rollout(status) = performed else {
        anyhow::bail!("the environment did not answer with the rollout");
    };
    print!("{}", render(&status, json)?);
    Ok(())
}

async fn show(environment: &impl Environment, args: &StatusArgs) -> anyhow::Result<()> {
    loop {
        let status = environment.rollout().await?;
        let text = render(&status, args.output.json)?;
        if !args.watch {
            print!("{text}");
            return Ok(());
        }
        // Clear the screen and go home: a view that replaces itself, like `watch`.
        print!("\x1b[2J\x1b[H{text}");
        tokio::select! {
            () = tokio::time::sleep(WATCH_INTERVAL) => {}
            interrupted = tokio::signal::ctrl_c() => {
                interrupted.context("cannot watch Ctrl-C")?;
                return Ok(());
            }
        }
    }
}

pub(super) fn render(status: &RolloutStatus, json: bool) -> anyhow::Result<String> {
    if json {
        Ok(serde_json::to_string_pretty(status)? + "\n")
    } else {
        Ok(rollout_view::render(status, chrono::Utc::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_must_be_key_value() {
        assert_eq!(
            parse_override("OPSBOX_FAULT_ERROR_RATE=0.3"),
            Ok(("OPSBOX_FAULT_ERROR_RATE".into(), "0.3".into()))
        );
        assert_eq!(parse_override("A="), Ok(("A".into(), String::new())));
        assert!(parse_override("novalue").is_err());
        assert!(parse_override("=1").is_err());
    }
}
