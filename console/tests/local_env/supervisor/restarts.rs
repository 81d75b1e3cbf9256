//! A crashing or killed instance is restarted, with capped exponential delays.

use std::time::Duration;

use chrono::{DateTime, Utc};
use opsbox::env::local::supervisor::{InstanceState, RestartPolicy, Supervisor, SupervisorConfig};
use serde_json::Value;

use super::harness::{fast_config, is_gone, sh, supervisor_events, wait_for, wait_until_gone};

fn timestamp(event: &Value) -> DateTime<Utc> {
    event["timestamp"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("RFC 3339 timestamp")
}

fn message(event: &Value) -> &str {
    event["fields"]["message"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_program_is_restarted_with_growing_delays() {
    let dir = tempfile::tempdir().expect("temp dir");
    let supervisor = Supervisor::new(fast_config()).expect("supervisor");
    supervisor
        .add(sh("worker-1", "exit 3", dir.path()))
        .expect("added");

    let crashed = wait_for(&supervisor, "worker-1", "4 restarts", |s| s.restarts >= 4).await;
    supervisor.stop_all().await;

    assert_eq!(crashed.last_exit.as_ref().and_then(|e| e.code), Some(3));
    let events = supervisor_events(&dir.path().join("worker-1.log"));
    let exits: Vec<&Value> = events
        .iter()
        .filter(|e| message(e).starts_with("exited"))
        .collect();
    let delays: Vec<u64> = exits
        .iter()
        .map(|e| e["fields"]["restart_in_ms"].as_u64().expect("delay"))
        .collect();
    assert_eq!(delays[..4], [100, 200, 400, 400], "capped doubling");

    // Each start comes at least its delay after the exit before it.
    let starts: Vec<&Value> = events.iter().filter(|e| message(e) == "started").collect();
    for (exit, next_start) in exits.iter().zip(starts.iter().skip(1)).take(4) {
        let waited = timestamp(next_start) - timestamp(exit);
        let delay = exit["fields"]["restart_in_ms"].as_i64().expect("delay");
        assert!(
            waited.num_milliseconds() >= delay,
            "restarted after {waited}, delay {delay} ms"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delay_starts_over_after_a_long_enough_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let supervisor = Supervisor::new(SupervisorConfig {
        restart: RestartPolicy {
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
            reset_after: Duration::from_millis(200),
        },
        ..fast_config()
    })
    .expect("supervisor");
    supervisor
        .add(sh("worker-1", "sleep 0.3; exit 1", dir.path()))
        .expect("added");

    wait_for(&supervisor, "worker-1", "3 restarts", |s| s.restarts >= 3).await;
    supervisor.stop_all().await;

    let delays: Vec<u64> = supervisor_events(&dir.path().join("worker-1.log"))
        .iter()
        .filter_map(|e| e["fields"]["restart_in_ms"].as_u64())
        .collect();
    assert!(
        delays.len() >= 3 && delays.iter().all(|d| *d == 50),
        "{delays:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_instance_comes_back_with_a_new_pid() {
    let dir = tempfile::tempdir().expect("temp dir");
    let supervisor = Supervisor::new(fast_config()).expect("supervisor");
    supervisor
        .add(sh("api-1", "exec sleep 30", dir.path()))
        .expect("added");
    let running = wait_for(&supervisor, "api-1", "running", |s| {
        s.state == InstanceState::Running && s.pid.is_some()
    })
    .await;
    let first_pid = running.pid.expect("pid");

    let killed = supervisor.kill("api-1").await.expect("killed");
    assert_eq!(killed, first_pid);
    let back = wait_for(&supervisor, "api-1", "running with a new pid", |s| {
        s.state == InstanceState::Running && s.pid.is_some_and(|pid| pid != first_pid)
    })
    .await;

    assert_eq!(back.restarts, 1);
    assert_eq!(back.last_exit.as_ref().and_then(|e| e.signal), Some(9));
    assert!(is_gone(first_pid));
    let second_pid = back.pid.expect("pid");
    supervisor.stop_all().await;
    wait_until_gone(second_pid).await;
}
