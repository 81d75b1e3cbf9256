//! One instance's life: spawn, wait for readiness and exit, back off, restart; obey stop and kill.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use nix::sys::signal::Signal;
use serde_json::json;
use tokio::process::Child;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::MissedTickBehavior;

use super::backoff::CrashBackoff;
use super::config::SupervisorConfig;
use super::log_file::InstanceLog;
use super::process_group::ProcessGroup;
use super::readiness::Prober;
use super::snapshot::{ExitRecord, InstanceSnapshot, InstanceState};
use super::spawner::{self, Spawner};
use super::spec::InstanceSpec;

/// What every instance task shares with the supervisor handle.
pub(crate) struct Shared {
    pub config: SupervisorConfig,
    pub spawner: Spawner,
    pub prober: Prober,
    pub instances: watch::Sender<BTreeMap<String, InstanceSnapshot>>,
}

/// An operator's request to one instance; `done` answers once it has taken effect.
pub(crate) enum Command {
    /// Start a Stopped or Failed instance, or end a Backoff wait now.
    Start { done: oneshot::Sender<()> },
    /// Stop gracefully; answered once no process of the group is left.
    Stop { done: oneshot::Sender<()> },
    /// Stop gracefully, then start again at once; answered when the old process is gone.
    Restart { done: oneshot::Sender<()> },
    /// SIGKILL the group (chaos); the instance restarts like after any crash. Answers
    /// the killed pid, or `None` when no process was running.
    Kill { done: oneshot::Sender<Option<u32>> },
}

enum Next {
    Start,
    Park,
    Exit,
}

pub(crate) struct InstanceTask {
    spec: InstanceSpec,
    shared: Arc<Shared>,
    commands: mpsc::Receiver<Command>,
    backoff: CrashBackoff,
    log: InstanceLog,
}

impl InstanceTask {
    pub fn new(spec: InstanceSpec, shared: Arc<Shared>, commands: mpsc::Receiver<Command>) -> Self {
        let backoff = CrashBackoff::new(shared.config.restart);
        let log = InstanceLog::new(&spec.name, &spec.log_file, shared.config.log_max_bytes);
        Self {
            spec,
            shared,
            commands,
            backoff,
            log,
        }
    }

    /// Runs until the supervisor drops its handle to this instance (the process is
    /// stopped first).
    pub async fn run(mut self) {
        let mut next = Next::Start;
        loop {
            next = match next {
                Next::Start => self.run_process().await,
                Next::Park => self.parked().await,
                Next::Exit => return,
            };
        }
    }

    fn update(&self, change: impl FnOnce(&mut InstanceSnapshot)) {
        self.shared.instances.send_modify(|all| {
            if let Some(snapshot) = all.get_mut(&self.spec.name) {
                change(snapshot);
            }
        });
    }

    async fn spawn(&self) -> io::Result<Child> {
        let log = self.log.open()?;
        let command = spawner::command(&self.spec, log)?;
        self.shared.spawner.spawn(command).await
    }

