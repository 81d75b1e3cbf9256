//! Shutdown and migrations.

use std::time::Duration;

use opsbox_common::db;
use serde_json::Value;

use crate::helpers::{eventually, spawn_app_with};

/// The in-flight gauge's line while the slow `GET /tasks` is being served.
const SLOW_REQUEST_IN_FLIGHT: &str =
    r#"http_requests_in_flight{method="GET",route="/tasks",track="stable"} 1"#;

#[tokio::test]
async fn shutdown_fails_readiness_at_once_then_drains_in_flight_requests() {
    let mut app = spawn_app_with(|c| {
        c.shutdown_delay = Duration::from_millis(800);
        c.fault_latency_ms = 600;
    })
    .await;
    // A slow request is in flight when the shutdown begins.
    let slow = tokio::spawn(app.client.get(app.url("/tasks")).send());
    // The server counts it as in flight only once it is being served: a
    // shutdown signalled before that would refuse it rather than drain it.
    eventually(
        Duration::from_secs(5),
        "the slow request to be served",
        || async {
            let metrics = app.metrics().await;
            metrics
                .lines()
                .any(|line| line == SLOW_REQUEST_IN_FLIGHT)
                .then_some(())
        },
    )
    .await;
    app.signal_shutdown();

    let ready = eventually(Duration::from_secs(1), "readiness to fail", || async {
        let response = app.get("/ready").await;
        (response.status() == 503).then_some(response)
    })
    .await;
    assert_eq!(
        ready.headers()["connection"],
        "close",
        "keep-alive ends while draining"
    );
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["status"], "draining");
    assert_eq!(
        app.get("/health").await.status(),
        200,
        "still live during the delay"
    );

    let slow = slow
        .await
        .expect("join")
        .expect("the in-flight request completed");
    assert_eq!(slow.status(), 200);
    let server = app.server.take().expect("server");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops after draining")
        .expect("join")
        .expect("clean exit");
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let deps = opsbox_harness::Dependencies::start().await.expect("deps");
    let url = deps
        .create_unique_database("migrations")
        .await
        .expect("database");
    let pool = db::connect_lazy(&url, 2).expect("pool");
    let tables = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' \
             AND table_name IN ('tasks', 'task_runs') ORDER BY 1",
        )
        .fetch_all(&pool)
        .await
        .expect("tables")
    };
    db::migrate_up(&pool).await.expect("up");
    assert_eq!(tables().await, ["task_runs", "tasks"]);
    db::migrate_down(&pool).await.expect("down");
    assert!(tables().await.is_empty());
    db::migrate_up(&pool).await.expect("up again");
    assert_eq!(tables().await, ["task_runs", "tasks"]);
}
