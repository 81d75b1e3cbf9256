//! A dependency that goes down gives a fast 503, and service resumes by itself.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{error_code, eventually, spawn_app_private};

const FAST: Duration = Duration::from_secs(1);

#[tokio::test]
async fn postgres_down_gives_fast_503s_and_recovery_is_automatic() {
    let app = spawn_app_private().await;
    app.create_ok("before").await;
    let postgres = app.deps.postgres().expect("private postgres");
    postgres.stop().await.expect("stop postgres");

    let started = Instant::now();
    let ready = app.get("/ready").await;
    assert!(
        started.elapsed() < FAST,
        "/ready took {:?}",
        started.elapsed()
    );
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.expect("json");
    assert!(
        body["database"]
            .as_str()
            .expect("database")
            .starts_with("error"),
        "{body}"
    );
    assert_eq!(body["redis"], "ok");

    let started = Instant::now();
    let write = app.create(json!({"title": "during"})).await;
    assert!(
        started.elapsed() < FAST,
        "POST /tasks took {:?}",
        started.elapsed()
    );
    assert_eq!(write.headers()["retry-after"], "1");
    assert_eq!(error_code(write, 503).await, "dependency_unavailable");
    assert_eq!(
        app.get("/health").await.status(),
        200,
        "liveness does not depend on the database"
    );

    postgres.start().await.expect("restart postgres");
    eventually(
        Duration::from_secs(10),
        "readiness after the restart",
        || async { (app.get("/ready").await.status() == 200).then_some(()) },
    )
    .await;
    assert_eq!(app.create(json!({"title": "after"})).await.status(), 201);
}

#[tokio::test]
async fn redis_down_fails_runs_fast_and_loses_nothing() {
    let app = spawn_app_private().await;
    let task = app.create_ok("run me").await;
    let run_path = format!("/tasks/{}/run", task["id"].as_str().expect("id"));
    let redis = app.deps.redis().expect("private redis");
    redis.stop().await.expect("stop redis");

    let started = Instant::now();
    let ready = app.get("/ready").await;
    assert!(
        started.elapsed() < FAST,
        "/ready took {:?}",
        started.elapsed()
    );
    let body: Value = ready.json().await.expect("json");
    assert!(
        body["redis"].as_str().expect("redis").starts_with("error"),
        "{body}"
    );

    let started = Instant::now();
    let run = app.post(&run_path).await;
    assert!(
        started.elapsed() < FAST,
        "POST run took {:?}",
        started.elapsed()
    );
    assert_eq!(error_code(run, 503).await, "dependency_unavailable");
    let after: Value = app
        .get(&format!("/tasks/{}", task["id"].as_str().expect("id")))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        after["status"], "PENDING",
        "a run that could not be queued is not left QUEUED"
    );

    redis.start().await.expect("restart redis");
    let run = eventually(
        Duration::from_secs(10),
        "a run accepted after Redis returns",
        || async {
            let response = app.post(&run_path).await;
            (response.status() == 202).then_some(response)
        },
    )
    .await;
    assert_eq!(run.status(), 202);
    assert_eq!(app.queue.depth().await.expect("depth").ready, 1);
}

#[tokio::test]
async fn a_frozen_redis_is_a_fast_503_not_a_hang() {
    let app = spawn_app_private().await;
    let task = app.create_ok("frozen").await;
    let redis = app.deps.redis().expect("private redis");
    redis.pause().await.expect("SIGSTOP redis");
    let started = Instant::now();
    let run = app
        .post(&format!("/tasks/{}/run", task["id"].as_str().expect("id")))
        .await;
    assert!(
        started.elapsed() < FAST,
        "POST run took {:?}",
        started.elapsed()
    );
    assert_eq!(run.status(), 503);
    redis.resume().await.expect("SIGCONT redis");
    eventually(
        Duration::from_secs(10),
        "readiness after Redis resumes",
        || async { (app.get("/ready").await.status() == 200).then_some(()) },
    )
    .await;
}
