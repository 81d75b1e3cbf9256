//! Short delays for tests, `sh -c` instances, and checks that a pid is really gone.

use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use opsbox::env::local::supervisor::{
    InstanceSnapshot, InstanceSpec, RestartPolicy, Supervisor, SupervisorConfig, Workload,
};
use serde_json::Value;

use crate::poll;

/// How long any expected change may take on a loaded two-core machine.
pub const DEADLINE: Duration = Duration::from_secs(15);

pub fn fast_config() -> SupervisorConfig {
    SupervisorConfig {
        restart: RestartPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(400),
            reset_after: Duration::from_secs(60),
        },
        stop_grace: Duration::from_secs(5),
        readiness_interval: Duration::from_millis(20),
        readiness_timeout: Duration::from_millis(500),
        ..SupervisorConfig::default()
    }
}

/// An instance running `script` under `/bin/sh -c`, logging to `<dir>/<name>.log`.
pub fn sh(name: &str, script: &str, dir: &Path) -> InstanceSpec {
    InstanceSpec::new(
        name,
        Workload::Worker,
        "/bin/sh",
        dir.join(format!("{name}.log")),
    )
    .arg("-c")
    .arg(script)
    .working_dir(dir)
}

/// True once no process has this pid. A zombie counts as gone: it runs nothing, and
/// whether PID 1 of this container reaps orphans is not ours to test.
pub fn is_gone(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return true;
    };
    match kill(Pid::from_raw(raw), None) {
        Err(Errno::ESRCH) => true,
        Ok(()) => is_zombie(pid),
        Err(_) => false,
    }
}

fn is_zombie(pid: u32) -> bool {
    // /proc/<pid>/stat: "pid (comm) S ..."; comm may contain spaces, so split after ')'.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit(')')
                .next()
                .map(str::trim_start)
                .is_some_and(|rest| rest.starts_with('Z'))
        })
        .unwrap_or(true)
}

pub async fn wait_until_gone(pid: u32) {
    poll::until(&format!("pid {pid} to be gone"), DEADLINE, || async move {
        is_gone(pid).then_some(())
    })
    .await;
}

/// Polls the instance's snapshot until `accept` holds, returning that snapshot.
pub async fn wait_for(
    supervisor: &Supervisor,
    name: &str,
    what: &str,
    accept: impl Fn(&InstanceSnapshot) -> bool,
) -> InstanceSnapshot {
    poll::until(&format!("{name}: {what}"), DEADLINE, || {
        let snapshot = supervisor.instance(name).filter(|s| accept(s));
        async move { snapshot }
    })
    .await
}

/// Reads a pid a script wrote to a file, once it is there.
pub async fn pid_in_file(path: &Path) -> u32 {
    poll::until(&format!("a pid in {}", path.display()), DEADLINE, || {
        let pid = std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.trim().parse().ok());
        async move { pid }
    })
    .await
}

/// The supervisor's own JSON lines in an instance log, in order.
pub fn supervisor_events(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .expect("instance log")
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["target"] == "opsbox::supervisor")
        .collect()
}
