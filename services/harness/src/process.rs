//! Spawns server processes that log to a file, die with their owner, and stop within a deadline.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::{Gid, Pid, Uid};

use crate::error::{HarnessError, Result};
use crate::parent_death::die_with_parent;

/// How long a process gets to die after SIGKILL before we give up waiting for it.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// How often a blocking stop (in `Drop`) looks whether the process has exited.
const BLOCKING_POLL: Duration = Duration::from_millis(5);

/// How much of a log an error message quotes.
const LOG_TAIL_LINES: usize = 20;

/// Settings shared by every server the harness starts.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// Have the kernel SIGKILL each server when the thread that started it exits
    /// (PR_SET_PDEATHSIG), so a crashed or killed test run leaves no servers behind.
    ///
    /// The kernel ties this to the spawning *thread*, not the process: spawn from
    /// a thread that lives as long as the servers should (the main thread, or a
    /// runtime worker of a runtime that outlives them; never `spawn_blocking`,
    /// whose threads exit when idle). Turn it off when the servers must outlive
    /// the command that started them.
    pub kill_with_parent: bool,
    /// How long a server (and `initdb`) may take before start-up counts as failed.
    pub startup_timeout: Duration,
}

impl Default for LaunchOptions {
    fn default() -> Self {
        Self {
            kill_with_parent: true,
            startup_timeout: Duration::from_secs(30),
        }
    }
}

/// The system account a server runs as, when it is not the current user.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Account {
    pub uid: Uid,
    pub gid: Gid,
}

/// What to start and how.
pub(crate) struct Launch<'a> {
    /// Server name for messages ("PostgreSQL", "initdb", ...).
    pub name: &'static str,
    pub command: std::process::Command,
    pub log_path: &'a Path,
    pub run_as: Option<Account>,
    pub kill_with_parent: bool,
    /// What `Drop` sends first; `SIGKILL` skips the polite step.
    pub drop_signal: Signal,
    /// How long `Drop` waits after `drop_signal` before SIGKILL.
    pub drop_grace: Duration,
}

/// A child process we own: it has its own process group and is reaped before we forget it.
pub(crate) struct ManagedProcess {
    name: &'static str,
    child: tokio::process::Child,
    pid: Pid,
    exit_status: Option<ExitStatus>,
    log_path: PathBuf,
    /// Where this run's output starts in the (appended) log, so errors quote only this run.
    log_start: u64,
    drop_signal: Signal,
    drop_grace: Duration,
}

