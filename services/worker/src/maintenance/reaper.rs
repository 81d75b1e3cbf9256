//! Returns the jobs of workers that stopped heart-beating (SIGKILL, OOM, a
//! lost node) to the ready list.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::context::WorkerContext;

/// A worker silent for the visibility timeout is dead; looking four times
/// per timeout returns its jobs at most a quarter timeout after that.
pub async fn reaper(ctx: Arc<WorkerContext>, stop: CancellationToken) {
    let timeout = ctx.config.visibility_timeout;
    let period = (timeout / 4).max(Duration::from_millis(100));
    super::every("reaper", period, stop, || async {
        if !ctx
            .queue
            .try_lock("reaper", &ctx.worker_id, super::lock_ttl(period))
            .await?
        {
            return Ok(());
        }
        let returned = ctx.queue.reap_dead_workers(timeout).await?;
        if returned > 0 {
            tracing::warn!(returned, "jobs of dead workers returned to the queue");
        }
        Ok::<_, opsbox_common::redis_conn::RedisError>(())
    })
    .await;
}
