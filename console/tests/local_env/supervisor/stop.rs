//! Stop reaches the whole process group and leaves no process behind.

use std::time::{Duration, Instant};

use opsbox::env::local::supervisor::{
    InstanceState, Supervisor, SupervisorConfig, SupervisorError,
};

use super::harness::{fast_config, is_gone, pid_in_file, sh, wait_for, wait_until_gone};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_leaves_no_process_of_the_group() {
    let dir = tempfile::tempdir().expect("temp dir");
    let supervisor = Supervisor::new(fast_config()).expect("supervisor");
    supervisor
        .add(sh(
            "worker-1",
            "sleep 30 & echo $! > child.pid; wait",
            dir.path(),
        ))
        .expect("added");
    let running = wait_for(&supervisor, "worker-1", "running", |s| s.pid.is_some()).await;
    let leader = running.pid.expect("pid");
    let child = pid_in_file(&dir.path().join("child.pid")).await;

    supervisor.stop("worker-1").await.expect("stopped");

    wait_until_gone(leader).await;
    wait_until_gone(child).await;
    let stopped = supervisor.instance("worker-1").expect("still listed");
    assert_eq!(stopped.state, InstanceState::Stopped);
    assert_eq!(stopped.pid, None);
    assert_eq!(stopped.restarts, 0, "a requested stop is not a crash");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_ignoring_sigterm_is_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().expect("temp dir");
    let grace = Duration::from_millis(300);
    let supervisor = Supervisor::new(SupervisorConfig {
        stop_grace: grace,
        ..fast_config()
    })
    .expect("supervisor");
    // An ignored signal stays ignored across fork and exec, so the sleep ignores it too.
    supervisor
        .add(sh(
            "worker-1",
            "trap '' TERM; sleep 30 & echo $! > child.pid; wait",
            dir.path(),
        ))
        .expect("added");
    let leader = wait_for(&supervisor, "worker-1", "running", |s| s.pid.is_some())
        .await
        .pid
        .expect("pid");
    let child = pid_in_file(&dir.path().join("child.pid")).await;

    let asked = Instant::now();
    supervisor.stop("worker-1").await.expect("stopped");

    assert!(
        asked.elapsed() >= grace,
        "SIGKILL came before the grace period ended"
    );
    let stopped = supervisor.instance("worker-1").expect("listed");
    assert_eq!(stopped.last_exit.as_ref().and_then(|e| e.signal), Some(9));
    wait_until_gone(leader).await;
    wait_until_gone(child).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_all_and_remove_leave_nothing_running() {
    let dir = tempfile::tempdir().expect("temp dir");
    let supervisor = Supervisor::new(fast_config()).expect("supervisor");
    for name in ["api-1", "api-2", "worker-1"] {
        supervisor
            .add(sh(name, "exec sleep 30", dir.path()))
            .expect("added");
    }
    let mut pids = Vec::new();
    for name in ["api-1", "api-2", "worker-1"] {
        let running = wait_for(&supervisor, name, "running", |s| s.pid.is_some()).await;
        pids.push(running.pid.expect("pid"));
    }

    supervisor.stop_all().await;

    for pid in &pids {
        assert!(is_gone(*pid), "pid {pid} survived stop_all");
    }
    assert!(supervisor
        .snapshot()
        .iter()
        .all(|s| s.state == InstanceState::Stopped && s.pid.is_none()));

    supervisor.remove("api-2").await.expect("removed");
    let names: Vec<String> = supervisor.snapshot().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["api-1", "worker-1"]);
    assert!(matches!(
        supervisor.stop("api-2").await,
        Err(SupervisorError::UnknownInstance(_))
    ));
}
