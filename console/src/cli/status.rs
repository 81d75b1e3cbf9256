//! `opsbox status`: instances, queue depth, traffic split and rollout, once or watched.

use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::{runtime, status_table, StatusArgs};
use crate::env::{AnyEnvironment, Environment, StatusError};
use crate::model::EnvironmentStatus;

/// How often `status --watch` refreshes.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

pub fn run(environment: &AnyEnvironment, args: &StatusArgs) -> anyhow::Result<()> {
    let runtime = runtime()?;
    if !args.watch {
        let status = runtime.block_on(environment.status())?;
        print!("{}", render(&status, args.json)?);
        return Ok(());
    }
    runtime.block_on(async {
        let stop = CancellationToken::new();
        let _stop_watching = stop.clone().drop_guard();
        let mut readings = environment.watch_status(WATCH_INTERVAL, stop);
        loop {
            tokio::select! {
                reading = readings.recv() => {
                    let status = match reading.context("the status watch ended")? {
                        Ok(status) => status,
                        Err(StatusError::NotRunning(message) | StatusError::Failed(message)) => {
                            anyhow::bail!(message)
                        }
                    };
                    // Clear the screen and go home: a table that replaces itself, like `watch`.
                    print!("\x1b[2J\x1b[H{}", render(&status, args.json)?);
                }
                interrupted = tokio::signal::ctrl_c() => {
                    interrupted.context("cannot watch Ctrl-C")?;
                    return Ok(());
                }
            }
        }
    })
}

fn render(status: &EnvironmentStatus, json: bool) -> anyhow::Result<String> {
    if json {
        Ok(serde_json::to_string_pretty(status)? + "\n")
    } else {
        Ok(status_table::render(status, chrono::Utc::now()))
    }
}
