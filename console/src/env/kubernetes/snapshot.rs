//! The release's objects at one moment, and the environment status computed from them.
//! The same computation serves a one-shot `status` (one list per kind) and the console's
//! watch (the reflector stores), so both front ends read the cluster alike.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::DynamicObject;

use super::argo::AnalysisRun;
use super::argo::Rollout;
use super::{pods, rollout_events, rollout_info, scalers, time, workload, Cluster};
use crate::model::{EnvironmentPhase, EnvironmentStatus, InstanceStatus};

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
        self.status_with(cluster, prometheus_url, &mut InstanceCache::default())
    }

    /// The status, the instances taken from `cache` when no pod changed since it was
    /// filled: at rest a reading of thousands of pods costs a clone, not a rebuild.
    pub fn status_with(
        self,
        cluster: &Cluster,
        prometheus_url: Option<String>,
        cache: &mut InstanceCache,
    ) -> anyhow::Result<EnvironmentStatus> {
        let now = Utc::now();
        let choices = workload::choices(&self.rollouts);
        let found = workload::choose(
            cluster,
            self.rollouts,
            self.deployments,
            workload::Several::ShowFirst,
        )?;
        let (rollout, hashes) = match &found {
            workload::ApiWorkload::Rollout(rollout) => (
                crate::model::RolloutStatus {
                    choices,
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
        let instances = cache.instances(&self.pods, hashes, now);
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

/// The instances of the last reading, and the pods they were computed from.
#[derive(Debug, Default)]
pub struct InstanceCache {
    /// The pods of the last reading, held so that their addresses cannot be reused: a
    /// watch store replaces a pod's `Arc` when the pod changes, so the same addresses
    /// (sorted) mean the same pods at the same versions, with no hashing of thousands
    /// of strings.
    _held: Vec<Arc<Pod>>,
    addresses: Vec<usize>,
    hashes: pods::Hashes,
    computed_at: Option<DateTime<Utc>>,
    instances: Vec<InstanceStatus>,
}

impl InstanceCache {
    fn instances(
        &mut self,
        pods: &[Arc<Pod>],
        hashes: pods::Hashes,
        now: DateTime<Utc>,
    ) -> Vec<InstanceStatus> {
        let addresses = addresses(pods);
        if let Some(at) = self.computed_at {
            if addresses == self.addresses && hashes == self.hashes {
                let elapsed = u64::try_from((now - at).num_seconds()).unwrap_or(0);
                return self
                    .instances
                    .iter()
                    .map(|instance| InstanceStatus {
                        uptime_secs: instance.uptime_secs.map(|secs| secs + elapsed),
                        ..instance.clone()
                    })
                    .collect();
            }
        }
        let mut instances: Vec<_> = pods
            .iter()
            .map(|pod| pods::instance(pod, &hashes))
            .collect();
        // Watch stores are unordered; the table should not reshuffle between readings.
        instances.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        *self = Self {
            _held: pods.to_vec(),
            addresses,
            hashes,
            computed_at: Some(now),
            instances: instances.clone(),
        };
        instances
    }
}

fn addresses(pods: &[Arc<Pod>]) -> Vec<usize> {
    let mut addresses: Vec<usize> = pods.iter().map(|pod| Arc::as_ptr(pod) as usize).collect();
    addresses.sort_unstable();
    addresses
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, version: &str) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "uid": format!("uid-{name}"), "resourceVersion": version,
                    "labels": {"app.kubernetes.io/component": "worker"}},
                "status": {"phase": "Running", "startTime": "2026-12-07T00:00:00Z",
                    "conditions": [{"type": "Ready", "status": "True"}]}
            }))
            .expect("a pod"),
        )
    }

    #[test]
    fn unchanged_pods_are_not_read_again_and_their_uptime_still_moves() {
        let mut cache = InstanceCache::default();
        let at = |secs| {
            "2026-12-07T01:00:00Z".parse::<DateTime<Utc>>().unwrap()
                + chrono::Duration::seconds(secs)
        };
        let pods = vec![pod("w-2", "7"), pod("w-1", "5")];
        let first = cache.instances(&pods, pods::Hashes::default(), at(0));
        assert_eq!(
            first.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
            ["w-1", "w-2"]
        );
        let computed = cache.computed_at;

        // The same pods in another order, ten seconds on: the cached rows, ten seconds older.
        let again = cache.instances(
            &[pods[1].clone(), pods[0].clone()],
            pods::Hashes::default(),
            at(10),
        );
        assert_eq!(cache.computed_at, computed, "nothing was recomputed");
        let uptime =
            |rows: &[InstanceStatus]| rows.iter().map(|i| i.uptime_secs).collect::<Vec<_>>();
        assert!(uptime(&first).iter().all(Option::is_some));
        assert_eq!(
            uptime(&again),
            uptime(&first)
                .iter()
                .map(|u| u.map(|s| s + 10))
                .collect::<Vec<_>>()
        );

        // One pod changed (the store holds a new `Arc`): everything is read again.
        let changed = vec![pod("w-2", "8"), pods[1].clone()];
        cache.instances(&changed, pods::Hashes::default(), at(20));
        assert_eq!(cache.computed_at, Some(at(20)));
        // New revision hashes change the tracks: read again.
        let canary = pods::Hashes {
            stable: "a".to_owned(),
            canary: "b".to_owned(),
        };
        cache.instances(&changed, canary, at(30));
        assert_eq!(cache.computed_at, Some(at(30)));
    }
}
