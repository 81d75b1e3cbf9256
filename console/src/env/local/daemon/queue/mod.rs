//! The queue routes: depth and throughput, the dead letter, and requeueing from it.
//!
//! `GET /queue`, `GET /queue/dead?limit=N`, `POST /queue/dead/requeue` with
//! `{"job": TASK_ID}` or `{"all": true}`. Audit entries for requeues are written by the
//! caller (CLI or console), which knows who asked.

mod requeue;
mod throughput;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use opsbox_common::queue::{now_ms, JobQueue};
use opsbox_common::redis_conn::RedisError;

use super::control_error::{ControlError, ControlRoutes};
use super::state::{DaemonState, NotReady};
use crate::model::{
    DeadLetter, DeadLetters, QueueOverview, QueueStatus, RequeueReport, RequeueRequest,
};

/// A read of the queue must come back quickly even when Redis hangs.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Dead letters listed when the request names no limit.
const DEFAULT_DEAD_LIMIT: usize = 50;

/// The most dead letters one listing returns: the browser shows the newest, not all.
pub const MAX_DEAD_LIMIT: usize = 1000;

pub fn routes() -> ControlRoutes {
    Router::new()
        .route("/queue", get(overview))
        .route("/queue/dead", get(dead_letters))
        .route("/queue/dead/requeue", post(requeue_dead))
}

async fn overview(
    State(state): State<Arc<DaemonState>>,
) -> Result<Json<QueueOverview>, ControlError> {
    let queue = running_queue(&state)?;
    let read = async { tokio::try_join!(queue.depth(), queue.oldest_ready()) };
    let (depth, oldest) = bounded(read).await?;
    let oldest_ready_age_secs = oldest.map(|job| age_secs(job.ready_at_ms, now_ms()));
    Ok(Json(QueueOverview {
        depth: QueueStatus {
            ready: depth.ready,
            delayed: depth.delayed,
            processing: depth.processing,
            dead: depth.dead,
        },
        oldest_ready_age_secs,
        processed: throughput::processed_totals(&state).await,
    }))
}

async fn dead_letters(
    State(state): State<Arc<DaemonState>>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<DeadLetters>, ControlError> {
    let Query(params) = query.map_err(|rejection| ControlError::invalid(rejection.body_text()))?;
    let limit = dead_limit(params.get("limit").map(String::as_str))?;
    let queue = running_queue(&state)?;
    let read = async { tokio::try_join!(queue.depth(), queue.dead_jobs(limit)) };
    let (depth, jobs) = bounded(read).await?;
    Ok(Json(DeadLetters {
        total: depth.dead,
        letters: jobs.iter().map(DeadLetter::from).collect(),
    }))
}

async fn requeue_dead(
    State(state): State<Arc<DaemonState>>,
    body: Result<Json<RequeueRequest>, JsonRejection>,
) -> Result<Json<RequeueReport>, ControlError> {
    let Json(request) = body.map_err(|rejection| ControlError::invalid(rejection.body_text()))?;
    let target = requeue::Target::from_request(&request).map_err(ControlError::invalid)?;
    let queue = running_queue(&state)?;
    let deps = state.running_deps()?;
    requeue::run(deps.database_url(), queue, target)
        .await
        .map(Json)
}

fn running_queue(state: &DaemonState) -> Result<&JobQueue, NotReady> {
    state.queue.get().ok_or(NotReady("the queue"))
}

/// `limit` as asked, 1 to [`MAX_DEAD_LIMIT`].
fn dead_limit(asked: Option<&str>) -> Result<usize, ControlError> {
    let Some(asked) = asked else {
        return Ok(DEFAULT_DEAD_LIMIT);
    };
    match asked.parse::<usize>() {
        Ok(limit) if (1..=MAX_DEAD_LIMIT).contains(&limit) => Ok(limit),
        _ => Err(ControlError::invalid(format!(
            "limit must be a whole number from 1 to {MAX_DEAD_LIMIT}, not {asked:?}"
        ))),
    }
}

async fn bounded<T>(
    read: impl std::future::Future<Output = Result<T, RedisError>>,
) -> Result<T, ControlError> {
    match tokio::time::timeout(READ_TIMEOUT, read).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(redis_unavailable(&error.to_string())),
        Err(_) => Err(redis_unavailable(&format!(
            "no answer within {READ_TIMEOUT:?}"
        ))),
    }
}

fn redis_unavailable(message: &str) -> ControlError {
    ControlError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("cannot read the queue from Redis: {message}"),
    )
}

/// Seconds from `since_ms` to `now_ms`; never negative (clocks of other hosts may run ahead).
fn age_secs(since_ms: i64, now_ms: i64) -> f64 {
    (now_ms.saturating_sub(since_ms)).max(0) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dead_limit_defaults_and_refuses_what_is_out_of_range() {
        assert_eq!(dead_limit(None).expect("default"), DEFAULT_DEAD_LIMIT);
        assert_eq!(dead_limit(Some("7")).expect("seven"), 7);
        assert_eq!(dead_limit(Some("1000")).expect("max"), MAX_DEAD_LIMIT);
        for bad in ["0", "1001", "-1", "ten", ""] {
            let error = dead_limit(Some(bad)).expect_err(bad);
            assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
            assert!(error.message.contains("limit"), "{}", error.message);
        }
    }

    #[test]
    fn ages_never_go_negative() {
        assert_eq!(age_secs(1_000, 3_500), 2.5);
        assert_eq!(age_secs(5_000, 3_000), 0.0);
    }
}
