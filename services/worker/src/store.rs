//! The worker's reads and writes of tasks and their run history.
//!
//! Every write to a task is guarded by its `run_id` and by the `attempts`
//! value this worker's claim produced. The claim increments `attempts`, so it
//! doubles as a fencing token: when a second delivery of the same run claims
//! the task (a redelivery after a crash, a duplicate, a re-enqueue after a
//! Redis wipe), the first one can no longer write, and a task completes once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use opsbox_common::model::TaskKind;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

/// What the history records for an attempt that a later delivery took over.
const INTERRUPTED: &str = "interrupted: a later delivery of this run took over";
/// What it records for an attempt that finished after losing its claim.
const SUPERSEDED: &str = "superseded: while this attempt ran, a later delivery claimed the task";

/// A task this worker has claimed for one attempt.
#[derive(Debug, Clone)]
pub struct Claim {
    pub task_id: Uuid,
    pub run_id: Uuid,
    pub kind: TaskKind,
    pub payload: Value,
    /// The task's `attempts` after the claim: the fencing token.
    pub fence: i32,
    /// This attempt of the run, counting from 1.
    pub attempt: u32,
    worker: String,
    started_at: DateTime<Utc>,
}

/// How an attempt ends, as written to the task.
#[derive(Debug, Clone, PartialEq)]
pub enum Settlement {
    Done(Value),
    /// Back to QUEUED; another attempt is scheduled.
    Retry(String),
    /// FAILED after the last attempt; dead-lettered.
    Dead(String),
    /// FAILED at once: no attempt can succeed.
    Failed(String),
    /// Back to QUEUED without an outcome: the worker is shutting down.
    Released,
}

impl Settlement {
    fn outcome(&self) -> &'static str {
        match self {
            Settlement::Done(_) => "done",
            Settlement::Retry(_) => "retry",
            Settlement::Dead(_) => "dead",
            Settlement::Failed(_) => "failed",
            Settlement::Released => "released",
        }
    }

    fn error(&self) -> Option<&str> {
        match self {
            Settlement::Retry(e) | Settlement::Dead(e) | Settlement::Failed(e) => Some(e),
            Settlement::Done(_) | Settlement::Released => None,
        }
    }
}

/// Claims the task for an attempt and opens its history row; `None` when the
/// delivery is stale (another run, a finished or deleted task).
pub async fn claim(
    pool: &PgPool,
    task_id: Uuid,
    run_id: Uuid,
    attempt: u32,
    worker: &str,
) -> Result<Option<Claim>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let claimed: Option<(String, Value, i32)> = sqlx::query_as(
        "UPDATE tasks SET status = 'RUNNING', attempts = attempts + 1, updated_at = now() \
         WHERE id = $1 AND run_id = $2 AND status IN ('QUEUED', 'RUNNING') \
         RETURNING kind, payload, attempts",
    )
    .bind(task_id)
    .bind(run_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((kind, payload, fence)) = claimed else {
        return Ok(None);
    };
    let kind = TaskKind::parse(&kind).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: "kind".to_owned(),
        source: format!("unexpected value {kind:?}").into(),
    })?;
    // An attempt still open here was cut short (its worker died, or a
    // duplicate is being overtaken): close it so the history says so.
    sqlx::query(
        "UPDATE task_runs SET finished_at = now(), error = $3 \
         WHERE task_id = $1 AND run_id = $2 AND finished_at IS NULL",
    )
    .bind(task_id)
    .bind(run_id)
    .bind(INTERRUPTED)
    .execute(&mut *tx)
    .await?;
    let attempt_column = i32::try_from(attempt).unwrap_or(i32::MAX);
    let started_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO task_runs (task_id, run_id, attempt, worker) VALUES ($1, $2, $3, $4) \
         RETURNING started_at",
    )
    .bind(task_id)
    .bind(run_id)
    .bind(attempt_column)
    .bind(worker)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(Claim {
        task_id,
        run_id,
        kind,
        payload,
        fence,
        attempt,
        worker: worker.to_owned(),
        started_at,
    }))
}

