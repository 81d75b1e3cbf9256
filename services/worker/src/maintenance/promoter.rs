//! Moves retries whose backoff has elapsed to the ready list.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::context::WorkerContext;

/// Short, because a retry is late by up to one period.
const PERIOD: Duration = Duration::from_millis(250);

/// How many due retries one pass moves; the rest wait for the next pass.
const BATCH: u32 = 500;

/// Runs on every worker without a lock: promotion is one atomic script, so
/// concurrent passes cannot move a job twice, and a lock round trip would
/// cost as much as the pass.
pub async fn promoter(ctx: Arc<WorkerContext>, stop: CancellationToken) {
    super::every("promoter", PERIOD, stop, || async {
        let promoted = ctx.queue.promote_due(BATCH).await?;
        if promoted > 0 {
            tracing::debug!(promoted, "due retries promoted");
        }
        Ok::<_, opsbox_common::redis_conn::RedisError>(())
    })
    .await;
}
