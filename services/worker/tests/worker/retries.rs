//! Failures are retried with backoff, counted, and dead-lettered after the
//! last attempt; a retry can succeed.

use opsbox_common::model::{TaskKind, TaskStatus};
use serde_json::json;

use crate::helpers::TestWorld;

#[tokio::test]
async fn failing_tasks_are_dead_lettered_and_failed_after_three_attempts() {
    let world = TestWorld::start().await;
    let fail = world.queue_task(TaskKind::Fail, json!({})).await;
    let always_flaky = world.queue_task(TaskKind::Flaky, json!({"p": 1.0})).await;
    let _worker = world.worker().spawn().await;

    for id in [fail, always_flaky] {
        let task = world.until_status(id, TaskStatus::Failed).await;
        assert_eq!(task.attempts, 3);
        assert!(task.error.is_some());
        let runs = world.runs(id).await;
        let history: Vec<_> = runs
            .iter()
            .map(|r| (r.attempt, r.outcome.as_deref()))
            .collect();
        assert_eq!(
            history,
            [(1, Some("retry")), (2, Some("retry")), (3, Some("dead"))]
        );
        assert!(
            runs.iter().all(|r| r.finished && r.error.is_some()),
            "{runs:?}"
        );
    }
    world.until_queue_is(0, 0, 0, 2).await;
    let dead = world.queue.dead_jobs(10).await.expect("dead list");
    for id in [fail, always_flaky] {
        let job = dead
            .iter()
            .find(|job| job.task_id == id)
            .expect("dead-lettered");
        assert_eq!(job.attempt, 3);
        assert!(job.last_error.is_some());
    }
}

#[tokio::test]
async fn a_flaky_task_that_fails_once_succeeds_on_its_retry() {
    let world = TestWorld::start().await;
    let id = world
        .queue_task(TaskKind::Flaky, json!({"p": 0.0, "fail_first": 1}))
        .await;
    let _worker = world.worker().spawn().await;

    let task = world.until_status(id, TaskStatus::Done).await;
    assert_eq!(task.attempts, 2);
    assert_eq!(task.result, Some(json!({"attempt": 2})));
    assert_eq!(
        task.error, None,
        "a success clears the last attempt's error"
    );
    let runs = world.runs(id).await;
    let history: Vec<_> = runs
        .iter()
        .map(|r| (r.attempt, r.outcome.as_deref()))
        .collect();
    assert_eq!(history, [(1, Some("retry")), (2, Some("done"))]);
}
