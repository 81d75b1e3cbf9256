//! A job's span continues the trace of the request that queued it.

use std::collections::HashMap;

use opsbox_common::model::{TaskKind, TaskStatus};
use opsbox_common::queue::Job;
use serde_json::{json, Value};

use crate::helpers::TestWorld;

#[tokio::test]
async fn a_job_logs_inside_the_trace_it_carries() {
    let world = TestWorld::start().await;
    let (id, run_id) = world.insert_task(TaskKind::Io, json!({"ms": 10})).await;
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let carrier = HashMap::from([(
        "traceparent".to_owned(),
        format!("00-{trace_id}-b7ad6b7169203331-01"),
    )]);
    world
        .enqueue(&Job::new(id, run_id, TaskKind::Io, carrier))
        .await;
    let worker = world.worker().spawn().await;
    world.until_status(id, TaskStatus::Done).await;

    let done = worker
        .log_lines()
        .find(|line| line["message"] == "job done")
        .expect("a 'job done' log line");
    assert_eq!(done["span"], "job", "{done}");
    assert_eq!(done["trace_id"], Value::from(trace_id), "{done}");
    assert_ne!(
        done["span_id"],
        Value::from("b7ad6b7169203331"),
        "the job has a span of its own: {done}"
    );
}
