//! Requeueing dead letters: each task gets a fresh run in PostgreSQL, then its
//! dead entry is swapped for a ready job of that run in one Redis step.
//!
//! The task row is the truth. A dead-lettered task is FAILED, and the worker
//! drops any delivery whose run is not the task's current run; so moving the
//! job back alone would never run it. The reset is guarded by the dead job's
//! run id: two operators requeueing the same letter at once produce one run,
//! and a letter whose task was re-run or deleted since is discarded instead,
//! since it could never run again.

use sqlx::PgConnection;
use uuid::Uuid;

use super::admin_view::{DiscardedLetter, RequeueReport, RequeueRequest};
use super::{now_ms, Job, JobQueue};
use crate::redis_conn::RedisError;

/// Dead letters one `{"all": true}` request requeues; the report says how many remain.
pub const MAX_REQUEUE_ALL: usize = 500;

/// What a request asks to requeue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequeueTarget {
    Task(Uuid),
    All,
}

impl RequeueTarget {
    pub fn from_request(request: &RequeueRequest) -> Result<Self, String> {
        match (&request.job, request.all) {
            (Some(_), true) => Err("name one job or ask for all, not both".to_owned()),
            (None, false) => Err(
                r#"say which dead letter to requeue: {"job": TASK_ID} or {"all": true}"#.to_owned(),
            ),
            (None, true) => Ok(RequeueTarget::All),
            (Some(job), false) => Uuid::parse_str(job.trim())
                .map(RequeueTarget::Task)
                .map_err(|_| format!("{job:?} is not a task id (a UUID)")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RequeueError {
    #[error("task {0} has no dead letter")]
    NoDeadLetter(Uuid),
    #[error("PostgreSQL refused the requeue: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot reach the dead letter in Redis: {0}")]
    Redis(#[from] RedisError),
    #[error(
        "task {task_id} has a fresh QUEUED run, but its job could not be put in Redis ({source}); \
         the worker's reconciler will enqueue it"
    )]
    Enqueue {
        task_id: Uuid,
        #[source]
        source: RedisError,
    },
    #[error("{source} (after requeueing {requeued} and discarding {discarded} dead letters)")]
    PartWay {
        requeued: usize,
        discarded: usize,
        #[source]
        source: Box<RequeueError>,
    },
}

/// What became of one dead entry.
enum Fate {
    Requeued,
    Discarded(String),
}

/// Requeues the target's dead letters on `db`. Not bounded in time here: the
/// caller wraps it in its own deadline (what is done stays done).
pub async fn requeue(
    db: &mut PgConnection,
    queue: &JobQueue,
    target: RequeueTarget,
) -> Result<RequeueReport, RequeueError> {
    let entries = match target {
        RequeueTarget::Task(task_id) => {
            let found = queue.find_dead(task_id).await?;
            vec![found.ok_or(RequeueError::NoDeadLetter(task_id))?]
        }
        // Oldest first: pushed first, they are taken first.
        RequeueTarget::All => queue
            .dead_entries(MAX_REQUEUE_ALL)
            .await?
            .into_iter()
            .rev()
            .filter_map(|raw| Job::decode(&raw).ok().map(|job| (raw, job)))
            .collect(),
    };
    let mut report = RequeueReport::default();
    for (raw, job) in &entries {
        let task_id = job.task_id.to_string();
        match requeue_entry(db, queue, raw, job).await {
            Ok(Fate::Requeued) => report.requeued.push(task_id),
            Ok(Fate::Discarded(reason)) => {
                report.discarded.push(DiscardedLetter { task_id, reason });
            }
            Err(error) if report.requeued.is_empty() && report.discarded.is_empty() => {
                return Err(error);
            }
            // Part of the batch is done: say so rather than hide it behind the error.
            Err(error) => {
                return Err(RequeueError::PartWay {
                    requeued: report.requeued.len(),
                    discarded: report.discarded.len(),
                    source: Box::new(error),
                })
            }
        }
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
) -> Result<Fate, RequeueError> {
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
    .await?;
    if reset.rows_affected() == 0 {
        let reason = why_not_requeueable(db, dead).await?;
        queue.discard_dead(raw).await?;
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
    queue
        .requeue_dead(raw, &fresh)
        .await
        .map_err(|source| RequeueError::Enqueue {
            task_id: dead.task_id,
            source,
        })?;
    Ok(Fate::Requeued)
}

/// Why the guarded reset touched no row, in the operator's words.
async fn why_not_requeueable(db: &mut PgConnection, dead: &Job) -> Result<String, sqlx::Error> {
    let row: Option<(String, Option<Uuid>)> =
        sqlx::query_as("SELECT status, run_id FROM tasks WHERE id = $1")
            .bind(dead.task_id)
            .fetch_optional(&mut *db)
            .await?;
    Ok(match row {
        None => "the task was deleted".to_owned(),
        Some((status, run_id)) if run_id != Some(dead.run_id) => {
            format!("the task was run again since it was dead-lettered (now {status})")
        }
        Some((status, _)) => format!("the task is {status}, not FAILED"),
    })
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
            RequeueTarget::from_request(&request(Some(id), false)),
            Ok(RequeueTarget::Task(Uuid::parse_str(id).expect("uuid")))
        );
        assert_eq!(
            RequeueTarget::from_request(&request(None, true)),
            Ok(RequeueTarget::All)
        );
        let both = RequeueTarget::from_request(&request(Some(id), true)).expect_err("both");
        assert!(both.contains("not both"), "{both}");
        let neither = RequeueTarget::from_request(&request(None, false)).expect_err("neither");
        assert!(neither.contains("all"), "{neither}");
        let bad = RequeueTarget::from_request(&request(Some("job-7"), false)).expect_err("bad");
        assert!(bad.contains("\"job-7\" is not a task id"), "{bad}");
    }
}
