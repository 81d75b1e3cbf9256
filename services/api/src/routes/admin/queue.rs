//! The queue for operators: its depth, the dead letter, and requeueing from
//! it. The same JSON as the local daemon's `/queue` routes, so the console
//! reads a cluster's queue through these as it reads its own.

use std::time::Duration;

use axum::extract::State;
use opsbox_common::queue::{
    now_ms, requeue, DeadLetter, DeadLetters, QueueSnapshot, RequeueError, RequeueReport,
    RequeueRequest, RequeueTarget,
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::Admin;
use crate::context::AppContext;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Query};

/// Dead letters listed when the request names no limit.
const DEFAULT_DEAD_LIMIT: usize = 50;
/// The most one listing returns: the browser shows the newest, not all.
pub const MAX_DEAD_LIMIT: usize = 1000;
/// The most one requeue may take, database and Redis together; what was done
/// by then stays done, and the report of a retry says what remains.
const REQUEUE_TIMEOUT: Duration = Duration::from_secs(30);

/// Depth of every part of the queue, and the age of the next job.
#[utoipa::path(get, path = "/admin/queue", tag = "admin", security(("admin_token" = []), ("admin_header" = [])),
    responses((status = 200, body = QueueSnapshot), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn queue_depth(
    _: Admin,
    State(ctx): State<AppContext>,
) -> Result<axum::Json<QueueSnapshot>, ApiError> {
    let (depth, oldest) = tokio::try_join!(ctx.queue.depth(), ctx.queue.oldest_ready())?;
    // Never negative: another host's clock may run ahead of ours.
    let oldest_ready_age_secs =
        oldest.map(|job| now_ms().saturating_sub(job.ready_at_ms).max(0) as f64 / 1000.0);
    Ok(axum::Json(QueueSnapshot {
        depth,
        oldest_ready_age_secs,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterParams {
    /// How many of the newest dead letters, 1 to 1000 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
}

/// The newest dead letters, newest first, and how many there are in all.
#[utoipa::path(get, path = "/admin/dead-letters", tag = "admin", security(("admin_token" = []), ("admin_header" = [])),
    params(DeadLetterParams),
    responses((status = 200, body = DeadLetters), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn dead_letters(
    _: Admin,
    State(ctx): State<AppContext>,
    Query(params): Query<DeadLetterParams>,
) -> Result<axum::Json<DeadLetters>, ApiError> {
    let limit = dead_limit(params.limit.as_deref())?;
    let (depth, jobs) = tokio::try_join!(ctx.queue.depth(), ctx.queue.dead_jobs(limit))?;
    Ok(axum::Json(DeadLetters {
        total: depth.dead,
        letters: jobs.iter().map(DeadLetter::from).collect(),
    }))
}

/// `limit` as asked: 400 when not a number, 422 when out of range.
fn dead_limit(asked: Option<&str>) -> Result<usize, ApiError> {
    let Some(raw) = asked else {
        return Ok(DEFAULT_DEAD_LIMIT);
    };
    let limit: i64 = raw
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("limit must be an integer; got {raw:?}")))?;
    usize::try_from(limit)
        .ok()
        .filter(|l| (1..=MAX_DEAD_LIMIT).contains(l))
        .ok_or_else(|| {
            ApiError::Validation(format!(
                "limit must be between 1 and {MAX_DEAD_LIMIT}; got {limit}"
            ))
        })
}

/// Give dead-lettered tasks a fresh run: one (`{"job": TASK_ID}`) or all
/// (`{"all": true}`, up to 500 a request; `remaining` says how many are left).
#[utoipa::path(post, path = "/admin/dead-letters/requeue", tag = "admin", security(("admin_token" = []), ("admin_header" = [])),
    request_body = RequeueRequest,
    responses((status = 200, body = RequeueReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "the task has no dead letter", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn requeue_dead_letters(
    _: Admin,
    State(ctx): State<AppContext>,
    Json(request): Json<RequeueRequest>,
) -> Result<axum::Json<RequeueReport>, ApiError> {
    let target = RequeueTarget::from_request(&request).map_err(ApiError::Validation)?;
    let work = async {
        let mut db = ctx.db.acquire().await?;
        requeue(&mut db, &ctx.queue, target)
            .await
            .map_err(requeue_error)
    };
    let report = tokio::time::timeout(REQUEUE_TIMEOUT, work)
        .await
        .map_err(|_| ApiError::Unavailable {
            dependency: "database or redis",
            detail: format!(
                "the requeue took longer than {REQUEUE_TIMEOUT:?}; what was done stays done"
            ),
        })??;
    tracing::warn!(
        requeued = report.requeued.len(),
        discarded = report.discarded.len(),
        remaining = report.remaining,
        "dead letters requeued by an operator"
    );
    Ok(axum::Json(report))
}

fn requeue_error(error: RequeueError) -> ApiError {
    match error {
        RequeueError::NoDeadLetter(_) => ApiError::NotFound(error.to_string()),
        RequeueError::Database(e) => e.into(),
        RequeueError::Redis(e) => e.into(),
        // A fresh run exists in Postgres but its job is not in Redis (or a
        // batch stopped part way): the client should look and retry.
        RequeueError::Enqueue { .. } | RequeueError::PartWay { .. } => ApiError::Unavailable {
            dependency: "redis",
            detail: error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dead_limit_defaults_and_refuses_what_is_out_of_range() {
        assert_eq!(dead_limit(None).ok(), Some(DEFAULT_DEAD_LIMIT));
        assert_eq!(dead_limit(Some("1000")).ok(), Some(MAX_DEAD_LIMIT));
        for (bad, status) in [
            ("0", 422),
            ("1001", 422),
            ("-1", 422),
            ("ten", 400),
            ("", 400),
        ] {
            let error = dead_limit(Some(bad)).expect_err(bad);
            assert_eq!(error.status_code().as_u16(), status, "{bad}");
        }
    }
}
