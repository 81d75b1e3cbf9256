//! What an operator and Prometheus see: outcome counters, queue depth,
//! liveness, and readiness that follows the dependencies.

use opsbox_common::model::{TaskKind, TaskStatus};
use serde_json::{json, Value};

use crate::helpers::{eventually, sample, TestWorld};

#[tokio::test]
async fn metrics_count_outcomes_and_show_the_queue() {
    let world = TestWorld::start().await;
    let fail = world.queue_task(TaskKind::Fail, json!({})).await;
    let io = world.queue_task(TaskKind::Io, json!({"ms": 10})).await;
    let worker = world.worker().spawn().await;
    world.until_status(fail, TaskStatus::Failed).await;
    world.until_status(io, TaskStatus::Done).await;

    // Counted once the outcome is written, queued once the queue is told.
    let metrics = eventually("the outcomes to be counted and the queue told", || async {
        let metrics = worker.metrics().await;
        let settled = sample(
            &metrics,
            "opsbox_jobs_processed_total",
            &[("kind", "io"), ("outcome", "done")],
        ) == Some(1.0)
            && sample(
                &metrics,
                "opsbox_jobs_processed_total",
                &[("kind", "fail"), ("outcome", "dead")],
            ) == Some(1.0)
            && sample(&metrics, "opsbox_queue_depth", &[("queue", "dead")]) == Some(1.0);
        settled.then_some(metrics)
    })
    .await;
    let processed = |kind, outcome| {
        sample(
            &metrics,
            "opsbox_jobs_processed_total",
            &[("kind", kind), ("outcome", outcome), ("track", "stable")],
        )
    };
    assert_eq!(processed("fail", "retry"), Some(2.0), "{metrics}");
    assert_eq!(processed("fail", "dead"), Some(1.0));
    assert_eq!(processed("io", "done"), Some(1.0));
    assert_eq!(
        processed("cpu", "done"),
        Some(0.0),
        "every series exists from the start"
    );
    assert_eq!(
        sample(&metrics, "opsbox_queue_depth", &[("queue", "dead")]),
        Some(1.0)
    );
    assert_eq!(
        sample(&metrics, "opsbox_queue_depth", &[("queue", "ready")]),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "opsbox_job_duration_seconds_count",
            &[("kind", "io")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "opsbox_job_queue_wait_seconds_count",
            &[("kind", "fail")]
        ),
        Some(3.0)
    );
    assert_eq!(sample(&metrics, "opsbox_worker_inflight", &[]), Some(0.0));
    assert!(metrics.contains("opsbox_build_info{"), "{metrics}");

    let (status, body) = worker.get("/health").await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
}

#[tokio::test]
async fn readiness_fails_fast_while_redis_is_down_and_recovers() {
    let world = TestWorld::private().await;
    let worker = world.worker().spawn().await;
    eventually("the worker to be ready", || async {
        (worker.get("/ready").await.0 == 200).then_some(())
    })
    .await;

    let redis = world.deps.redis().expect("private Redis");
    redis.stop().await.expect("stop Redis");
    let started = std::time::Instant::now();
    let (status, body) = worker.get("/ready").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "answered in {:?}",
        started.elapsed()
    );
    let body: Value = serde_json::from_str(&body).expect("a JSON body");
    assert!(body["failing"]["redis"].is_string(), "{body}");
    assert!(body["failing"].get("postgres").is_none(), "{body}");
    assert_eq!(
        worker.get("/health").await.0,
        200,
        "liveness does not depend on Redis"
    );

    redis.start().await.expect("start Redis");
    eventually("readiness to recover", || async {
        (worker.get("/ready").await.0 == 200).then_some(())
    })
    .await;

    // And the consumers reconnected: a job queued now still runs.
    let id = world.queue_task(TaskKind::Io, json!({"ms": 10})).await;
    world.until_status(id, TaskStatus::Done).await;
}
