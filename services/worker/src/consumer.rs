//! A consumer loop: take a job, process it, repeat, on a Redis connection of its own.

use std::time::Duration;

use opsbox_common::redis_conn::{RedisError, REDIS_TIMEOUT};
use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use tokio_util::sync::CancellationToken;

use crate::backoff::Reconnect;
use crate::context::WorkerContext;
use crate::runner::{self, Stops};

/// How long one BLMOVE blocks waiting for a job. It is not interrupted (a
/// job could be moved just as we stop listening), so it bounds how late a
/// consumer notices a shutdown.
pub const TAKE_WAIT: Duration = Duration::from_secs(1);

/// Runs until `stop`, then returns once its current job is settled or, after
/// `abandon`, given back.
pub async fn consume(
    ctx: &WorkerContext,
    index: u16,
    stop: CancellationToken,
    abandon: CancellationToken,
) {
    let mut connection: Option<MultiplexedConnection> = None;
    let mut backoff = Reconnect::new(Duration::from_millis(100), Duration::from_secs(5));
    // Only the first error of an outage and the recovery are worth a warning.
    let mut failing = false;
    while !stop.is_cancelled() {
        let taken = match connection.as_mut() {
            Some(connection) => ctx.queue.take(connection, &ctx.worker_id, TAKE_WAIT).await,
            None => match connect(ctx).await {
                Ok(fresh) => {
                    connection = Some(fresh);
                    continue;
                }
                Err(e) => Err(e),
            },
        };
        if taken.is_ok() && std::mem::take(&mut failing) {
            tracing::info!(consumer = index, "taking jobs from Redis again");
        }
        match taken {
            Ok(None) => backoff.reset(),
            Ok(Some(raw)) => {
                backoff.reset();
                ctx.metrics.inflight().inc();
                let stops = Stops {
                    stop: &stop,
                    abandon: &abandon,
                };
                runner::process(ctx, raw, stops).await;
                ctx.metrics.inflight().dec();
            }
            Err(e) => {
                if std::mem::replace(&mut failing, true) {
                    tracing::debug!(consumer = index, error = %e, "still cannot take jobs from Redis");
                } else {
                    tracing::warn!(consumer = index, error = %e, "cannot take jobs from Redis; reconnecting");
                }
                // The connection may be broken in a way it cannot tell us
                // about (a timed-out BLMOVE leaves a reply in flight).
                connection = None;
                if !backoff.wait(&stop).await {
                    break;
                }
            }
        }
    }
    tracing::debug!(consumer = index, "consumer stopped");
}

/// A dedicated connection: a blocking BLMOVE would stall every other user of
/// a shared one. No response timeout of its own, because BLMOVE legitimately
/// waits; `JobQueue::take` bounds each call instead.
async fn connect(ctx: &WorkerContext) -> Result<MultiplexedConnection, RedisError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(REDIS_TIMEOUT))
        .set_response_timeout(None);
    let client = ctx.queue.redis().client();
    tokio::time::timeout(
        REDIS_TIMEOUT * 2,
        client.get_multiplexed_async_connection_with_config(&config),
    )
    .await
    .map_err(|_| RedisError::Timeout(REDIS_TIMEOUT * 2))?
    .map_err(RedisError::from)
}
