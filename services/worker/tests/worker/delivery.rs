//! Deliveries that must not count: a stale run's job, and the second copy of
//! a job delivered twice.

use std::collections::HashMap;

use opsbox_common::model::{TaskKind, TaskStatus};
use opsbox_common::queue::Job;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{eventually, sample, TestWorld};

#[tokio::test]
async fn a_stale_delivery_is_dropped_without_touching_the_task() {
    let world = TestWorld::start().await;
    // The task was re-run (new run id) while a job of its old run was queued.
    let (rerun, _current_run) = world.insert_task(TaskKind::Io, json!({"ms": 10})).await;
    world
        .enqueue(&Job::new(
            rerun,
            Uuid::new_v4(),
            TaskKind::Io,
            HashMap::new(),
        ))
        .await;
    // The task was deleted while its job was queued.
    world
        .enqueue(&Job::new(
            Uuid::new_v4(),
            Uuid::new_v4(),
            TaskKind::Io,
            HashMap::new(),
        ))
        .await;
    let before = world.task(rerun).await;
    // A long visibility timeout keeps the reconciler from re-enqueuing the
    // current run during the test: only the stale job may be delivered.
    let worker = world
        .worker()
        .env("OPSBOX_VISIBILITY_TIMEOUT", "60s")
        .spawn()
        .await;

    eventually("both stale jobs to be dropped", || async {
        let metrics = worker.metrics().await;
        (sample(
            &metrics,
            "opsbox_jobs_dropped_total",
            &[("reason", "stale")],
        ) == Some(2.0))
        .then_some(())
    })
    .await;
    assert_eq!(world.task(rerun).await, before, "the row is untouched");
    assert!(
        world.runs(rerun).await.is_empty(),
        "no attempt was recorded"
    );
    world.until_queue_is(0, 0, 0, 0).await;
}

#[tokio::test]
async fn a_job_delivered_twice_completes_once() {
    let world = TestWorld::start().await;
    let (id, run_id) = world.insert_task(TaskKind::Io, json!({"ms": 300})).await;
    let job = Job::new(id, run_id, TaskKind::Io, HashMap::new());
    world.enqueue(&job).await;
    world.enqueue(&job).await;
    // Two consumers, so the copies are likely executed side by side: the
    // claim's fencing token must then discard one outcome.
    let worker = world
        .worker()
        .env("OPSBOX_WORKER_CONCURRENCY", "2")
        .spawn()
        .await;

    world.until_status(id, TaskStatus::Done).await;
    eventually("both copies to be handled", || async {
        let metrics = worker.metrics().await;
        let count = |name, labels: &[(&str, &str)]| sample(&metrics, name, labels).unwrap_or(0.0);
        let dropped = count("opsbox_jobs_dropped_total", &[("reason", "stale")])
            + count("opsbox_jobs_dropped_total", &[("reason", "superseded")]);
        let done = count(
            "opsbox_jobs_processed_total",
            &[("kind", "io"), ("outcome", "done")],
        );
        (dropped == 1.0 && done == 1.0).then_some(())
    })
    .await;
    let runs = world.runs(id).await;
    let done = runs
        .iter()
        .filter(|r| r.outcome.as_deref() == Some("done"))
        .count();
    assert_eq!(done, 1, "{runs:?}");
    assert_eq!(world.task(id).await.status, TaskStatus::Done);
    world.until_queue_is(0, 0, 0, 0).await;
}
