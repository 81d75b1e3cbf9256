//! The local environment's side of the contract, against a stand-in daemon on loopback
//! where a real one would take minutes to bring into the state asked for.

use std::time::Duration;

use axum::routing::post;
use axum::{Json, Router};

use super::*;
use crate::env::{Environment, Verb};
use crate::model::RequeueReport;

/// A state directory whose daemon record points at `addr`, owned by this process (alive).
fn state_with_daemon(dir: &std::path::Path, addr: std::net::SocketAddr) -> StateDir {
    let token = dir.join("control.token");
    std::fs::write(&token, "secret").expect("token");
    let record = serde_json::json!({
        "pid": std::process::id(),
        "control_addr": addr,
        "token_path": token,
        "started_at": "2026-01-01T00:00:00Z",
    });
    std::fs::write(dir.join("daemon.json"), record.to_string()).expect("record");
    StateDir::resolve(Some(dir)).expect("state dir")
}

/// The local environment of a fresh state directory whose daemon is `app` on loopback.
async fn with_stand_in_daemon(
    dir: &std::path::Path,
    app: Router,
) -> (
    LocalEnvironment,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    (
        LocalEnvironment::open(state_with_daemon(dir, addr), false),
        server,
    )
}

#[tokio::test]
async fn a_requeue_slower_than_the_default_request_timeout_still_succeeds() {
    // The daemon bounds a requeue at 30 s; the client used to give up after 5 s and
    // report a failure for a requeue that went through.
    const SLOWER_THAN_DEFAULT: Duration = Duration::from_millis(5_500);
    let app = Router::new().route(
        "/queue/dead/requeue",
        post(|| async {
            tokio::time::sleep(SLOWER_THAN_DEFAULT).await;
            Json(RequeueReport {
                requeued: vec!["t1".to_owned()],
                discarded: Vec::new(),
                remaining: 0,
            })
        }),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (environment, server) = with_stand_in_daemon(dir.path(), app).await;
    let report = environment
        .requeue(&RequeueRequest::one("t1"))
        .await
        .expect("a requeue within the daemon's 30 s succeeds");
    assert_eq!(report.requeued, ["t1"]);
    server.abort();
}

#[tokio::test]
async fn without_a_daemon_every_call_says_nothing_runs_and_where() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = StateDir::resolve(Some(dir.path())).expect("state dir");
    let environment = LocalEnvironment::open(state, false);
    assert!(environment.ensure_running().is_err());
    let where_ = dir.path().display().to_string();
    let errors = [
        environment.status().await.map(drop),
        environment.queue_overview().await.map(drop),
        environment.dead_letters(10).await.map(drop),
        environment.chaos_status().await.map(drop),
        environment.task_census(Utc::now()).await.map(drop),
        environment.rollout().await.map(drop),
        environment.restart_instance("api-1").await,
    ];
    for error in errors {
        let error = error.expect_err("nothing runs");
        let NotRunning(message) = error.downcast_ref::<NotRunning>().expect("typed");
        assert!(message.contains(&where_), "{message}");
    }
    let stop = CancellationToken::new();
    let mut readings = environment.watch_status(Duration::from_millis(10), stop.clone());
    assert!(matches!(
        readings.recv().await,
        Some(Err(StatusError::NotRunning(_)))
    ));
    stop.cancel();
}

#[tokio::test]
async fn permissions_follow_read_only_and_every_primitive_exists_locally() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = StateDir::resolve(Some(dir.path())).expect("state dir");
    let writable = LocalEnvironment::open(state.clone(), false);
    assert!(writable.permissions().await.check(Verb::Promote).is_ok());
    let read_only = LocalEnvironment::open(state, true);
    assert!(read_only
        .permissions()
        .await
        .check(Verb::Requeue)
        .is_err_and(|reason| reason.contains("read-only")));
    assert_eq!(writable.chaos_support(), ChaosSupport::everything());
    assert_eq!(writable.name(), "local");
    assert_eq!(
        writable.records().audit_log_path(),
        dir.path().join("audit.jsonl")
    );
}

#[tokio::test]
async fn the_log_stream_ends_when_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = StateDir::resolve(Some(dir.path())).expect("state dir");
    let environment = LocalEnvironment::open(state, false);
    let stop = CancellationToken::new();
    let mut batches = environment.logs(LogRequest::all(), stop.clone());
    stop.cancel();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while batches.recv().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the stream closes once stopped");
}

#[tokio::test]
async fn status_instances_metrics_and_the_watch_read_the_daemon() {
    let status = EnvironmentStatus {
        environment: "local".to_owned(),
        phase: crate::model::EnvironmentPhase::Ready,
        started_at: Utc::now(),
        state_dir: None,
        instances: vec![crate::model::InstanceStatus {
            name: "api-1".to_owned(),
            workload: "api".to_owned(),
            track: opsbox_common::config::Track::Stable,
            revision: "v1".to_owned(),
            pid: Some(4242),
            state: crate::model::InstanceState::Running,
            restarts: 0,
            uptime_secs: Some(5),
            address: Some("127.0.0.1:18080".to_owned()),
            log_file: None,
            last_exit: None,
            last_error: None,
        }],
        queue: None,
        router: None,
        rollout: None,
        prometheus_url: Some("http://127.0.0.1:9090".to_owned()),
        scalers: Vec::new(),
    };
    let served = status.clone();
    let app = Router::new().route(
        "/status",
        axum::routing::get(move || {
            let served = served.clone();
            async move { Json(served) }
        }),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (environment, server) = with_stand_in_daemon(dir.path(), app).await;
    assert!(environment.ensure_running().is_ok());
    assert_eq!(environment.status().await.expect("status"), status);
    assert_eq!(
        environment.instances().await.expect("instances"),
        status.instances
    );
    assert_eq!(
        environment
            .metrics_url()
            .await
            .expect("metrics url")
            .as_deref(),
        Some("http://127.0.0.1:9090")
    );
    let stop = CancellationToken::new();
    let mut readings = environment.watch_status(Duration::from_millis(10), stop.clone());
    for _ in 0..2 {
        let reading = readings.recv().await.expect("a reading");
        assert_eq!(reading, Ok(status.clone()));
    }
    stop.cancel();
    server.abort();
}
