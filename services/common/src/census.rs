//! Tasks created since a time, by status, counted in PostgreSQL: how a drill tells a lost
//! task from a slow one (the database is the truth, not the queue). The local
//! environment's daemon and the API's admin route count with the same query.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaskCensus {
    pub since: DateTime<Utc>,
    pub pending: u64,
    pub queued: u64,
    pub running: u64,
    pub done: u64,
    pub failed: u64,
}

impl TaskCensus {
    pub fn total(&self) -> u64 {
        self.pending + self.queued + self.running + self.done + self.failed
    }

    /// Runs requested and not finished: what a drill counts as lost if it stays so.
    pub fn in_flight(&self) -> u64 {
        self.queued + self.running
    }

    /// DONE or FAILED.
    pub fn terminal(&self) -> u64 {
        self.done + self.failed
    }
}

/// Counts the tasks created at or after `since`.
pub async fn count<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    since: DateTime<Utc>,
) -> sqlx::Result<TaskCensus> {
    let counts = sqlx::query_as::<_, (String, i64)>(
        "SELECT status, count(*) FROM tasks WHERE created_at >= $1 GROUP BY status",
    )
    .bind(since)
    .fetch_all(executor)
    .await?;
    let mut census = TaskCensus {
        since,
        ..TaskCensus::default()
    };
    for (status, count) in counts {
        let count = u64::try_from(count).unwrap_or_default();
        match status.as_str() {
            "PENDING" => census.pending = count,
            "QUEUED" => census.queued = count,
            "RUNNING" => census.running = count,
            "DONE" => census.done = count,
            "FAILED" => census.failed = count,
            other => tracing::warn!(status = other, "unknown task status in the census"),
        }
    }
    Ok(census)
}
