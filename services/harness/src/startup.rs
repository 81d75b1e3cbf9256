//! Bringing a server up: retry on a lost port, then poll until it answers, exits, or runs out of time.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::error::{HarnessError, Result};
use crate::ports::{free_port, log_reports_port_clash, PORT_ATTEMPTS};
use crate::process::ManagedProcess;

/// Why a start attempt failed: a lost port can be retried on another one.
pub(crate) enum StartError {
    PortClash,
    Failed(HarnessError),
}

impl From<HarnessError> for StartError {
    fn from(error: HarnessError) -> Self {
        Self::Failed(error)
    }
}

impl StartError {
    /// The error for a restart, which must keep its port and so cannot retry.
    pub fn on_fixed_port(self, server: &'static str, port: u16) -> HarnessError {
        match self {
            Self::PortClash => HarnessError::PortTaken { server, port },
            Self::Failed(error) => error,
        }
    }
}

/// Runs `start` on free ports until one attempt does not lose its port to another process.
pub(crate) async fn start_on_free_port<T, Start, Started>(
    server: &'static str,
    mut start: Start,
) -> Result<(u16, T)>
where
    Start: FnMut(u16) -> Started,
    Started: Future<Output = Result<T, StartError>>,
{
    for attempt in 1..=PORT_ATTEMPTS {
        let port = free_port()?;
        match start(port).await {
            Ok(started) => return Ok((port, started)),
            Err(StartError::PortClash) => {
                tracing::debug!(
                    server,
                    port,
                    attempt,
                    "lost the port to another process; retrying"
                );
            }
            Err(StartError::Failed(error)) => return Err(error),
        }
    }
    Err(HarnessError::NoFreePort {
        server,
        attempts: PORT_ATTEMPTS,
    })
}

/// Polls `probe` every `interval` until it succeeds, the process exits, or `timeout` passes.
///
/// `probe` returns why the server is not ready yet; that reason ends up in the
/// timeout error. An early exit whose log reports a taken port is a `PortClash`.
pub(crate) async fn wait_until_ready<Probe, Probed>(
    server: &'static str,
    process: &mut ManagedProcess,
    timeout: Duration,
    interval: Duration,
    mut probe: Probe,
) -> Result<(), StartError>
where
    Probe: FnMut() -> Probed,
    Probed: Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = process.exit_status()? {
            let log_tail = process.log_tail();
            if log_reports_port_clash(&log_tail) {
                return Err(StartError::PortClash);
            }
            return Err(StartError::Failed(HarnessError::ExitedDuringStartup {
                server,
                status,
                log: process.log_path().to_path_buf(),
                log_tail,
            }));
        }
        // A probe may hang on a half-started server; never past the deadline.
        let remaining = deadline.saturating_duration_since(Instant::now());
        let last_error = match tokio::time::timeout(remaining, probe()).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(reason)) => reason,
            Err(_elapsed) => "the last connection attempt hung".to_string(),
        };
        if Instant::now() >= deadline {
            return Err(StartError::Failed(HarnessError::StartupTimedOut {
                server,
                timeout,
                last_error,
                log: process.log_path().to_path_buf(),
                log_tail: process.log_tail(),
            }));
        }
        tokio::time::sleep(interval).await;
    }
}
