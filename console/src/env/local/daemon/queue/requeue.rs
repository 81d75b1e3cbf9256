//! Requeueing dead letters: each task gets a fresh run in PostgreSQL, then its dead entry
//! is swapped for a ready job of that run in one Redis step.
//!
//! The task row is the truth. A dead-lettered task is FAILED, and the worker drops any
//! delivery whose run is not the task's current QUEUED/RUNNING run; so moving the job back
//! alone would never run it. The reset is guarded by the dead job's run id: two operators
//! requeueing the same letter at once produce one run, and a letter whose task was re-run
//! or deleted since is discarded instead of requeued, since it could never run again.

use std::time::Duration;

use axum::http::StatusCode;
use opsbox_common::queue::{now_ms, Job, JobQueue};
use sqlx::types::Uuid;
use sqlx::{Connection, PgConnection};

use super::super::control_error::ControlError;
use crate::model::{DiscardedLetter, RequeueReport, RequeueRequest};

/// Dead letters one `{"all": true}` request requeues; the report says how many remain.
pub const MAX_REQUEUE_ALL: usize = 500;

/// The most one requeue request may take, database and Redis together.
const REQUEUE_TIMEOUT: Duration = Duration::from_secs(30);

/// What a request asks to requeue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Task(Uuid),
    All,
}

impl Target {
    pub fn from_request(request: &RequeueRequest) -> Result<Self, String> {
        match (&request.job, request.all) {
            (Some(_), true) => Err("name one job or ask for all, not both".to_owned()),
            (None, false) => Err(
                r#"say which dead letter to requeue: {"job": TASK_ID} or {"all": true}"#.to_owned(),
            ),
            (None, true) => Ok(Target::All),
            (Some(job), false) => Uuid::parse_str(job.trim())
                .map(Target::Task)
                .map_err(|_| format!("{job:?} is not a task id (a UUID)")),
        }
    }
}

/// What became of one dead entry.
enum Fate {
    Requeued,
    Discarded(String),
}

pub async fn run(
    database_url: &str,
    queue: &JobQueue,
    target: Target,
) -> Result<RequeueReport, ControlError> {
    match tokio::time::timeout(REQUEUE_TIMEOUT, requeue(database_url, queue, target)).await {
        Ok(result) => result,
        Err(_) => Err(ControlError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the requeue took longer than {REQUEUE_TIMEOUT:?}; what was done so far stays done \
                 (see `opsbox queue`)"
            ),
        )),
    }
}

async fn requeue(
    database_url: &str,
    queue: &JobQueue,
    target: Target,
) -> Result<RequeueReport, ControlError> {
    let entries = match target {
        Target::Task(task_id) => {
            let found = queue
                .find_dead(task_id)
                .await
                .map_err(|e| redis_error(&e))?;
            let Some(entry) = found else {
                return Err(ControlError::not_found(format!(
                    "task {task_id} has no dead letter"
                )));
            };
            vec![entry]
        }
        Target::All => {
            let raw = queue
                .dead_entries(MAX_REQUEUE_ALL)
                .await
                .map_err(|e| redis_error(&e))?;
            // Oldest first: pushed first, they are taken first.
            raw.into_iter()
                .rev()
                .filter_map(|raw| Job::decode(&raw).ok().map(|job| (raw, job)))
                .collect()
        }
    };
    let mut report = RequeueReport::default();
    if !entries.is_empty() {
        // One short-lived connection per request: requeues are rare, and a pool would keep
        // connections open to a database that chaos may take away.
        let mut db = PgConnection::connect(database_url).await.map_err(|e| {
            ControlError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot reach PostgreSQL to give the tasks a fresh run: {e}"),
            )
        })?;
        for (raw, job) in &entries {
            let task_id = job.task_id.to_string();
            match requeue_entry(&mut db, queue, raw, job).await {
                Ok(Fate::Requeued) => report.requeued.push(task_id),
                Ok(Fate::Discarded(reason)) => {
                    report.discarded.push(DiscardedLetter { task_id, reason });
                }
                Err(error) if report.requeued.is_empty() && report.discarded.is_empty() => {
                    return Err(error);
                }
                Err(error) => {
                    // Part of the batch is done: say so rather than hide it behind the error.
                    tracing::warn!(task_id, error = %error.message, "requeue stopped part way");
                    return Err(ControlError::new(
                        error.status,
                        format!(
                            "{} (after requeueing {} and discarding {} dead letters)",
                            error.message,
                            report.requeued.len(),
                            report.discarded.len()
                        ),
                    ));
                }
            }
        }
        let _ = db.close().await;
    }
    report.remaining = queue.depth().await.map(|d| d.dead).unwrap_or_default();
    tracing::info!(
        requeued = report.requeued.len(),
        discarded = report.discarded.len(),
        remaining = report.remaining,
        "dead letters requeued"
    );
    Ok(report)
}

