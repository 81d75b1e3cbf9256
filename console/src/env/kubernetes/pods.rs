//! OpsBox's pods as instances: workload from the chart's component label, track from the
//! Rollout's stable and canary pod-template hashes, state as `kubectl get pods` reads it.
//! A kill is a delete with no grace (the ReplicaSet replaces the pod); a restart is a
//! graceful delete.

use chrono::Utc;
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use kube::api::{DeleteParams, ListParams};
use kube::Api;
use rand::seq::IndexedRandom;

use super::argo::POD_TEMPLATE_HASH_LABEL;
use super::errors::within;
use super::stores::MAX_PODS;
use super::workload::WORKLOAD_SELECTOR;
use super::Cluster;
use crate::chaos::{KillRequest, Killed};
use crate::model::{InstanceState, InstanceStatus};
use opsbox_common::config::Track;

/// The stable and canary pod-template hashes, when a Rollout tells them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hashes {
    pub stable: String,
    pub canary: String,
}

pub fn api(cluster: &Cluster) -> Api<Pod> {
    Api::namespaced(cluster.client.clone(), &cluster.namespace)
}

/// The release's pods, at most [`MAX_PODS`] of them (one page more says there are more).
pub async fn list(cluster: &Cluster) -> anyhow::Result<Vec<Pod>> {
    let page = u32::try_from(MAX_PODS + 1).unwrap_or(u32::MAX);
    let pods = within(
        "list pods",
        &cluster.server,
        api(cluster).list(&ListParams::default().labels(WORKLOAD_SELECTOR).limit(page)),
    )
    .await?
    .items;
    anyhow::ensure!(
        pods.len() <= MAX_PODS,
        "more than {MAX_PODS} OpsBox pods in namespace {}: too many to show",
        cluster.namespace
    );
    Ok(pods)
}

/// Up to `limit` pods of one workload, and how many more the API server says there are:
/// what the log follower needs, without listing a namespace of thousands each time.
pub async fn list_some(
    cluster: &Cluster,
    workload: &str,
    limit: u32,
) -> anyhow::Result<(Vec<Pod>, u64)> {
    let selector = format!("app.kubernetes.io/name=opsbox,app.kubernetes.io/component={workload}");
    let page = within(
        "list pods",
        &cluster.server,
        api(cluster).list(&ListParams::default().labels(&selector).limit(limit)),
    )
    .await?;
    let more = page.metadata.remaining_item_count.unwrap_or(0);
    Ok((page.items, u64::try_from(more).unwrap_or(0)))
}

/// The release's pods of one component (`postgres`, `redis`).
pub async fn list_component(cluster: &Cluster, component: &str) -> anyhow::Result<Vec<Pod>> {
    let selector = format!("app.kubernetes.io/name=opsbox,app.kubernetes.io/component={component}");
    Ok(within(
        "list pods",
        &cluster.server,
        api(cluster).list(&ListParams::default().labels(&selector)),
    )
    .await?
    .items)
}

fn label<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata.labels.as_ref()?.get(key).map(String::as_str)
}

pub fn workload_of(pod: &Pod) -> String {
    label(pod, "app.kubernetes.io/component")
        .unwrap_or("unknown")
        .to_owned()
}

pub fn track_of(pod: &Pod, hashes: &Hashes) -> Track {
    let hash = label(pod, POD_TEMPLATE_HASH_LABEL).unwrap_or_default();
    if !hash.is_empty() && hash == hashes.canary && hashes.canary != hashes.stable {
        Track::Canary
    } else {
        Track::Stable
    }
}

