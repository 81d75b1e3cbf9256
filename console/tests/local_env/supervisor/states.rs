//! The snapshot follows an instance through Starting, Running, Backoff, Stopped and Failed.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use opsbox::env::local::supervisor::{
    InstanceState, Readiness, RestartPolicy, Supervisor, SupervisorConfig, SupervisorError,
};
use opsbox_common::config::Track;

use super::harness::{fast_config, sh, wait_for};
use crate::poll;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_follows_readiness_backoff_stop_and_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let supervisor = Supervisor::new(SupervisorConfig {
        restart: RestartPolicy {
            // Long enough for a 10 ms poll to see the Backoff state.
            initial_backoff: Duration::from_millis(500),
            ..fast_config().restart
        },
        ..fast_config()
    })
    .expect("supervisor");
    let ready = Arc::new(AtomicBool::new(false));
    let check = ready.clone();
    let spec = sh("api-canary-1", "exec sleep 30", dir.path())
        .track(Track::Canary)
        .revision("v2")
        .readiness(Readiness::check(move || {
            let ready = check.load(Ordering::SeqCst);
            async move { ready }
        }));
    supervisor.add(spec).expect("added");

    let starting = wait_for(&supervisor, "api-canary-1", "spawned", |s| s.pid.is_some()).await;
    assert_eq!(starting.state, InstanceState::Starting, "not ready yet");
    assert!(starting.started_at.is_some());

    ready.store(true, Ordering::SeqCst);
    let running = wait_for(&supervisor, "api-canary-1", "running", |s| {
        s.state == InstanceState::Running
    })
    .await;
    let json = serde_json::to_value(&running).expect("serializable");
    assert_eq!(json["state"], "running");
    assert_eq!(json["track"], "canary");
    assert_eq!(json["workload"], "worker");
    assert_eq!(json["revision"], "v2");

    supervisor.kill("api-canary-1").await.expect("killed");
    let backoff = wait_for(&supervisor, "api-canary-1", "backoff", |s| {
        s.state == InstanceState::Backoff
    })
    .await;
    assert_eq!((backoff.pid, backoff.restarts), (None, 1));
    assert!(backoff.next_start_at.is_some());
    assert!(matches!(
        supervisor.kill("api-canary-1").await,
        Err(SupervisorError::NotRunning(_))
    ));

    wait_for(&supervisor, "api-canary-1", "running again", |s| {
        s.state == InstanceState::Running
    })
    .await;
    supervisor.stop("api-canary-1").await.expect("stopped");
    let stopped = supervisor.instance("api-canary-1").expect("listed");
    assert_eq!((stopped.state, stopped.pid), (InstanceState::Stopped, None));

    supervisor.start("api-canary-1").await.expect("started");
    let restarted = wait_for(&supervisor, "api-canary-1", "running after start", |s| {
        s.state == InstanceState::Running
    })
    .await;
    assert_eq!(restarted.restarts, 1, "an operator's start is not a crash");
    supervisor.stop_all().await;
}

#[derive(Clone)]
struct Probe {
    healthy: Arc<AtomicBool>,
    hits: Arc<AtomicUsize>,
}

async fn ready_endpoint(State(probe): State<Probe>) -> StatusCode {
    probe.hits.fetch_add(1, Ordering::SeqCst);
    if probe.healthy.load(Ordering::SeqCst) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_readiness_check_gates_running() {
    let probe = Probe {
        healthy: Arc::new(AtomicBool::new(false)),
        hits: Arc::new(AtomicUsize::new(0)),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port");
    let url = format!("http://{}/ready", listener.local_addr().expect("address"));
    let app = axum::Router::new()
        .route("/ready", axum::routing::get(ready_endpoint))
        .with_state(probe.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().expect("temp dir");
    let supervisor = Supervisor::new(fast_config()).expect("supervisor");
    let readiness = Readiness::http_get(&url).expect("valid URL");
    supervisor
        .add(sh("api-1", "exec sleep 30", dir.path()).readiness(readiness))
        .expect("added");

    let hits = probe.hits.clone();
    poll::until("two failed probes", Duration::from_secs(15), || {
        let seen = hits.load(Ordering::SeqCst);
        async move { (seen >= 2).then_some(()) }
    })
    .await;
    assert_eq!(
        supervisor.instance("api-1").expect("listed").state,
        InstanceState::Starting
    );

    probe.healthy.store(true, Ordering::SeqCst);
    wait_for(&supervisor, "api-1", "running", |s| {
        s.state == InstanceState::Running
    })
    .await;
    supervisor.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_that_cannot_start_is_failed_and_names_are_checked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let supervisor = Supervisor::new(fast_config()).expect("supervisor");
    let mut missing = sh("worker-1", "", dir.path());
    missing.program = dir.path().join("no-such-program");
    supervisor.add(missing.clone()).expect("added");

    let failed = wait_for(&supervisor, "worker-1", "failed", |s| {
        s.state == InstanceState::Failed
    })
    .await;
    let error = failed.last_error.expect("a reason");
    assert!(error.contains("no-such-program"), "{error}");
    assert_eq!((failed.pid, failed.restarts), (None, 0));

    assert!(matches!(
        supervisor.add(missing),
        Err(SupervisorError::DuplicateInstance(_))
    ));
    assert!(matches!(
        supervisor.kill("worker-1").await,
        Err(SupervisorError::NotRunning(_))
    ));
    assert!(matches!(
        supervisor.kill("api-9").await,
        Err(SupervisorError::UnknownInstance(_))
    ));
    supervisor.stop("worker-1").await.expect("stopped");
    assert_eq!(
        supervisor.instance("worker-1").expect("listed").state,
        InstanceState::Stopped
    );
}
