//! `opsbox up`: start the daemon detached from this command and wait until the stack is ready.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::super::binaries::Binaries;
use super::super::client::ControlClient;
use super::super::process;
use super::super::state_dir::StateDir;
use super::cleanup;
use super::log_tail;
use crate::model::{EnvironmentPhase, EnvironmentStatus};

/// The hidden subcommand that runs the daemon.
pub const DAEMON_SUBCOMMAND: &str = "__daemon";

/// Dependencies (initdb on a first run), migrations and first instance starts together.
const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// Between two looks at the starting daemon.
const POLL: Duration = Duration::from_millis(200);

/// Lines of the daemon's log quoted when it fails.
const LOG_LINES: usize = 20;

/// What `opsbox up` was asked for.
#[derive(Debug, Clone, Copy)]
pub struct UpRequest {
    pub api_replicas: u16,
    pub workers: u16,
    pub port: u16,
}

/// Starts the environment and returns its status once it is ready.
pub async fn up(state: &StateDir, request: UpRequest) -> anyhow::Result<EnvironmentStatus> {
    state.create()?;
    if let Some(client) = ControlClient::from_state_dir(state)? {
        let pid = client.record().pid;
        if process::is_alive(pid) {
            anyhow::bail!(
                "a local environment is already running in {} (daemon pid {pid}); \
                 see `opsbox status`, or stop it with `opsbox down`",
                state.root().display()
            );
        }
        eprintln!("cleaning up after a daemon that is gone (pid {pid})");
    }
    let survivors = cleanup::clean_recorded(state)?;
    anyhow::ensure!(
        survivors.is_empty(),
        "processes of an earlier environment survive (pids {survivors:?}); end them first"
    );
    // Checked here too, so a missing binary is reported at once instead of in the log.
    Binaries::locate()?;
    eprintln!(
        "starting the local environment in {} ({} API instances, {} workers)...",
        state.root().display(),
        request.api_replicas,
        request.workers
    );
    let mut daemon = spawn_daemon(state, request)?;
    wait_ready(state, &mut daemon).await
}

fn spawn_daemon(state: &StateDir, request: UpRequest) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("cannot find the running opsbox executable")?;
    let log_path = state.daemon_log();
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let stderr = log.try_clone().context("cannot share the daemon log")?;
    let mut command = Command::new(exe);
    command
        .arg(DAEMON_SUBCOMMAND)
        .arg("--state-dir")
        .arg(state.root())
        .arg("--api-replicas")
        .arg(request.api_replicas.to_string())
        .arg("--workers")
        .arg(request.workers.to_string())
        .arg("--port")
        .arg(request.port.to_string())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(stderr);
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent. A new
    // session detaches the daemon from this terminal: Ctrl-C here, or closing the
    // terminal, must not reach the stack.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
    command.spawn().context("cannot start the daemon")
}

async fn wait_ready(state: &StateDir, daemon: &mut Child) -> anyhow::Result<EnvironmentStatus> {
    let started = Instant::now();
    let failure = |what: String| {
        anyhow::anyhow!(
            "{what}; the end of {}:\n{}",
            state.daemon_log().display(),
            log_tail::tail(&state.daemon_log(), LOG_LINES)
        )
    };
    loop {
        if let Some(status) = daemon.try_wait().context("cannot watch the daemon")? {
            return Err(failure(format!(
                "the daemon exited during start-up ({status})"
            )));
        }
        if let Some(client) = ControlClient::from_state_dir(state).ok().flatten() {
            if let Ok(status) = client.status().await {
                if status.phase == EnvironmentPhase::Ready {
                    return Ok(status);
                }
            }
        }
        if started.elapsed() >= READY_TIMEOUT {
            if let Some(client) = ControlClient::from_state_dir(state).ok().flatten() {
                // Best effort: a stack that never became ready should not linger.
                let _ = client.shutdown().await;
            }
            return Err(failure(format!(
                "the environment was not ready within {READY_TIMEOUT:?} (stopping it)"
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}
