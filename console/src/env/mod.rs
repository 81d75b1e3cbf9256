//! The environments the console operates behind one trait: today `local`, later `kubernetes`.

pub mod local;

use std::future::Future;

/// Which revision an instance serves: one type for the services' metric
/// label and the console's routing.
pub use opsbox_common::config::Track;

use std::collections::BTreeMap;

use crate::chaos::Killed;
use crate::model::slo::{SloQuery, SloReport};
use crate::model::{EnvironmentStatus, RolloutStatus};

/// What the console asks of an environment, whichever it is. The rollout verbs have
/// the semantics of `kubectl argo rollouts`, so a Kubernetes implementation patches the
/// Rollout object where the local one drives its own router and supervisor; each
/// answers with the rollout as it stands right after the verb took effect.
pub trait Environment {
    /// `local` or `kubernetes`, as shown to the operator.
    fn name(&self) -> &'static str;

    /// A snapshot of instances, queue depth, traffic split and rollout.
    fn status(&self) -> impl Future<Output = anyhow::Result<EnvironmentStatus>> + Send;

    /// Every SLO with its SLI, budget, burn rates and alert, from the source asked for.
    fn slo(&self, query: SloQuery) -> impl Future<Output = anyhow::Result<SloReport>> + Send;

    /// The API's rollout: steps, current step, weight, pause/abort state, analysis, revisions.
    fn rollout(&self) -> impl Future<Output = anyhow::Result<RolloutStatus>> + Send;

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

    /// SIGKILLs one instance (a pod delete with no grace); it is restarted like any crash.
    fn kill_instance(&self, name: &str) -> impl Future<Output = anyhow::Result<Killed>> + Send;

    /// Stops one instance gracefully and starts it again.
    fn restart_instance(&self, name: &str) -> impl Future<Output = anyhow::Result<()>> + Send;
}
