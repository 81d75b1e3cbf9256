//! Tells the fleet this worker is alive, so the reaper leaves its jobs alone.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::context::WorkerContext;

/// Beats three times per visibility timeout: two beats can be lost before
/// the reaper takes this worker's jobs away. Runs until `until`, which is
/// after the last in-flight job has been settled.
pub async fn heartbeat(ctx: Arc<WorkerContext>, until: CancellationToken) {
    let period = ctx.config.visibility_timeout / 3;
    super::every("heartbeat", period, until, || {
        ctx.queue.heartbeat(&ctx.worker_id)
    })
    .await;
}
