//! The queue routes of the local daemon as typed calls.

use std::time::Duration;

use super::ControlClient;
use crate::model::{DeadLetters, QueueOverview, RequeueReport, RequeueRequest};

/// A requeue writes to PostgreSQL and Redis for each letter; the daemon bounds it at 30 s.
const REQUEUE_TIMEOUT: Duration = Duration::from_secs(35);

impl ControlClient {
    /// Depth, oldest ready job's age and processed totals.
    pub async fn queue_overview(&self) -> anyhow::Result<QueueOverview> {
        self.get("/queue").await
    }

    /// The newest `limit` dead letters (the daemon accepts 1 to 1000).
    pub async fn dead_letters(&self, limit: usize) -> anyhow::Result<DeadLetters> {
        self.get(&format!("/queue/dead?limit={limit}")).await
    }

    /// Gives dead-lettered tasks a fresh run; the caller writes the audit entry.
    pub async fn requeue_dead(&self, request: &RequeueRequest) -> anyhow::Result<RequeueReport> {
        self.post("/queue/dead/requeue", request, Some(REQUEUE_TIMEOUT))
            .await
    }
}