/// Writes how the attempt ended; false when the claim was lost to a later
/// delivery, in which case the task is left alone.
pub async fn settle(
    pool: &PgPool,
    claim: &Claim,
    settlement: &Settlement,
) -> Result<bool, sqlx::Error> {
    let guard = "WHERE id = $1 AND run_id = $2 AND status = 'RUNNING' AND attempts = $3";
    let update = match settlement {
        Settlement::Done(_) => {
            format!("UPDATE tasks SET status = 'DONE', result = $4, error = NULL, updated_at = now() {guard}")
        }
        Settlement::Retry(_) => {
            format!("UPDATE tasks SET status = 'QUEUED', error = $4, updated_at = now() {guard}")
        }
        Settlement::Dead(_) | Settlement::Failed(_) => {
            format!("UPDATE tasks SET status = 'FAILED', result = NULL, error = $4, updated_at = now() {guard}")
        }
        Settlement::Released => {
            format!("UPDATE tasks SET status = 'QUEUED', updated_at = now() {guard}")
        }
    };
    let mut tx = pool.begin().await?;
    let query = sqlx::query(&update)
        .bind(claim.task_id)
        .bind(claim.run_id)
        .bind(claim.fence);
    let query = match settlement {
        Settlement::Done(result) => query.bind(result),
        Settlement::Retry(e) | Settlement::Dead(e) | Settlement::Failed(e) => query.bind(e),
        Settlement::Released => query,
    };
    let owned = query.execute(&mut *tx).await?.rows_affected() == 1;
    let (outcome, error) = if owned {
        (Some(settlement.outcome()), settlement.error())
    } else {
        (None, Some(SUPERSEDED))
    };
    sqlx::query(
        "UPDATE task_runs SET finished_at = now(), outcome = $6, error = $7 \
         WHERE task_id = $1 AND run_id = $2 AND attempt = $3 AND worker = $4 AND started_at = $5",
    )
    .bind(claim.task_id)
    .bind(claim.run_id)
    .bind(i32::try_from(claim.attempt).unwrap_or(i32::MAX))
    .bind(&claim.worker)
    .bind(claim.started_at)
    .bind(outcome)
    .bind(error)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(owned)
}

/// A task that should have a job in the queue.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Unfinished {
    pub id: Uuid,
    pub run_id: Uuid,
    pub kind: String,
    /// Attempts of this run that failed and were retried: the next job
    /// continues the count instead of granting a fresh set of attempts.
    pub retries: i64,
}

/// Tasks QUEUED or RUNNING that nothing has touched for `idle`, oldest first.
pub async fn idle_unfinished(
    pool: &PgPool,
    idle: Duration,
    limit: i64,
) -> Result<Vec<Unfinished>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id, t.run_id, t.kind, \
                (SELECT count(*) FROM task_runs r \
                  WHERE r.task_id = t.id AND r.run_id = t.run_id AND r.outcome = 'retry') AS retries \
         FROM tasks t \
         WHERE t.status IN ('QUEUED', 'RUNNING') AND t.run_id IS NOT NULL \
           AND t.updated_at < now() - make_interval(secs => $1) \
         ORDER BY t.updated_at LIMIT $2",
    )
    .bind(idle.as_secs_f64())
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Deletes up to `batch` DONE/FAILED tasks untouched for `retention` (their
/// history goes with them); the count deleted.
pub async fn delete_finished(
    pool: &PgPool,
    retention: Duration,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let deleted = sqlx::query(
        "DELETE FROM tasks WHERE id IN ( \
             SELECT id FROM tasks \
             WHERE status IN ('DONE', 'FAILED') AND updated_at < now() - make_interval(secs => $1) \
             LIMIT $2)",
    )
    .bind(retention.as_secs_f64())
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected())
}

/// Readiness: Postgres answers a trivial query.
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}
