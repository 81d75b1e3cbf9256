//! One delivery, from the raw job to its recorded outcome: claim the task,
//! execute its kind, write the outcome, then tell the queue.
//!
//! The database is always written before the queue: a crash in between only
//! causes a redelivery, which the guarded claim turns into a no-op (stale) or
//! a fresh attempt, never a second completion.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

use opsbox_common::queue::{now_ms, Job};
use opsbox_common::telemetry;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::backoff::{self, Reconnect};
use crate::context::WorkerContext;
use crate::executor::{self, CancelFlag, Execution};
use crate::metrics::{Dropped, Outcome, UNKNOWN_KIND};
use crate::store::{self, Claim, Settlement};

/// The most one database or queue operation may take before it counts as failed.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a job being given back at shutdown may keep trying to reach the
/// database and Redis. Past it the job stays in the processing list, where
/// the shutdown sweep or the reaper finds it.
const RELEASE_GRACE: Duration = Duration::from_secs(3);

/// Signals a delivery reacts to.
pub struct Stops<'a> {
    /// No new work: a job not yet claimed is given back.
    pub stop: &'a CancellationToken,
    /// The shutdown deadline passed: a job still executing is given back.
    pub abandon: &'a CancellationToken,
}

/// Handles one delivery taken from the queue.
pub async fn process(ctx: &WorkerContext, raw: String, stops: Stops<'_>) {
    let job = match Job::decode(&raw) {
        Ok(job) => job,
        Err(e) => {
            // Nothing can ever run it; keeping it would only redeliver it forever.
            tracing::error!(error = %e, bytes = raw.len(), "undecodable job dropped");
            ctx.metrics.job_processed(UNKNOWN_KIND, Outcome::Failed);
            ack(ctx, &raw, Uuid::nil(), stops.abandon).await;
            return;
        }
    };
    let span = tracing::info_span!(
        "job",
        task_id = %job.task_id,
        kind = job.kind.as_str(),
        attempt = job.attempt + 1,
        worker = %ctx.worker_id,
    );
    telemetry::continue_trace(&span, &job.trace);
    deliver(ctx, &raw, job, stops).instrument(span).await;
}

async fn deliver(ctx: &WorkerContext, raw: &str, job: Job, stops: Stops<'_>) {
    let attempt = job.attempt + 1;
    let claim_task = || store::claim(&ctx.db, job.task_id, job.run_id, attempt, &ctx.worker_id);
    let claim = match persist("claim", stops.stop.cancelled(), claim_task).await {
        Some(Some(claim)) => claim,
        Some(None) => {
            tracing::info!(task_id = %job.task_id, run_id = %job.run_id, "stale delivery dropped: the task is finished, deleted or re-run");
            ctx.metrics.job_dropped(Dropped::Stale);
            ack(ctx, raw, job.task_id, stops.abandon).await;
            return;
        }
        None => {
            give_back(ctx, raw, job.task_id, None).await;
            return;
        }
    };
    ctx.metrics
        .queue_wait(claim.kind, (now_ms() - job.ready_at_ms) as f64 / 1000.0);

    let cancel = CancelFlag::default();
    let started = Instant::now();
    let execution = tokio::select! {
        execution = executor::execute(claim.kind, &claim.payload, attempt, cancel.clone()) => execution,
        _ = stops.abandon.cancelled() => {
            cancel.cancel();
            give_back(ctx, raw, job.task_id, Some(&claim)).await;
            return;
        }
    };
    ctx.metrics
        .job_duration(claim.kind, started.elapsed().as_secs_f64());

    let settlement = match execution {
        Execution::Succeeded(result) => Settlement::Done(result),
        Execution::Rejected(error) => Settlement::Failed(error),
        Execution::Failed(error) if attempt < ctx.config.max_attempts => Settlement::Retry(error),
        Execution::Failed(error) => Settlement::Dead(error),
    };
    let write = || store::settle(&ctx.db, &claim, &settlement);
    match persist("record outcome", stops.abandon.cancelled(), write).await {
        Some(true) => {}
        Some(false) => {
            tracing::info!(task_id = %job.task_id, run_id = %job.run_id, "outcome discarded: the task was claimed again, re-run or deleted meanwhile");
            ctx.metrics.job_dropped(Dropped::Superseded);
            ack(ctx, raw, job.task_id, stops.abandon).await;
            return;
        }
        None => {
            // The outcome is lost with the database out of reach; the next
            // delivery runs the attempt again.
            give_back(ctx, raw, job.task_id, None).await;
            return;
        }
    }
    record_outcome(
        ctx,
        raw,
        &job,
        &claim,
        &settlement,
        started.elapsed(),
        stops.abandon,
    )
    .await;
}