impl ManagedProcess {
    pub fn spawn(launch: Launch<'_>) -> Result<Self> {
        let Launch {
            name,
            mut command,
            log_path,
            run_as,
            kill_with_parent,
            drop_signal,
            drop_grace,
        } = launch;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .map_err(HarnessError::io(format!("open log {}", log_path.display())))?;
        let log_start = log
            .metadata()
            .map_err(HarnessError::io(format!("read log {}", log_path.display())))?
            .len();
        let stderr = log
            .try_clone()
            .map_err(HarnessError::io(format!("open log {}", log_path.display())))?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(stderr))
            // Its own process group: a terminal's Ctrl-C must not reach the servers
            // before the command using them has finished, and SIGKILL to the group
            // also takes down PostgreSQL's backends.
            .process_group(0);
        if let Some(account) = run_as {
            command.uid(account.uid.as_raw()).gid(account.gid.as_raw());
        }
        if kill_with_parent {
            die_with_parent(&mut command);
        }
        let program = command.get_program().to_string_lossy().into_owned();
        let child = tokio::process::Command::from(command)
            .kill_on_drop(false)
            .spawn()
            .map_err(HarnessError::io(format!("start {name} ({program})")))?;
        let raw_pid = child.id().ok_or_else(|| HarnessError::Io {
            action: format!("read the pid of {name}"),
            cause: io::Error::other("the process was already reaped"),
        })?;
        let pid = Pid::from_raw(i32::try_from(raw_pid).map_err(|_| HarnessError::Io {
            action: format!("read the pid of {name}"),
            cause: io::Error::other(format!("pid {raw_pid} out of range")),
        })?);
        tracing::debug!(server = name, pid = raw_pid, program, "spawned");
        Ok(Self {
            name,
            child,
            pid,
            exit_status: None,
            log_path: log_path.to_path_buf(),
            log_start,
            drop_signal,
            drop_grace,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid.as_raw().unsigned_abs()
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// This run's last log lines, for error messages.
    pub fn log_tail(&self) -> String {
        read_log_tail(&self.log_path, self.log_start)
    }

    /// Sends a signal to the process (not its group) unless it has been reaped.
    pub fn signal(&self, signal: Signal) -> Result<()> {
        if self.exit_status.is_some() {
            return Ok(());
        }
        match kill(self.pid, signal) {
            // Exited but not yet reaped processes are gone for our purposes.
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(errno) => Err(HarnessError::Io {
                action: format!("send {signal} to {} (pid {})", self.name, self.pid),
                cause: errno.into(),
            }),
        }
    }

    /// Sends a signal to the process and to its direct children, unless it has been
    /// reaped. PostgreSQL's backends each lead a session of their own (setsid), so a
    /// signal to the postmaster's process group does not reach them. The parent is
    /// signalled first: once it is stopped it forks no child the list would miss.
    pub fn signal_with_children(&self, signal: Signal) -> Result<()> {
        if self.exit_status.is_some() {
            return Ok(());
        }
        self.signal(signal)?;
        for child in children_of(self.pid) {
            match kill(child, signal) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(errno) => {
                    return Err(HarnessError::Io {
                        action: format!("send {signal} to a child (pid {child}) of {}", self.name),
                        cause: errno.into(),
                    })
                }
            }
        }
        Ok(())
    }

    /// The exit status if the process has exited; reaps it.
    pub fn exit_status(&mut self) -> Result<Option<ExitStatus>> {
        if self.exit_status.is_none() {
            self.exit_status = self.child.try_wait().map_err(HarnessError::io(format!(
                "check whether {} is running",
                self.name
            )))?;
        }
        Ok(self.exit_status)
    }

    /// Waits for the process to exit by itself, for at most `within`.
    pub async fn wait_within(&mut self, within: Duration) -> Result<Option<ExitStatus>> {
        if self.exit_status.is_none() {
            match tokio::time::timeout(within, self.child.wait()).await {
                Ok(status) => {
                    let status = status
                        .map_err(HarnessError::io(format!("wait for {} to exit", self.name)))?;
                    self.exit_status = Some(status);
                }
                Err(_elapsed) => return Ok(None),
            }
        }
        Ok(self.exit_status)
    }

    /// Sends `signal`, waits up to `grace`, then SIGKILLs the process group; returns once reaped.
    pub async fn stop(mut self, signal: Signal, grace: Duration) -> Result<ExitStatus> {
        self.ask_to_exit(signal)?;
        if let Some(status) = self.wait_within(grace).await? {
            return Ok(status);
        }
        tracing::warn!(server = self.name, pid = %self.pid, ?grace, "did not stop in time; killing it");
        self.kill_group()?;
        self.wait_within(KILL_GRACE)
            .await?
            .ok_or_else(|| HarnessError::Io {
                action: format!("stop {} (pid {})", self.name, self.pid),
                cause: io::Error::from(io::ErrorKind::TimedOut),
            })
    }

    fn ask_to_exit(&self, signal: Signal) -> Result<()> {
        if signal == Signal::SIGKILL {
            return self.kill_group();
        }
        self.signal(signal)?;
        // A paused (SIGSTOPped) process would hold the signal forever; continuing
        // it after the signal is queued makes it act on it at once.
        self.signal(Signal::SIGCONT)
    }

    fn kill_group(&self) -> Result<()> {
        if self.exit_status.is_some() {
            return Ok(());
        }
        // The group id is the leader's pid, which cannot be reused before we reap it.
        match killpg(self.pid, Signal::SIGKILL) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(errno) => Err(HarnessError::Io {
                action: format!("kill {} (process group {})", self.name, self.pid),
                cause: errno.into(),
            }),
        }
    }

    /// `stop` for `Drop`, which cannot await: polls the exit with short sleeps, bounded.
    fn stop_blocking(&mut self) {
        if self.exit_status.is_some() {
            return;
        }
        if let Err(error) = self.ask_to_exit(self.drop_signal) {
            tracing::warn!(%error, "could not signal server on drop");
        }
        if self.poll_exit_blocking(self.drop_grace) {
            return;
        }
        if let Err(error) = self.kill_group() {
            tracing::warn!(%error, "could not kill server on drop");
        }
        if !self.poll_exit_blocking(KILL_GRACE) {
            tracing::warn!(server = self.name, pid = %self.pid, "server still running after SIGKILL");
        }
    }

    fn poll_exit_blocking(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            match self.exit_status() {
                Ok(Some(_)) => return true,
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%error, "could not wait for server on drop");
                    return false;
                }
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(BLOCKING_POLL);
        }
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        self.stop_blocking();
    }
}

/// Runs a one-shot setup program (such as `initdb`) to completion within `timeout`.
pub(crate) async fn run_to_completion(launch: Launch<'_>, timeout: Duration) -> Result<()> {
    let name = launch.name;
    let mut process = ManagedProcess::spawn(launch)?;
    match process.wait_within(timeout).await? {
        Some(status) if status.success() => Ok(()),
        Some(status) => Err(HarnessError::SetupFailed {
            program: name,
            status,
            log: process.log_path.clone(),
            log_tail: process.log_tail(),
        }),
        None => Err(HarnessError::Io {
            action: format!(
                "finish {name} within {timeout:?} (see {})",
                process.log_path.display()
            ),
            cause: io::Error::from(io::ErrorKind::TimedOut),
        }),
    }
}

/// The processes whose parent is `parent`, read from `/proc`.
fn children_of(parent: Pid) -> Vec<Pid> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
            let ppid: i32 = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            (ppid == parent.as_raw()).then(|| Pid::from_raw(pid))
        })
        .collect()
}

/// The last lines written to a log after `from_offset`.
fn read_log_tail(path: &Path, from_offset: u64) -> String {
    let read = || -> io::Result<String> {
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(from_offset))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(LOG_TAIL_LINES);
            lines[start..].join("\n")
        }
        Err(error) => format!("(could not read the log: {error})"),
    }
}
