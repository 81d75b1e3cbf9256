//! SIGTERM: stop taking jobs, finish what fits in the shutdown timeout, give
//! the rest back to the queue, and exit 0.

use nix::sys::signal::Signal;
use opsbox_common::model::{TaskKind, TaskStatus};
use serde_json::json;

use crate::helpers::{eventually, TestWorld};

#[tokio::test]
async fn sigterm_finishes_short_jobs_and_gives_long_ones_back() {
    let world = TestWorld::start().await;
    let short = world.queue_task(TaskKind::Io, json!({"ms": 1000})).await;
    let long = world.queue_task(TaskKind::Io, json!({"ms": 60000})).await;
    let mut worker = world
        .worker()
        .env("OPSBOX_WORKER_CONCURRENCY", "2")
        .env("OPSBOX_SHUTDOWN_TIMEOUT", "2s")
        .spawn()
        .await;
    world.until_status(short, TaskStatus::Running).await;
    world.until_status(long, TaskStatus::Running).await;
    let worker_id = worker.worker_id().expect("worker id");

    worker.signal(Signal::SIGTERM);
    eventually("readiness to fail while draining", || async {
        let (status, body) = worker.get("/ready").await;
        (status == 503 && body.contains("shutting_down")).then_some(())
    })
    .await;
    let status = worker.exit_status().await;
    assert!(status.success(), "exit status {status:?}");

    let task = world.task(short).await;
    assert_eq!(task.status, TaskStatus::Done, "the short job was drained");

    let task = world.task(long).await;
    assert_eq!(
        task.status,
        TaskStatus::Queued,
        "the long job was given back"
    );
    let ready = world.ready_jobs().await;
    assert!(ready.iter().any(|job| job.task_id == long), "{ready:?}");
    let runs = world.runs(long).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].outcome.as_deref(), Some("released"));

    assert!(world
        .list(world.queue.keys().processing(&worker_id))
        .await
        .is_empty());
    let score = world
        .redis_command(
            redis::cmd("ZSCORE")
                .arg(world.queue.keys().workers())
                .arg(&worker_id)
                .to_owned(),
        )
        .await;
    assert_eq!(score, redis::Value::Nil, "the worker deregistered");
}