/// Counts and logs the written outcome, then moves the job in Redis to
/// match: acked, scheduled for retry, or dead-lettered.
async fn record_outcome(
    ctx: &WorkerContext,
    raw: &str,
    job: &Job,
    claim: &Claim,
    settlement: &Settlement,
    elapsed: Duration,
    abandon: &CancellationToken,
) {
    let (kind, task_id) = (claim.kind.as_str(), claim.task_id);
    let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    // task_id is repeated on each event: the log format shows only the
    // span's name, and an outcome line must say which task it is about.
    match settlement {
        Settlement::Done(_) => {
            ctx.metrics.job_processed(kind, Outcome::Done);
            tracing::info!(%task_id, elapsed_ms, "job done");
            ack(ctx, raw, task_id, abandon).await;
        }
        Settlement::Failed(error) => {
            ctx.metrics.job_processed(kind, Outcome::Failed);
            tracing::warn!(%task_id, error = %error, "job failed for good: its payload cannot work");
            ack(ctx, raw, task_id, abandon).await;
        }
        Settlement::Retry(error) => {
            let delay = backoff::retry_delay(ctx.config.backoff_base, claim.attempt);
            let due_ms = now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
            let next = Job {
                attempt: claim.attempt,
                ready_at_ms: due_ms,
                last_error: Some(error.clone()),
                ..job.clone()
            };
            ctx.metrics.job_processed(kind, Outcome::Retry);
            let retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
            tracing::warn!(%task_id, error = %error, elapsed_ms, retry_in_ms, "job failed; will retry");
            let schedule = || ctx.queue.retry_later(&ctx.worker_id, raw, &next, due_ms);
            persist("schedule retry", abandon.cancelled(), schedule).await;
        }
        Settlement::Dead(error) => {
            let dead = Job {
                attempt: claim.attempt,
                last_error: Some(error.clone()),
                ..job.clone()
            };
            ctx.metrics.job_processed(kind, Outcome::Dead);
            tracing::error!(%task_id, error = %error, attempts = claim.attempt, "job failed its last attempt; dead-lettered");
            let bury = || ctx.queue.dead_letter(&ctx.worker_id, raw, &dead);
            persist("dead-letter", abandon.cancelled(), bury).await;
        }
        Settlement::Released => {}
    }
}

/// The delivery is finished with: forget it.
async fn ack(ctx: &WorkerContext, raw: &str, task_id: Uuid, abandon: &CancellationToken) {
    persist("ack", abandon.cancelled(), || {
        ctx.queue.ack(&ctx.worker_id, raw, task_id)
    })
    .await;
}

/// Returns a delivery to the ready list at shutdown, first putting its task
/// back to QUEUED when this worker had claimed it.
async fn give_back(ctx: &WorkerContext, raw: &str, task_id: Uuid, claim: Option<&Claim>) {
    if let Some(claim) = claim {
        let write = || store::settle(&ctx.db, claim, &Settlement::Released);
        persist("release task", tokio::time::sleep(RELEASE_GRACE), write).await;
    }
    let release = || ctx.queue.release(&ctx.worker_id, raw);
    if persist("release job", tokio::time::sleep(RELEASE_GRACE), release)
        .await
        .is_some()
    {
        tracing::info!(%task_id, "job released back to the queue");
    }
}

/// Runs `operation` until it succeeds, backing off between failures; `None`
/// once `give_up` resolves first. A dependency outage thus holds a job (and
/// its consumer) instead of losing it, and never spins.
async fn persist<T, E, F, Fut>(
    what: &str,
    give_up: impl Future<Output = ()>,
    mut operation: F,
) -> Option<T>
where
    E: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut backoff = Reconnect::new(Duration::from_millis(100), Duration::from_secs(2));
    tokio::pin!(give_up);
    loop {
        let error = match tokio::time::timeout(OPERATION_TIMEOUT, operation()).await {
            Ok(Ok(value)) => return Some(value),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {OPERATION_TIMEOUT:?}"),
        };
        tracing::warn!(error = %error, "cannot {what}; retrying");
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_delay()) => {}
            _ = &mut give_up => {
                tracing::warn!("gave up trying to {what}");
                return None;
            }
        }
    }
}
