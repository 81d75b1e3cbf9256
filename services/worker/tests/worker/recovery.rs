//! Nothing is lost when a worker is killed mid-job or Redis is wiped: the
//! reaper and the reconciler bring the work back, and it completes once.

use nix::sys::signal::Signal;
use opsbox_common::model::{TaskKind, TaskStatus};
use serde_json::json;

use crate::helpers::TestWorld;

#[tokio::test]
async fn the_job_of_a_killed_worker_completes_exactly_once_on_another() {
    let world = TestWorld::start().await;
    let id = world.queue_task(TaskKind::Io, json!({"ms": 2500})).await;
    let mut doomed = world
        .worker()
        .env("OPSBOX_WORKER_CONCURRENCY", "1")
        .spawn()
        .await;
    world.until_status(id, TaskStatus::Running).await;
    let doomed_id = doomed.worker_id().expect("worker id in the log");

    doomed.signal(Signal::SIGKILL);
    assert!(!doomed.exit_status().await.success());
    let survivor = world.worker().spawn().await;

    let task = world.until_status(id, TaskStatus::Done).await;
    assert_eq!(task.result, Some(json!({"slept_ms": 2500})));
    let runs = world.runs(id).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0].worker, doomed_id);
    assert_eq!(runs[0].outcome, None, "the killed attempt has no outcome");
    assert!(runs[0].finished, "but the takeover closed it: {runs:?}");
    assert_eq!(runs[1].worker, survivor.worker_id().expect("worker id"));
    assert_eq!(runs[1].outcome.as_deref(), Some("done"));
    // The outcome is written before the job is acked: wait for the ack.
    world.until_queue_is(0, 0, 0, 0).await;
}

#[tokio::test]
async fn a_redis_wipe_loses_no_task() {
    // Private servers: FLUSHALL would wipe other tests' queues.
    let world = TestWorld::private().await;
    let running = world.queue_task(TaskKind::Io, json!({"ms": 1000})).await;
    let mut queued = Vec::new();
    for _ in 0..3 {
        queued.push(world.queue_task(TaskKind::Io, json!({"ms": 10})).await);
    }
    let _worker = world
        .worker()
        .env("OPSBOX_WORKER_CONCURRENCY", "1")
        .spawn()
        .await;
    world.until_status(running, TaskStatus::Running).await;

    world.redis_command(redis::cmd("FLUSHALL")).await;
    assert!(
        world.ready_jobs().await.is_empty(),
        "the queued jobs are gone"
    );

    for id in std::iter::once(running).chain(queued) {
        world.until_status(id, TaskStatus::Done).await;
        let runs = world.runs(id).await;
        let done = runs
            .iter()
            .filter(|r| r.outcome.as_deref() == Some("done"))
            .count();
        assert_eq!(done, 1, "{runs:?}");
    }
}
