//! The release's objects at one moment, and the environment status computed from them.
//! The same computation serves a one-shot `status` (one list per kind) and the console's
//! watch (the reflector stores), so both front ends read the cluster alike.

use std::sync::Arc;

use chrono::Utc;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::DynamicObject;

use super::argo::AnalysisRun;
use super::argo::Rollout;
use super::{pods, rollout_events, rollout_info, scalers, time, workload, Cluster};
use crate::model::{EnvironmentPhase, EnvironmentStatus};

/// Pods are shared with the watch store (thousands of them are never copied); the other
/// kinds are a handful per release.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub rollouts: Vec<Rollout>,
    pub deployments: Vec<Deployment>,
    pub replica_sets: Vec<ReplicaSet>,
    pub analysis_runs: Vec<AnalysisRun>,
    pub pods: Vec<Arc<Pod>>,
    pub autoscalers: Vec<HorizontalPodAutoscaler>,
    pub scaled_objects: Vec<DynamicObject>,
    /// Events on Rollouts: their history.
    pub events: Vec<Arc<Event>>,
}

impl Snapshot {
    /// One list request per kind.
    pub async fn list(cluster: &Cluster) -> anyhow::Result<Self> {
        let (
            rollouts,
            deployments,
            replica_sets,
            analysis_runs,
            pods,
            autoscalers,
            scaled_objects,
            events,
        ) = tokio::try_join!(
            workload::list_rollouts(cluster),
            workload::list_deployments(cluster),
            workload::replica_sets(cluster),
            workload::analysis_runs(cluster),
            pods::list(cluster),
            scalers::list_autoscalers(cluster),
            scalers::list_scaled_objects(cluster),
            rollout_events::list(cluster),
        )?;
        Ok(Self {
            rollouts,
            deployments,
            replica_sets,
            analysis_runs,
            pods: pods.into_iter().map(Arc::new).collect(),
            autoscalers,
            scaled_objects,
            events: events.into_iter().map(Arc::new).collect(),
        })
    }

    pub fn status(
        self,
        cluster: &Cluster,
        prometheus_url: Option<String>,
    ) -> anyhow::Result<EnvironmentStatus> {
        let now = Utc::now();
        let found = workload::choose(cluster, self.rollouts, self.deployments)?;
        let (rollout, hashes) = match &found {
            workload::ApiWorkload::Rollout(rollout) => (
                crate::model::RolloutStatus {
                    events: rollout_events::history(
                        self.events.iter().map(AsRef::as_ref),
                        rollout.name(),
                    ),
                    ..rollout_info::rollout_status(
                        rollout,
                        &self.replica_sets,
                        &self.analysis_runs,
                        now,
                    )
                },
                pods::Hashes {
                    stable: rollout.status.stable_rs.clone(),
                    canary: rollout.status.current_pod_hash.clone(),
                },
            ),
            workload::ApiWorkload::Deployment(deployment) => (
                workload::deployment_status(deployment, &self.replica_sets, now),
                pods::Hashes::default(),
            ),
        };
        let started_at = self
            .pods
            .iter()
            .filter_map(|pod| pod.metadata.creation_timestamp.as_ref())
            .map(|created| time::to_chrono(created.0))
            .min()
            .unwrap_or(now);
        let mut instances: Vec<_> = self
            .pods
            .iter()
            .map(|pod| pods::instance(pod, &hashes))
            .collect();
        // Watch stores are unordered; the table should not reshuffle between readings.
        instances.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(EnvironmentStatus {
            environment: format!("{}/{}", cluster.context, cluster.namespace),
            phase: EnvironmentPhase::Ready,
            started_at,
            state_dir: None,
            instances,
            queue: None,
            router: None,
            rollout: Some(rollout),
            prometheus_url,
            scalers: scalers::scalers(&self.autoscalers, &self.scaled_objects),
        })
    }
}