    /// One process from spawn to exit (or stop), then what comes after.
    async fn run_process(&mut self) -> Next {
        self.update(|s| {
            s.state = InstanceState::Starting;
            s.pid = None;
            s.started_at = None;
            s.next_start_at = None;
        });
        let spawned = self.spawn().await.and_then(|child| {
            let group = child.id().and_then(ProcessGroup::new);
            match (child.id(), group) {
                (Some(pid), Some(group)) => Ok((child, pid, group)),
                _ => Err(io::Error::other("the new process has no usable pid")),
            }
        });
        let (mut child, pid, mut group) = match spawned {
            Ok(spawned) => spawned,
            Err(error) => {
                let message = format!("cannot start {}: {error}", self.spec.program.display());
                self.log
                    .event("ERROR", "start failed", json!({ "error": message }));
                self.update(|s| {
                    s.state = InstanceState::Failed;
                    s.last_error = Some(message);
                });
                return Next::Park;
            }
        };
        let started = Instant::now();
        self.update(|s| {
            s.pid = Some(pid);
            s.started_at = Some(Utc::now());
            s.last_error = None;
        });
        self.log.event(
            "INFO",
            "started",
            json!({ "pid": pid, "revision": self.spec.revision, "track": self.spec.track }),
        );

        let readiness = self.spec.readiness.clone();
        let prober = self.shared.prober.clone();
        let ready = async move {
            if let Some(readiness) = readiness {
                prober.until_ready(&readiness).await;
            }
        };
        tokio::pin!(ready);
        let mut is_ready = false;
        // A zero period would make `interval` panic.
        let log_check_period = self
            .shared
            .config
            .log_check_interval
            .max(Duration::from_millis(10));
        let mut log_check = tokio::time::interval(log_check_period);
        log_check.set_missed_tick_behavior(MissedTickBehavior::Delay);

        let exit = loop {
            tokio::select! {
                status = child.wait() => break status,
                () = &mut ready, if !is_ready => {
                    is_ready = true;
                    self.update(|s| s.state = InstanceState::Running);
                    self.log.event("INFO", "ready", json!({ "pid": pid }));
                }
                _ = log_check.tick() => self.log.rotate_if_large().await,
                command = self.commands.recv() => match command {
                    None => {
                        self.stop_process(&mut group, &mut child).await;
                        return Next::Exit;
                    }
                    Some(Command::Stop { done }) => {
                        self.stop_process(&mut group, &mut child).await;
                        self.update(|s| s.state = InstanceState::Stopped);
                        let _ = done.send(());
                        return Next::Park;
                    }
                    Some(Command::Restart { done }) => {
                        self.stop_process(&mut group, &mut child).await;
                        self.backoff.reset();
                        let _ = done.send(());
                        return Next::Start;
                    }
                    Some(Command::Kill { done }) => {
                        if let Err(errno) = group.signal(Signal::SIGKILL) {
                            tracing::warn!(instance = %self.spec.name, %errno, "SIGKILL failed");
                        }
                        self.log.event("WARN", "killed (chaos)", json!({ "pid": pid }));
                        let _ = done.send(Some(pid));
                    }
                    Some(Command::Start { done }) => {
                        let _ = done.send(());
                    }
                },
            }
        };
        group.clean_up();
        let record = match exit {
            Ok(status) => ExitRecord::from_status(status),
            Err(error) => ExitRecord::unknown(format!("waiting for the process failed: {error}")),
        };
        let uptime = started.elapsed();
        let delay = self.backoff.after_exit(uptime);
        self.log.event(
            "WARN",
            "exited; restarting after a delay",
            json!({
                "pid": pid,
                "status": record.summary,
                "uptime_ms": duration_ms(uptime),
                "restart_in_ms": duration_ms(delay),
            }),
        );
        let next_start_at = chrono::Duration::from_std(delay)
            .ok()
            .map(|delay| Utc::now() + delay);
        self.update(|s| {
            s.state = InstanceState::Backoff;
            s.pid = None;
            s.started_at = None;
            s.restarts = s.restarts.saturating_add(1);
            s.last_exit = Some(record);
            s.next_start_at = next_start_at;
        });
        self.wait_out_backoff(delay).await
    }

    async fn stop_process(&mut self, group: &mut ProcessGroup, child: &mut Child) {
        let record = match group.stop(child, self.shared.config.stop_grace).await {
            Ok(status) => ExitRecord::from_status(status),
            Err(error) => ExitRecord::unknown(format!("waiting for the process failed: {error}")),
        };
        self.log
            .event("INFO", "stopped", json!({ "status": record.summary }));
        self.update(|s| {
            s.pid = None;
            s.started_at = None;
            s.last_exit = Some(record);
        });
    }

    fn mark_stopped(&self) {
        self.update(|s| {
            s.state = InstanceState::Stopped;
            s.next_start_at = None;
        });
    }

    async fn wait_out_backoff(&mut self, delay: Duration) -> Next {
        let restart_due = tokio::time::sleep(delay);
        tokio::pin!(restart_due);
        loop {
            tokio::select! {
                () = &mut restart_due => return Next::Start,
                command = self.commands.recv() => match command {
                    None => return Next::Exit,
                    Some(Command::Stop { done }) => {
                        self.mark_stopped();
                        let _ = done.send(());
                        return Next::Park;
                    }
                    Some(Command::Start { done } | Command::Restart { done }) => {
                        self.backoff.reset();
                        let _ = done.send(());
                        return Next::Start;
                    }
                    Some(Command::Kill { done }) => {
                        let _ = done.send(None);
                    }
                },
            }
        }
    }

    /// Stopped or Failed: nothing runs until an operator starts it again.
    async fn parked(&mut self) -> Next {
        loop {
            match self.commands.recv().await {
                None => return Next::Exit,
                Some(Command::Start { done } | Command::Restart { done }) => {
                    self.backoff.reset();
                    let _ = done.send(());
                    return Next::Start;
                }
                Some(Command::Stop { done }) => {
                    self.mark_stopped();
                    let _ = done.send(());
                }
                Some(Command::Kill { done }) => {
                    let _ = done.send(None);
                }
            }
        }
    }
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