/// One pod as the instances table shows it. The pod IP is shown, never dialled.
pub fn instance(pod: &Pod, hashes: &Hashes) -> InstanceStatus {
    // Borrowed, not cloned: a reading computes thousands of these.
    let no_status = PodStatus::default();
    let status = pod.status.as_ref().unwrap_or(&no_status);
    let containers = status.container_statuses.as_deref().unwrap_or_default();
    let restarts = containers
        .iter()
        .map(|container| u32::try_from(container.restart_count.max(0)).unwrap_or(u32::MAX))
        .sum();
    let ready = status
        .conditions
        .iter()
        .flatten()
        .any(|condition| condition.type_ == "Ready" && condition.status == "True");
    let waiting = containers
        .iter()
        .filter_map(|container| container.state.as_ref()?.waiting.as_ref())
        .find_map(|waiting| waiting.reason.clone());
    let terminated = containers
        .iter()
        .filter_map(|container| container.last_state.as_ref()?.terminated.as_ref())
        .map(|terminated| {
            format!(
                "exit {}{}",
                terminated.exit_code,
                terminated
                    .reason
                    .as_deref()
                    .map(|reason| format!(" ({reason})"))
                    .unwrap_or_default()
            )
        })
        .next();
    let phase = status.phase.as_deref().unwrap_or("Pending");
    let state = if pod.metadata.deletion_timestamp.is_some() {
        InstanceState::Stopped
    } else if waiting.as_deref() == Some("CrashLoopBackOff") {
        InstanceState::Backoff
    } else if phase == "Failed" {
        InstanceState::Failed
    } else if phase == "Running" && ready {
        InstanceState::Running
    } else {
        InstanceState::Starting
    };
    let image = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.containers.first())
        .and_then(|container| container.image.as_deref())
        .unwrap_or("?");
    InstanceStatus {
        name: pod.metadata.name.clone().unwrap_or_default(),
        workload: workload_of(pod),
        track: track_of(pod, hashes),
        revision: super::rollout_info::image_tag(image).to_owned(),
        pid: None,
        state,
        restarts,
        uptime_secs: status.start_time.as_ref().and_then(|start| {
            u64::try_from((Utc::now() - super::time::to_chrono(start.0)).num_seconds()).ok()
        }),
        address: status.pod_ip.clone(),
        log_file: None,
        last_exit: terminated,
        last_error: waiting.filter(|reason| reason != "ContainerCreating"),
    }
}

/// The pod a kill request means: the one named, or a random one among those matching.
pub fn choose<'a>(
    pods: &'a [Pod],
    request: &KillRequest,
    hashes: &Hashes,
) -> anyhow::Result<&'a Pod> {
    let live: Vec<&Pod> = pods
        .iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .collect();
    if let Some(name) = &request.instance {
        return live
            .into_iter()
            .find(|pod| pod.metadata.name.as_deref() == Some(name))
            .ok_or_else(|| anyhow::anyhow!("there is no live OpsBox pod named {name}"));
    }
    let matching: Vec<&Pod> = live
        .into_iter()
        .filter(|pod| {
            request
                .workload
                .as_deref()
                .is_none_or(|w| workload_of(pod) == w)
        })
        .filter(|pod| request.track.is_none_or(|t| track_of(pod, hashes) == t))
        .collect();
    matching
        .choose(&mut rand::rng())
        .copied()
        .ok_or_else(|| anyhow::anyhow!("no live OpsBox pod matches this kill request"))
}

/// Deletes the pod with no grace: SIGKILL, as a crash.
pub async fn kill(cluster: &Cluster, pod: &Pod, hashes: &Hashes) -> anyhow::Result<Killed> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    within(
        &format!("delete pod {name}"),
        &cluster.server,
        api(cluster).delete(&name, &DeleteParams::default().grace_period(0)),
    )
    .await?;
    Ok(Killed {
        instance: name,
        workload: workload_of(pod),
        track: track_of(pod, hashes),
        pid: None,
        at: Utc::now(),
    })
}

/// Deletes the pod with its grace period: the app drains, the ReplicaSet replaces it.
pub async fn restart(cluster: &Cluster, name: &str) -> anyhow::Result<()> {
    within(
        &format!("delete pod {name}"),
        &cluster.server,
        api(cluster).delete(name, &DeleteParams::default()),
    )
    .await?;
    Ok(())
}
