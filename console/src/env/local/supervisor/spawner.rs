//! Forks every child from one long-lived thread, so their parent-death signal means "the supervisor died".

use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use tokio::process::Child;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

use super::spec::InstanceSpec;

/// Spawn requests waiting for the thread; callers wait when it is full.
const SPAWN_QUEUE: usize = 16;

struct SpawnRequest {
    command: Command,
    reply: oneshot::Sender<io::Result<Child>>,
}

/// A handle to the spawning thread; the thread ends when the last handle is dropped.
///
/// PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the
/// process. Tokio's blocking-pool threads exit after 10 s idle, and runtime workers only
/// live as long as their runtime, so children are forked here instead: this thread lives
/// exactly as long as the supervisor (its instance tasks hold the handles). If the
/// supervisor process is SIGKILLed, this thread dies with it and the kernel SIGKILLs
/// every child.
#[derive(Clone)]
pub(crate) struct Spawner {
    requests: mpsc::Sender<SpawnRequest>,
}

impl Spawner {
    /// Starts the thread. Children are registered with `runtime`, whose driver reaps them.
    pub fn start(runtime: Handle) -> io::Result<Self> {
        let (requests, mut incoming) = mpsc::channel::<SpawnRequest>(SPAWN_QUEUE);
        std::thread::Builder::new()
            .name("opsbox-spawner".into())
            .spawn(move || {
                while let Some(request) = incoming.blocking_recv() {
                    let _runtime = runtime.enter();
                    let spawned = tokio::process::Command::from(request.command)
                        // If an instance task is dropped (runtime shutdown), its child goes too.
                        .kill_on_drop(true)
                        .spawn();
                    // The requester may have given up; the child is then killed on drop.
                    let _ = request.reply.send(spawned);
                }
            })?;
        Ok(Self { requests })
    }

    pub async fn spawn(&self, command: Command) -> io::Result<Child> {
        let (reply, spawned) = oneshot::channel();
        let gone = || io::Error::other("the process-spawning thread has stopped");
        self.requests
            .send(SpawnRequest { command, reply })
            .await
            .map_err(|_| gone())?;
        spawned.await.map_err(|_| gone())?
    }
}

/// The command for one start of `spec`: output appended to `log`, own process group,
/// SIGKILLed by the kernel when the supervisor dies.
pub(crate) fn command(spec: &InstanceSpec, log: File) -> io::Result<Command> {
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .envs(&spec.env)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own group: stop and kill reach the instance's children too (sh -c, postgres
        // backends), and a Ctrl-C in the supervisor's terminal does not.
        .process_group(0);
    if let Some(dir) = &spec.working_dir {
        command.current_dir(dir);
    }
    opsbox_harness::die_with_parent(&mut command);
    Ok(command)
}
