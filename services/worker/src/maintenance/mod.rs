//! Periodic chores that keep the queue honest: heartbeat, promoter, reaper,
//! reconciler and cleanup, each in its own loop.
//!
//! Chores that need doing once per fleet, not once per worker, take a short
//! Redis lock first (`JobQueue::try_lock`, expiring after one period), so with
//! many workers one of them runs each chore per period.

mod cleanup;
mod heartbeat;
mod promoter;
mod reaper;
mod reconciler;

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

pub use cleanup::cleanup;
pub use heartbeat::heartbeat;
pub use promoter::promoter;
pub use reaper::reaper;
pub use reconciler::reconciler;

/// Runs `chore` every `period` until `stop`; logs when it starts failing and
/// when it recovers, not on every failed tick, so an outage does not flood
/// the logs at the promoter's 4 Hz.
async fn every<F, Fut, E>(
    name: &'static str,
    period: Duration,
    stop: CancellationToken,
    mut chore: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.cancelled() => break,
        }
        match chore().await {
            Ok(()) if failing => {
                failing = false;
                tracing::info!(chore = name, "chore recovered");
            }
            Ok(()) => {}
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(chore = name, error = %e, "chore failed; will try again every period");
            }
            Err(e) => tracing::debug!(chore = name, error = %e, "chore still failing"),
        }
    }
}

/// Chore errors come from either store.
#[derive(Debug, thiserror::Error)]
enum ChoreError {
    #[error(transparent)]
    Redis(#[from] opsbox_common::redis_conn::RedisError),
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
}

/// A lock held for slightly less than a period, so the next tick of the
/// same worker finds it expired instead of skipping a whole period.
fn lock_ttl(period: Duration) -> Duration {
    period.mul_f64(0.9)
}
