//! The lifecycle every private server shares: start on a free port, then stop, restart on that port, pause and resume.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::sync::Mutex;

use crate::error::{HarnessError, Result};
use crate::process::ManagedProcess;
use crate::startup::{start_on_free_port, StartError};

/// What differs in how the harness stops and freezes one kind of server.
pub(crate) struct ServerKind {
    /// Server name for messages ("PostgreSQL", "Redis").
    pub name: &'static str,
    /// What `stop` sends first.
    pub stop_signal: Signal,
    /// How long `stop` waits after `stop_signal` before SIGKILL.
    pub stop_grace: Duration,
    /// Whom pause and resume signal.
    pub freeze: Freeze,
}

/// Whom pause and resume signal.
pub(crate) enum Freeze {
    /// The server process alone: it does all the work itself (Redis).
    Process,
    /// The server and its direct children: PostgreSQL's backends each lead a
    /// session of their own, so a signal to the postmaster does not reach them.
    WithChildren,
}

/// A server process owned by this process, on a port it keeps across restarts.
pub(crate) struct ServerProcess {
    kind: &'static ServerKind,
    port: u16,
    /// The running server; the async lock serialises start, stop, pause and resume.
    process: Mutex<Option<ManagedProcess>>,
    /// Mirror of the server's pid for lock-free reads (0: not running).
    pid: AtomicU32,
    paused: AtomicBool,
}

impl ServerProcess {
    /// Runs `run` on free ports until a start does not lose its port to another process.
    pub async fn launch<Run, Started>(kind: &'static ServerKind, run: Run) -> Result<Self>
    where
        Run: FnMut(u16) -> Started,
        Started: Future<Output = Result<ManagedProcess, StartError>>,
    {
        let (port, process) = start_on_free_port(kind.name, run).await?;
        Ok(Self {
            kind,
            port,
            pid: AtomicU32::new(process.pid()),
            process: Mutex::new(Some(process)),
            paused: AtomicBool::new(false),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's pid, or `None` while stopped.
    pub fn pid(&self) -> Option<u32> {
        match self.pid.load(Ordering::Acquire) {
            0 => None,
            pid => Some(pid),
        }
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    /// Stops the server and waits until it has exited; a no-op when stopped.
    pub async fn stop(&self) -> Result<()> {
        let mut slot = self.process.lock().await;
        if let Some(process) = slot.take() {
            self.pid.store(0, Ordering::Release);
            // `ManagedProcess::stop` continues the server itself, but frozen
            // children (PostgreSQL's backends) would hold the shutdown until
            // the grace ran out.
            if self.paused.swap(false, Ordering::AcqRel) {
                if let Freeze::WithChildren = self.kind.freeze {
                    process.signal_with_children(Signal::SIGCONT)?;
                }
            }
            process
                .stop(self.kind.stop_signal, self.kind.stop_grace)
                .await?;
            tracing::debug!(port = self.port, "{} stopped", self.kind.name);
        }
        Ok(())
    }

    /// Starts the server again with `run` on its port; a no-op when it is running.
    pub async fn start<Started>(&self, run: impl FnOnce(u16) -> Started) -> Result<()>
    where
        Started: Future<Output = Result<ManagedProcess, StartError>>,
    {
        let mut slot = self.process.lock().await;
        if let Some(process) = slot.as_mut() {
            if process.exit_status()?.is_none() {
                return Ok(());
            }
        }
        let process = run(self.port)
            .await
            .map_err(|error| error.on_fixed_port(self.kind.name, self.port))?;
        self.pid.store(process.pid(), Ordering::Release);
        self.paused.store(false, Ordering::Release);
        *slot = Some(process);
        Ok(())
    }

    /// Freezes the server with SIGSTOP: connections stay open and nothing is answered.
    pub async fn pause(&self) -> Result<()> {
        self.signal_while_running(Signal::SIGSTOP).await?;
        self.paused.store(true, Ordering::Release);
        tracing::debug!(port = self.port, "{} paused", self.kind.name);
        Ok(())
    }

    /// Undoes [`ServerProcess::pause`] with SIGCONT.
    pub async fn resume(&self) -> Result<()> {
        self.signal_while_running(Signal::SIGCONT).await?;
        self.paused.store(false, Ordering::Release);
        tracing::debug!(port = self.port, "{} resumed", self.kind.name);
        Ok(())
    }

    /// True while the server runs (paused counts as running; false after `stop()` or a crash).
    pub async fn is_running(&self) -> Result<bool> {
        let mut slot = self.process.lock().await;
        match slot.as_mut() {
            Some(process) => Ok(process.exit_status()?.is_none()),
            None => Ok(false),
        }
    }

    async fn signal_while_running(&self, signal: Signal) -> Result<()> {
        let slot = self.process.lock().await;
        let process = slot.as_ref().ok_or(HarnessError::WrongState {
            server: self.kind.name,
            state: "stopped",
            hint: "call start() before it can be paused or resumed",
        })?;
        match self.kind.freeze {
            Freeze::Process => process.signal(signal),
            Freeze::WithChildren => process.signal_with_children(signal),
        }
    }
}
