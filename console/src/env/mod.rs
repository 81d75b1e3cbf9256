//! The environments the console operates, behind one trait: `local` today, `kubernetes`
//! next. Views, verbs and drills see only [`Environment`] and [`AnyEnvironment`]; the
//! `local` module is named only by `up`, `down` and the daemon's entry point (a test in
//! `tests/boundary.rs` keeps it so).

mod any;
mod capabilities;
pub mod connect;
pub mod kubernetes;
pub mod local;
mod records;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use any::AnyEnvironment;
pub use capabilities::{ChaosSupport, Permissions, Support, Verb};
pub use connect::{EnvArgs, EnvKind, NotRunning};
pub use records::Records;

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

/// One reading of the environment's status, or why there is none.
pub type StatusReading = Result<EnvironmentStatus, StatusError>;

/// Why a status reading failed: nothing runs there, or it did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusError {
    NotRunning(String),
    Failed(String),
}

/// What the console asks of an environment, whichever it is. The rollout verbs have
/// the semantics of `kubectl argo rollouts`, so a Kubernetes implementation patches the
/// Rollout object where the local one drives its own router and supervisor; each
/// answers with the rollout as it stands right after the verb took effect.
///
/// Every call fails fast with a message when the environment is not there (an error
/// that downcasts to [`NotRunning`]), and works again once it is back.
pub trait Environment: Clone + Send + Sync + 'static {
    /// `local` or `kubernetes`, as shown to the operator.
    fn name(&self) -> &'static str;

    /// Where it is, in words: the state directory, or a context and namespace.
    fn location(&self) -> String;

    /// Where the operator's own records (audit log, drill reports) are kept.
    fn records(&self) -> &Records;

    /// What the operator may do here, and why not ("read-only mode", RBAC).
    fn permissions(&self) -> impl Future<Output = Permissions> + Send;

    /// Which chaos primitives this environment offers, and why the others are missing.
    fn chaos_support(&self) -> ChaosSupport;

    /// The Prometheus base URL metrics can be read from, when there is one.
    fn metrics_url(&self) -> impl Future<Output = anyhow::Result<Option<String>>> + Send;

    /// A snapshot of instances, queue depth, traffic split and rollout.
    fn status(&self) -> impl Future<Output = anyhow::Result<EnvironmentStatus>> + Send;

    /// Status readings until `stop`: at once, then whenever the environment changes (or,
    /// where it cannot tell, every `every`). Bounded: a slow reader gets fewer readings.
    fn watch_status(
        &self,
        every: Duration,
        stop: CancellationToken,
    ) -> mpsc::Receiver<StatusReading>;

    /// The instances (processes or pods) of every workload.
    fn instances(&self) -> impl Future<Output = anyhow::Result<Vec<InstanceStatus>>> + Send {
        async { Ok(self.status().await?.instances) }
    }

    /// Every SLO with its SLI, budget, burn rates and alert, from the source asked for.
    fn slo(&self, query: SloQuery) -> impl Future<Output = anyhow::Result<SloReport>> + Send;

    /// The API's rollout: steps, current step, weight, pause/abort state, analysis, revisions.
    fn rollout(&self) -> impl Future<Output = anyhow::Result<RolloutStatus>> + Send;

    /// Makes `name` the rollout that readings show and the verbs act on, where the
    /// environment has several (a namespace with more than one Rollout).
    fn choose_rollout(&self, name: &str) -> anyhow::Result<()> {
        anyhow::bail!(
            "the {} environment has one rollout; there is no {name:?} to choose",
            self.name()
        )
    }

    /// Starts a canary of `revision` with these environment overrides.
    fn start_rollout(
        &self,
        revision: &str,
        overrides: &BTreeMap<String, String>,
    ) -> impl Future<Output = anyhow::Result<RolloutStatus>> + Send;

    /// Ends the current pause or skips the current step; `full` skips to 100%.
    fn promote(&self, full: bool) -> impl Future<Output = anyhow::Result<RolloutStatus>> + Send;

    /// All traffic back to stable, canary stopped.
    fn abort(&self) -> impl Future<Output = anyhow::Result<RolloutStatus>> + Send;

    /// Restarts an aborted rollout from its first step.
    fn retry(&self) -> impl Future<Output = anyhow::Result<RolloutStatus>> + Send;

    /// Makes the previous stable revision (or `to`) the stable one again.
    fn undo(&self, to: Option<&str>) -> impl Future<Output = anyhow::Result<RolloutStatus>> + Send;

    /// Kills one instance with no grace (SIGKILL, a pod delete with grace 0), or a random
    /// one among those the request matches; it is replaced like any crash.
    fn kill(&self, request: &KillRequest) -> impl Future<Output = anyhow::Result<Killed>> + Send;

    /// Stops one instance gracefully and starts it again.
    fn restart_instance(&self, name: &str) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// The chaos in force and the recent history.
    fn chaos_status(&self) -> impl Future<Output = anyhow::Result<ChaosStatus>> + Send;

    /// Makes a dependency unavailable; it comes back by itself at `ends_at`.
    fn outage(
        &self,
        request: &OutageRequest,
    ) -> impl Future<Output = anyhow::Result<Outage>> + Send;

    /// Injects API errors and latency; the API ends it by itself.
    fn fault(
        &self,
        request: &FaultRequest,
    ) -> impl Future<Output = anyhow::Result<FaultReport>> + Send;

    /// Depth, oldest ready job's age and processed totals.
    fn queue_overview(&self) -> impl Future<Output = anyhow::Result<QueueOverview>> + Send;

    /// The newest `limit` dead letters and their total.
    fn dead_letters(
        &self,
        limit: usize,
    ) -> impl Future<Output = anyhow::Result<DeadLetters>> + Send;

    /// Gives dead-lettered tasks a fresh run (one, or all of them).
    fn requeue(
        &self,
        request: &RequeueRequest,
    ) -> impl Future<Output = anyhow::Result<RequeueReport>> + Send;

    /// Tasks created since `since`, by status, as the source of truth counts them: how a
    /// drill knows that nothing was lost.
    fn task_census(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = anyhow::Result<TaskCensus>> + Send;

    /// Parsed log lines of the workloads asked for, following instances as they come and
    /// go, until `stop`. The channel is bounded: when the reader falls behind, the
    /// stream waits and the sources hold the backlog.
    fn logs(&self, request: LogRequest, stop: CancellationToken) -> mpsc::Receiver<LogBatch>;

    /// Tells the environment's own audience what an operator did (a cluster records a
    /// Kubernetes Event on the object changed); the audit log is written either way.
    fn announce(
        &self,
        action: &str,
        target: &str,
        outcome: &Outcome,
    ) -> impl Future<Output = ()> + Send {
        let _ = (action, target, outcome);
        async {}
    }

    /// Starts the environment when the console may do that here; the progress lines
    /// go to `progress`.
    fn bring_up(
        &self,
        progress: mpsc::Sender<String>,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
}