async fn requeue_entry(
    db: &mut PgConnection,
    queue: &JobQueue,
    raw: &str,
    dead: &Job,
) -> Result<Fate, ControlError> {
    let run_id = Uuid::now_v7();
    let reset = sqlx::query(
        "UPDATE tasks SET status = 'QUEUED', run_id = $3, attempts = 0, result = NULL, \
         error = NULL, updated_at = now() \
         WHERE id = $1 AND run_id = $2 AND status = 'FAILED'",
    )
    .bind(dead.task_id)
    .bind(dead.run_id)
    .bind(run_id)
    .execute(&mut *db)
    .await
    .map_err(|e| database_error(&e))?;
    if reset.rows_affected() == 0 {
        let reason = why_not_requeueable(db, dead).await?;
        queue.discard_dead(raw).await.map_err(|e| redis_error(&e))?;
        return Ok(Fate::Discarded(reason));
    }
    let fresh = Job {
        run_id,
        attempt: 0,
        ready_at_ms: now_ms(),
        last_error: None,
        dead_at_ms: None,
        // The original trace is kept: the requeued run shows up next to the failures.
        ..dead.clone()
    };
    queue.requeue_dead(raw, &fresh).await.map_err(|e| {
        ControlError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "task {} has a fresh QUEUED run, but its job could not be put in Redis ({e}); \
                 the worker's reconciler will enqueue it",
                dead.task_id
            ),
        )
    })?;
    Ok(Fate::Requeued)
}

/// Why the guarded reset touched no row, in the operator's words.
async fn why_not_requeueable(db: &mut PgConnection, dead: &Job) -> Result<String, ControlError> {
    let row: Option<(String, Option<Uuid>)> =
        sqlx::query_as("SELECT status, run_id FROM tasks WHERE id = $1")
            .bind(dead.task_id)
            .fetch_optional(&mut *db)
            .await
            .map_err(|e| database_error(&e))?;
    Ok(match row {
        None => "the task was deleted".to_owned(),
        Some((status, run_id)) if run_id != Some(dead.run_id) => {
            format!("the task was run again since it was dead-lettered (now {status})")
        }
        Some((status, _)) => format!("the task is {status}, not FAILED"),
    })
}

fn database_error(error: &sqlx::Error) -> ControlError {
    ControlError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("PostgreSQL refused the requeue: {error}"),
    )
}

fn redis_error(error: &opsbox_common::redis_conn::RedisError) -> ControlError {
    ControlError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("cannot reach the dead letter in Redis: {error}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(job: Option<&str>, all: bool) -> RequeueRequest {
        RequeueRequest {
            job: job.map(str::to_owned),
            all,
        }
    }

    #[test]
    fn a_request_names_one_task_or_all() {
        let id = "0190f1a2-7b3c-7d4e-8f60-123456789abc";
        assert_eq!(
            Target::from_request(&request(Some(id), false)),
            Ok(Target::Task(Uuid::parse_str(id).expect("uuid")))
        );
        assert_eq!(Target::from_request(&request(None, true)), Ok(Target::All));
        let both = Target::from_request(&request(Some(id), true)).expect_err("both");
        assert!(both.contains("not both"), "{both}");
        let neither = Target::from_request(&request(None, false)).expect_err("neither");
        assert!(neither.contains("all"), "{neither}");
        let bad = Target::from_request(&request(Some("job-7"), false)).expect_err("bad id");
        assert!(bad.contains("\"job-7\" is not a task id"), "{bad}");
    }
}
