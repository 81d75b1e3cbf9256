//! The chaos verbs and the task census as typed calls to the local daemon.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use super::ControlClient;
use crate::chaos::{
    ChaosStatus, FaultReport, FaultRequest, KillRequest, Killed, Outage, OutageRequest, TaskCensus,
};

/// Stopping PostgreSQL (a fast shutdown) can take a few seconds; the others answer at once.
const OUTAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Every API instance is asked in parallel, each within a few seconds.
const FAULT_TIMEOUT: Duration = Duration::from_secs(15);

impl ControlClient {
    pub async fn chaos_status(&self) -> anyhow::Result<ChaosStatus> {
        self.get("/chaos").await
    }

    pub async fn chaos_kill(&self, request: &KillRequest) -> anyhow::Result<Killed> {
        self.post("/chaos/kill", request, None).await
    }

    /// Returns once the dependency is down; the daemon brings it back at `ends_at`.
    pub async fn chaos_outage(&self, request: &OutageRequest) -> anyhow::Result<Outage> {
        self.post("/chaos/outage", request, Some(OUTAGE_TIMEOUT))
            .await
    }

    pub async fn chaos_fault(&self, request: &FaultRequest) -> anyhow::Result<FaultReport> {
        self.post("/chaos/fault", request, Some(FAULT_TIMEOUT))
            .await
    }

    /// Tasks created since `since`, by status, counted in the database.
    pub async fn task_census(&self, since: DateTime<Utc>) -> anyhow::Result<TaskCensus> {
        // `Z`, not `+00:00`: nothing in the query string needs escaping.
        let since = since.to_rfc3339_opts(SecondsFormat::Micros, true);
        self.get(&format!("/tasks/census?since={since}")).await
    }
}
