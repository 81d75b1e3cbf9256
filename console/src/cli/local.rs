//! The local environment's verbs: `up`, `status`, `down`, as the operator sees them.

use std::time::Duration;

use anyhow::Context;

use super::status_table;
use super::{StatusArgs, UpArgs};
use crate::audit::{AuditEntry, AuditLog, Outcome};
use crate::env::local::lifecycle::{self, DownOutcome, UpRequest};
use crate::env::local::{process, ControlClient, LocalEnvironment, StateDir};
use crate::env::Environment;

/// How often `status --watch` refreshes.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub fn up(state: &StateDir, args: &UpArgs) -> anyhow::Result<()> {
    let request = UpRequest {
        api_replicas: args.api_replicas,
        workers: args.workers,
        port: args.port,
    };
    let result = runtime()?.block_on(lifecycle::up(state, request));
    audit(
        state,
        "up",
        serde_json::json!({
            "api_replicas": args.api_replicas,
            "workers": args.workers,
            "port": args.port,
        }),
        &result,
    );
    print!("{}", status_table::ready_summary(&result?, state));
    Ok(())
}

/// Records a lifecycle verb; `up` and `down` change the environment like any other verb.
fn audit<T>(
    state: &StateDir,
    action: &str,
    parameters: serde_json::Value,
    result: &anyhow::Result<T>,
) {
    AuditLog::new(state.audit_log()).record(&AuditEntry::by_current_user(
        "local",
        action,
        &state.root().display().to_string(),
        parameters,
        Outcome::from_result(result),
    ));
}

pub fn status(state: &StateDir, args: &StatusArgs) -> anyhow::Result<()> {
    let environment = connect(state)?;
    let runtime = runtime()?;
    if !args.watch {
        let status = runtime.block_on(environment.status())?;
        print!("{}", render(&status, args.json)?);
        return Ok(());
    }
    runtime.block_on(async {
        loop {
            let status = environment.status().await?;
            // Clear the screen and go home: a table that replaces itself, like `watch`.
            print!("\x1b[2J\x1b[H{}", render(&status, args.json)?);
            tokio::select! {
                () = tokio::time::sleep(WATCH_INTERVAL) => {}
                interrupted = tokio::signal::ctrl_c() => {
                    interrupted.context("cannot watch Ctrl-C")?;
                    return Ok(());
                }
            }
        }
    })
}

fn render(status: &crate::model::EnvironmentStatus, json: bool) -> anyhow::Result<String> {
    if json {
        Ok(serde_json::to_string_pretty(status)? + "\n")
    } else {
        Ok(status_table::render(status, chrono::Utc::now()))
    }
}

pub(super) fn connect(state: &StateDir) -> anyhow::Result<LocalEnvironment> {
    let Some(client) = ControlClient::from_state_dir(state)? else {
        anyhow::bail!(
            "no local environment is running in {}; start one with `opsbox up`",
            state.root().display()
        );
    };
    let pid = client.record().pid;
    anyhow::ensure!(
        process::is_alive(pid),
        "no local environment is running in {}: its daemon (pid {pid}) is gone; \
         `opsbox down` cleans up what it left, `opsbox up` starts a new one",
        state.root().display()
    );
    Ok(LocalEnvironment::new(client))
}

pub fn down(state: &StateDir) -> anyhow::Result<()> {
    let result = runtime()?.block_on(lifecycle::down(state));
    // A `down` with nothing to stop changed nothing; it is not worth a line.
    if !matches!(result, Ok(DownOutcome::NothingRunning)) {
        audit(state, "down", serde_json::json!({}), &result);
    }
    match result? {
        DownOutcome::Stopped { daemon_pid } => println!(
            "stopped the local environment in {} (daemon pid {daemon_pid}); no process of it is left",
            state.root().display()
        ),
        DownOutcome::CleanedStale { daemon_pid } => println!(
            "the daemon (pid {daemon_pid}) had crashed; cleaned up what it left in {}",
            state.root().display()
        ),
        DownOutcome::NothingRunning => println!(
            "no local environment is running in {}; nothing to stop",
            state.root().display()
        ),
    }
    Ok(())
}
