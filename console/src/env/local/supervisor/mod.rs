//! Runs instances as child processes and keeps them running, like a ReplicaSet with CrashLoopBackOff.
//!
//! Every exit is followed by a restart after a capped exponential delay
//! ([`RestartPolicy`]). Each instance leads its own process group, so stop (SIGTERM, then
//! SIGKILL after a grace period) and kill (SIGKILL, chaos) reach its children too.
//! Children die with the supervisor even when it is SIGKILLed: they are forked by one
//! dedicated thread with PR_SET_PDEATHSIG (see `spawner`). Grandchildren get no such
//! signal; the pids in [`InstanceSnapshot`] (which are also the group ids) are what a
//! later `opsbox down` can use to clean up after a supervisor crash.

mod backoff;
mod config;
mod instance;
mod log_file;
mod process_group;
mod readiness;
mod snapshot;
mod spawner;
mod spec;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

pub use config::{RestartPolicy, SupervisorConfig};
pub use snapshot::{ExitRecord, InstanceSnapshot, InstanceState};
pub use spec::{InstanceSpec, Readiness, ReadinessCheck, Workload};

use instance::{Command, InstanceTask, Shared};
use readiness::Prober;
use spawner::Spawner;

/// Operator requests queued per instance; a caller waits when an instance is this far behind.
const COMMAND_QUEUE: usize = 8;

/// Every instance by name, as [`Supervisor::subscribe`] publishes them.
pub type Instances = BTreeMap<String, InstanceSnapshot>;

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("the supervisor must be created inside a tokio runtime")]
    NoRuntime,
    #[error("cannot start the process-spawning thread: {0}")]
    SpawnerThread(std::io::Error),
    #[error("an instance needs a name")]
    EmptyName,
    #[error("an instance named {0:?} already exists")]
    DuplicateInstance(String),
    #[error("no instance named {0:?}")]
    UnknownInstance(String),
    #[error("instance {0:?} has no running process")]
    NotRunning(String),
    #[error("instance {0:?} is no longer supervised")]
    InstanceGone(String),
}

struct InstanceHandle {
    commands: mpsc::Sender<Command>,
    task: JoinHandle<()>,
}

/// The supervisor of the local environment's processes.
///
/// Its instance tasks run on the runtime it was created in; keep that runtime alive as
/// long as the instances should run. Dropping the supervisor stops every instance
/// gracefully in the background; call [`Supervisor::stop_all`] first to wait for it.
pub struct Supervisor {
    shared: Arc<Shared>,
    runtime: Handle,
    handles: Mutex<BTreeMap<String, InstanceHandle>>,
}

impl Supervisor {
    pub fn new(config: SupervisorConfig) -> Result<Self, SupervisorError> {
        let runtime = Handle::try_current().map_err(|_| SupervisorError::NoRuntime)?;
        let spawner = Spawner::start(runtime.clone()).map_err(SupervisorError::SpawnerThread)?;
        let prober = Prober::new(config.readiness_interval, config.readiness_timeout);
        let (instances, _) = watch::channel(Instances::new());
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                spawner,
                prober,
                instances,
            }),
            runtime,
            handles: Mutex::new(BTreeMap::new()),
        })
    }

    /// Adds an instance and starts it at once.
    pub fn add(&self, spec: InstanceSpec) -> Result<(), SupervisorError> {
        if spec.name.is_empty() {
            return Err(SupervisorError::EmptyName);
        }
        let mut handles = self.handles.lock().unwrap_or_else(PoisonError::into_inner);
        if handles.contains_key(&spec.name) {
            return Err(SupervisorError::DuplicateInstance(spec.name));
        }
        let name = spec.name.clone();
        let snapshot = InstanceSnapshot::new(&spec);
        self.shared.instances.send_modify(|all| {
            all.insert(name.clone(), snapshot);
        });
        let (commands, incoming) = mpsc::channel(COMMAND_QUEUE);
        let task = self
            .runtime
            .spawn(InstanceTask::new(spec, self.shared.clone(), incoming).run());
        handles.insert(name, InstanceHandle { commands, task });
        Ok(())
    }

    /// Stops an instance (SIGTERM to its group, SIGKILL after the grace period); returns
    /// when no process of it is left. It stays listed as Stopped until started or removed.
    pub async fn stop(&self, name: &str) -> Result<(), SupervisorError> {
        self.request(name, |done| Command::Stop { done }).await
    }

    /// Starts a Stopped or Failed instance, or ends its restart delay now. Returns once
    /// the instance has taken the request; watch the snapshot for the new pid.
    pub async fn start(&self, name: &str) -> Result<(), SupervisorError> {
        self.request(name, |done| Command::Start { done }).await
    }

    /// Stops an instance gracefully and starts it again at once (not counted as a restart).
    pub async fn restart(&self, name: &str) -> Result<(), SupervisorError> {
        self.request(name, |done| Command::Restart { done }).await
    }

    /// SIGKILLs an instance's process group (chaos); it is restarted after the usual
    /// delay. Returns the pid that was killed.
    pub async fn kill(&self, name: &str) -> Result<u32, SupervisorError> {
        self.request(name, |done| Command::Kill { done })
            .await?
            .ok_or_else(|| SupervisorError::NotRunning(name.to_owned()))
    }

    /// Stops an instance and forgets it.
    pub async fn remove(&self, name: &str) -> Result<(), SupervisorError> {
        self.stop(name).await?;
        let handle = self
            .handles
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
        if let Some(InstanceHandle { commands, task }) = handle {
            // Closing the queue ends the (stopped) instance's task.
            drop(commands);
            if let Err(error) = task.await {
                tracing::warn!(instance = name, %error, "instance task ended abnormally");
            }
        }
        self.shared.instances.send_modify(|all| {
            all.remove(name);
        });
        Ok(())
    }

    /// Stops every instance concurrently; returns when no supervised process is left.
    pub async fn stop_all(&self) {
        let targets: Vec<mpsc::Sender<Command>> = self
            .handles
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|handle| handle.commands.clone())
            .collect();
        let mut pending = Vec::with_capacity(targets.len());
        for commands in targets {
            let (done, stopped) = oneshot::channel();
            if commands.send(Command::Stop { done }).await.is_ok() {
                pending.push(stopped);
            }
        }
        for stopped in pending {
            // An error means the task is gone, and its process with it.
            let _ = stopped.await;
        }
    }

    /// Every instance, by name.
    pub fn snapshot(&self) -> Vec<InstanceSnapshot> {
        self.shared.instances.borrow().values().cloned().collect()
    }

    pub fn instance(&self, name: &str) -> Option<InstanceSnapshot> {
        self.shared.instances.borrow().get(name).cloned()
    }

    /// Changes as they happen: each state change publishes the whole (small) map. The
    /// router's instance set is meant to follow this.
    pub fn subscribe(&self) -> watch::Receiver<Instances> {
        self.shared.instances.subscribe()
    }

    async fn request<T>(
        &self,
        name: &str,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, SupervisorError> {
        let commands = self
            .handles
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .map(|handle| handle.commands.clone())
            .ok_or_else(|| SupervisorError::UnknownInstance(name.to_owned()))?;
        let gone = || SupervisorError::InstanceGone(name.to_owned());
        let (done, answer) = oneshot::channel();
        commands.send(command(done)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())
    }
}
