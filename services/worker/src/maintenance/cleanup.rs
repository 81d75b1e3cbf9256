//! Deletes finished tasks past the retention, so the table does not grow forever.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::ChoreError;
use crate::context::WorkerContext;
use crate::store;

/// Rows per DELETE: short statements keep locks and WAL bursts small.
const BATCH: i64 = 1000;

pub async fn cleanup(ctx: Arc<WorkerContext>, stop: CancellationToken) {
    let period = ctx.config.cleanup_interval;
    super::every("cleanup", period, stop.clone(), || async {
        if !ctx
            .queue
            .try_lock("cleanup", &ctx.worker_id, super::lock_ttl(period))
            .await?
        {
            return Ok(());
        }
        let mut deleted = 0u64;
        loop {
            let batch = store::delete_finished(&ctx.db, ctx.config.retention, BATCH).await?;
            deleted += batch;
            if batch < BATCH as u64 || stop.is_cancelled() {
                break;
            }
        }
        tracing::info!(
            deleted,
            retention_s = ctx.config.retention.as_secs(),
            "finished tasks past retention deleted"
        );
        Ok::<_, ChoreError>(())
    })
    .await;
}
