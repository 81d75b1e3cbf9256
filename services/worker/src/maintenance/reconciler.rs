//! Re-enqueues tasks that Postgres says are queued or running but that have
//! no job in Redis (a Redis wipe, a lost write): the task row is the truth.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use opsbox_common::model::TaskKind;
use opsbox_common::queue::Job;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::ChoreError;
use crate::context::WorkerContext;
use crate::store;

/// Tasks looked at per pass; a backlog larger than this drains over passes.
const BATCH: i64 = 500;

/// Looks twice per visibility timeout, only at tasks idle for a whole
/// timeout, so a task whose job is merely being enqueued is never doubled.
pub async fn reconciler(ctx: Arc<WorkerContext>, stop: CancellationToken) {
    let idle = ctx.config.visibility_timeout;
    let period = (idle / 2).max(Duration::from_millis(100));
    super::every("reconciler", period, stop, || async {
        if ctx
            .queue
            .try_lock("reconciler", &ctx.worker_id, super::lock_ttl(period))
            .await?
        {
            reconcile(&ctx, idle).await?;
        }
        Ok::<_, ChoreError>(())
    })
    .await;
}

async fn reconcile(ctx: &WorkerContext, idle: Duration) -> Result<(), ChoreError> {
    let candidates = store::idle_unfinished(&ctx.db, idle, BATCH).await?;
    if candidates.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = candidates.iter().map(|task| task.id).collect();
    let lost = ctx.queue.without_live_job(&ids).await?;
    let mut requeued = 0u64;
    for task in candidates.iter().filter(|task| lost.contains(&task.id)) {
        let Some(kind) = TaskKind::parse(&task.kind) else {
            tracing::error!(task_id = %task.id, kind = %task.kind, "task of unknown kind left alone");
            continue;
        };
        let mut job = Job::new(task.id, task.run_id, kind, HashMap::new());
        job.attempt = u32::try_from(task.retries).unwrap_or(u32::MAX);
        ctx.queue.enqueue(&job).await?;
        requeued += 1;
    }
    if requeued > 0 {
        tracing::warn!(requeued, "tasks without a job re-enqueued");
    }
    Ok(())
}
