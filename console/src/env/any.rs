//! The environment chosen on the command line, as one type every view, verb and drill
//! takes. A new environment is a new variant here and in `connect`; nothing else changes.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::kubernetes::KubernetesEnvironment;
use super::local::LocalEnvironment;
use super::{ChaosSupport, Environment, Permissions, Records, StatusReading};
use crate::audit::Outcome;
use crate::chaos::{
    ChaosStatus, FaultReport, FaultRequest, KillRequest, Killed, Outage, OutageRequest, TaskCensus,
};
use crate::model::logs::{LogBatch, LogRequest};
use crate::model::slo::{SloQuery, SloReport};
use crate::model::{
    DeadLetters, EnvironmentStatus, InstanceStatus, QueueOverview, RequeueReport, RequeueRequest,
    RolloutStatus,
};

#[derive(Debug, Clone)]
pub enum AnyEnvironment {
    Local(LocalEnvironment),
    Kubernetes(KubernetesEnvironment),
}

/// Calls the same method on whichever environment this is.
macro_rules! each {
    ($self:ident, $env:ident => $call:expr) => {
        match $self {
            AnyEnvironment::Local($env) => $call,
            AnyEnvironment::Kubernetes($env) => $call,
        }
    };
}

impl Environment for AnyEnvironment {
    fn name(&self) -> &'static str {
        each!(self, env => env.name())
    }

    fn location(&self) -> String {
        each!(self, env => env.location())
    }

    fn records(&self) -> &Records {
        each!(self, env => env.records())
    }

    async fn permissions(&self) -> Permissions {
        each!(self, env => env.permissions().await)
    }

    fn chaos_support(&self) -> ChaosSupport {
        each!(self, env => env.chaos_support())
    }

    async fn metrics_url(&self) -> anyhow::Result<Option<String>> {
        each!(self, env => env.metrics_url().await)
    }

    async fn status(&self) -> anyhow::Result<EnvironmentStatus> {
        each!(self, env => env.status().await)
    }

    fn watch_status(
        &self,
        every: Duration,
        stop: CancellationToken,
    ) -> mpsc::Receiver<StatusReading> {
        each!(self, env => env.watch_status(every, stop))
    }

    async fn instances(&self) -> anyhow::Result<Vec<InstanceStatus>> {
        each!(self, env => env.instances().await)
    }

    async fn slo(&self, query: SloQuery) -> anyhow::Result<SloReport> {
        each!(self, env => env.slo(query).await)
    }

    fn choose_rollout(&self, name: &str) -> anyhow::Result<()> {
        each!(self, env => env.choose_rollout(name))
    }

    async fn rollout(&self) -> anyhow::Result<RolloutStatus> {
        each!(self, env => env.rollout().await)
    }

    async fn start_rollout(
        &self,
        revision: &str,
        overrides: &BTreeMap<String, String>,
    ) -> anyhow::Result<RolloutStatus> {
        each!(self, env => env.start_rollout(revision, overrides).await)
    }

    async fn promote(&self, full: bool) -> anyhow::Result<RolloutStatus> {
        each!(self, env => env.promote(full).await)
    }

    async fn abort(&self) -> anyhow::Result<RolloutStatus> {
        each!(self, env => env.abort().await)
    }

    async fn retry(&self) -> anyhow::Result<RolloutStatus> {
        each!(self, env => env.retry().await)
    }

    async fn undo(&self, to: Option<&str>) -> anyhow::Result<RolloutStatus> {
        each!(self, env => env.undo(to).await)
    }

    async fn kill(&self, request: &KillRequest) -> anyhow::Result<Killed> {
        each!(self, env => env.kill(request).await)
    }

    async fn restart_instance(&self, name: &str) -> anyhow::Result<()> {
        each!(self, env => env.restart_instance(name).await)
    }

    async fn chaos_status(&self) -> anyhow::Result<ChaosStatus> {
        each!(self, env => env.chaos_status().await)
    }

    async fn outage(&self, request: &OutageRequest) -> anyhow::Result<Outage> {
        each!(self, env => env.outage(request).await)
    }

    async fn fault(&self, request: &FaultRequest) -> anyhow::Result<FaultReport> {
        each!(self, env => env.fault(request).await)
    }

    async fn queue_overview(&self) -> anyhow::Result<QueueOverview> {
        each!(self, env => env.queue_overview().await)
    }

    async fn dead_letters(&self, limit: usize) -> anyhow::Result<DeadLetters> {
        each!(self, env => env.dead_letters(limit).await)
    }

    async fn requeue(&self, request: &RequeueRequest) -> anyhow::Result<RequeueReport> {
        each!(self, env => env.requeue(request).await)
    }

    async fn task_census(&self, since: DateTime<Utc>) -> anyhow::Result<TaskCensus> {
        each!(self, env => env.task_census(since).await)
    }

    fn logs(&self, request: LogRequest, stop: CancellationToken) -> mpsc::Receiver<LogBatch> {
        each!(self, env => env.logs(request, stop))
    }

    async fn announce(&self, action: &str, target: &str, outcome: &Outcome) {
        each!(self, env => env.announce(action, target, outcome).await)
    }

    async fn bring_up(&self, progress: mpsc::Sender<String>) -> anyhow::Result<()> {
        each!(self, env => env.bring_up(progress).await)
    }
}
