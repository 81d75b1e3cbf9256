//! `opsbox down`: ask the daemon to stop, wait for it, and make sure no recorded process survives.

use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::super::client::ControlClient;
use super::super::daemon_record::{self, DaemonRecord};
use super::super::process;
use super::super::state_dir::StateDir;
use super::cleanup;

/// Instances get 15 s each to stop (concurrently), then PostgreSQL and Redis stop.
const DAEMON_STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// After SIGKILL, how long the daemon may take to disappear.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);

/// What `down` found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownOutcome {
    /// A running daemon stopped everything.
    Stopped { daemon_pid: u32 },
    /// The daemon was gone; what it left was cleaned up.
    CleanedStale { daemon_pid: u32 },
    /// Nothing ran in this state directory.
    NothingRunning,
}

pub async fn down(state: &StateDir) -> anyhow::Result<DownOutcome> {
    let record = daemon_record::read::<DaemonRecord>(&state.daemon_record())?;
    let outcome = match record {
        None => DownOutcome::NothingRunning,
        Some(record) if !process::is_alive(record.pid) => DownOutcome::CleanedStale {
            daemon_pid: record.pid,
        },
        Some(record) => {
            stop_daemon(state, record.pid).await?;
            DownOutcome::Stopped {
                daemon_pid: record.pid,
            }
        }
    };
    let survivors = cleanup::clean_recorded(state)?;
    anyhow::ensure!(
        survivors.is_empty(),
        "processes of the environment survive SIGKILL (pids {survivors:?})"
    );
    Ok(outcome)
}

async fn stop_daemon(state: &StateDir, pid: u32) -> anyhow::Result<()> {
    let asked = match ControlClient::from_state_dir(state)? {
        Some(client) => client.shutdown().await.is_ok(),
        None => false,
    };
    let raw = i32::try_from(pid).map(Pid::from_raw).ok();
    if !asked {
        // The control endpoint does not answer; SIGTERM takes the same path in the daemon.
        if let Some(raw) = raw {
            let _ = kill(raw, Signal::SIGTERM);
        }
    }
    let gone = tokio::task::spawn_blocking(move || {
        if process::wait_gone(pid, DAEMON_STOP_TIMEOUT) {
            return true;
        }
        if let Some(raw) = raw {
            let _ = kill(raw, Signal::SIGKILL);
        }
        process::wait_gone(pid, KILL_TIMEOUT)
    })
    .await?;
    anyhow::ensure!(
        gone,
        "the daemon (pid {pid}) does not stop, even after SIGKILL"
    );
    Ok(())
}
