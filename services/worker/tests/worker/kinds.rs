//! Each kind of task reaches the terminal state its kind promises.

use opsbox_common::model::{TaskKind, TaskStatus};
use serde_json::json;

use crate::helpers::TestWorld;

#[tokio::test]
async fn every_kind_reaches_its_terminal_state() {
    let world = TestWorld::start().await;
    let io = world.queue_task(TaskKind::Io, json!({"ms": 50})).await;
    let cpu = world
        .queue_task(TaskKind::Cpu, json!({"iterations": 5000}))
        .await;
    let fail = world.queue_task(TaskKind::Fail, json!({})).await;
    let flaky = world.queue_task(TaskKind::Flaky, json!({"p": 0.0})).await;
    let _worker = world.worker().spawn().await;

    let task = world.until_status(io, TaskStatus::Done).await;
    assert_eq!(task.result, Some(json!({"slept_ms": 50})));
    assert_eq!((task.attempts, task.error), (1, None));

    let task = world.until_status(cpu, TaskStatus::Done).await;
    let result = task.result.expect("a cpu result");
    assert_eq!(result["iterations"], json!(5000));
    assert!(
        result["digest"].as_str().is_some_and(|d| d.len() == 16),
        "{result}"
    );

    let task = world.until_status(fail, TaskStatus::Failed).await;
    assert_eq!(task.attempts, 3);
    assert!(
        task.error
            .as_deref()
            .is_some_and(|e| e.contains("always fails")),
        "{:?}",
        task.error
    );
    assert_eq!(task.result, None);

    let task = world.until_status(flaky, TaskStatus::Done).await;
    assert_eq!(
        (task.attempts, task.result),
        (1, Some(json!({"attempt": 1})))
    );
}

#[tokio::test]
async fn a_payload_that_cannot_work_fails_at_once_without_retries() {
    let world = TestWorld::start().await;
    let bad_ms = world.queue_task(TaskKind::Io, json!({"ms": "soon"})).await;
    let bad_p = world.queue_task(TaskKind::Flaky, json!({"p": 1.5})).await;
    let _worker = world.worker().spawn().await;

    for (id, field) in [(bad_ms, "payload.ms"), (bad_p, "payload.p")] {
        let task = world.until_status(id, TaskStatus::Failed).await;
        assert_eq!(task.attempts, 1, "no retry for a bad payload");
        assert!(
            task.error.as_deref().is_some_and(|e| e.contains(field)),
            "{:?}",
            task.error
        );
        let runs = world.runs(id).await;
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert_eq!(runs[0].outcome.as_deref(), Some("failed"));
    }
    assert!(
        world
            .queue
            .dead_jobs(10)
            .await
            .expect("dead list")
            .is_empty(),
        "not dead-lettered"
    );
}
