//! The API's workload in the namespace: an Argo Rollout (the chart's default) or a plain
//! Deployment (`argoRollouts.enabled=false`), found by the chart's labels, and read into
//! the console's rollout model.

use std::sync::{Arc, PoisonError, RwLock};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{DynamicObject, ListParams};
use kube::Api;

use super::argo::{self, AnalysisRun, Rollout};
use super::errors::within;
use super::rollout_info;
use super::Cluster;
use crate::env::NotRunning;
use crate::model::{Revision, RolloutPhase, RolloutStatus};

/// The chart's API pods, ReplicaSets, Rollouts and Deployments carry these.
pub const API_SELECTOR: &str = "app.kubernetes.io/name=opsbox,app.kubernetes.io/component=api";

/// Every OpsBox workload's pods.
pub const WORKLOAD_SELECTOR: &str =
    "app.kubernetes.io/name=opsbox,app.kubernetes.io/component in (api,worker)";

/// How the API is deployed.
#[derive(Debug, Clone)]
pub enum ApiWorkload {
    Rollout(Box<Rollout>),
    /// No Argo Rollouts here (or the chart says so): steps and the rollout verbs are
    /// not available, restart and undo are.
    Deployment(Box<Deployment>),
}

pub fn rollouts(cluster: &Cluster) -> Api<DynamicObject> {
    Api::namespaced_with(
        cluster.client.clone(),
        &cluster.namespace,
        &argo::rollout_resource(),
    )
}

pub fn to_rollout(object: DynamicObject) -> anyhow::Result<Rollout> {
    let name = object.metadata.name.clone().unwrap_or_default();
    serde_json::to_value(object)
        .and_then(serde_json::from_value)
        .map_err(|error| anyhow::anyhow!("the Rollout {name} does not parse: {error}"))
}

/// Which Rollout the verbs act on when the namespace has several: `--rollout`, or the
/// one the console's Rollout view switched to. Every clone of a cluster shares it.
#[derive(Debug, Clone, Default)]
pub struct RolloutChoice(Arc<RwLock<Option<String>>>);

impl RolloutChoice {
    pub fn new(name: Option<String>) -> Self {
        Self(Arc::new(RwLock::new(name)))
    }

    pub fn get(&self) -> Option<String> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn set(&self, name: &str) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(name.to_owned());
    }
}

/// What to do when the namespace has several Rollouts and none was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Several {
    /// A verb must not guess which one it changes.
    Refuse,
    /// A reading shows the first by name, and names the others.
    ShowFirst,
}

/// The Rollout (or Deployment) the verbs act on: the one chosen, or the only API
/// workload in the namespace.
pub async fn find(cluster: &Cluster) -> anyhow::Result<ApiWorkload> {
    find_with(cluster, Several::Refuse)
        .await
        .map(|(workload, _)| workload)
}

/// The API workload, and every Rollout's name when there are several.
pub async fn find_with(
    cluster: &Cluster,
    several: Several,
) -> anyhow::Result<(ApiWorkload, Vec<String>)> {
    let rollouts = list_rollouts(cluster).await?;
    // Deployments are asked for only when no Rollout answers: one request less per verb.
    let settled = match cluster.rollout.get() {
        Some(wanted) => rollouts.iter().any(|rollout| rollout.name() == wanted),
        None => !rollouts.is_empty(),
    };
    let deployments = if settled {
        Vec::new()
    } else {
        list_deployments(cluster).await?
    };
    let names = choices(&rollouts);
    Ok((choose(cluster, rollouts, deployments, several)?, names))
}

/// The Rollouts' names, sorted, when there are several to choose from.
pub fn choices(rollouts: &[Rollout]) -> Vec<String> {
    if rollouts.len() < 2 {
        return Vec::new();
    }
    let mut names: Vec<String> = rollouts.iter().map(|r| r.name().to_owned()).collect();
    names.sort_unstable();
    names
}

/// The OpsBox Rollouts of the namespace; none when Argo Rollouts is not installed.
pub async fn list_rollouts(cluster: &Cluster) -> anyhow::Result<Vec<Rollout>> {
    let server = &cluster.server;
    let listed = tokio::time::timeout(
        super::errors::CALL_DEADLINE,
        rollouts(cluster).list(&ListParams::default().labels(API_SELECTOR)),
    )
    .await;
    match listed {
        Ok(Ok(list)) => list.items.into_iter().map(to_rollout).collect(),
        Ok(Err(error)) if super::errors::is_not_found(&error) => Ok(Vec::new()),
        Ok(Err(error)) => Err(super::errors::explain(error, "list rollouts", server)),
        Err(_) => Err(NotRunning(format!(
            "list rollouts: the API server at {server} did not answer within {:?}",
            super::errors::CALL_DEADLINE
        ))
        .into()),
    }
}

pub async fn list_deployments(cluster: &Cluster) -> anyhow::Result<Vec<Deployment>> {
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    Ok(within(
        "list deployments",
        &cluster.server,
        deployments.list(&ListParams::default().labels(API_SELECTOR)),
    )
    .await?
    .items)
}

/// The API workload among the release's Rollouts and Deployments: the one `--rollout`
/// names, else the only Rollout, else the only Deployment.
pub fn choose(
    cluster: &Cluster,
    mut rollouts: Vec<Rollout>,
    mut deployments: Vec<Deployment>,
    several: Several,
) -> anyhow::Result<ApiWorkload> {
    if let Some(wanted) = &cluster.rollout.get() {
        if let Some(at) = rollouts.iter().position(|rollout| rollout.name() == wanted) {
            return Ok(ApiWorkload::Rollout(Box::new(rollouts.swap_remove(at))));
        }
        if let Some(at) = deployments
            .iter()
            .position(|deployment| deployment.metadata.name.as_deref() == Some(wanted))
        {
            return Ok(ApiWorkload::Deployment(Box::new(
                deployments.swap_remove(at),
            )));
        }
        anyhow::bail!(
            "there is no Rollout or Deployment {wanted:?} of OpsBox in namespace {}",
            cluster.namespace
        );
    }
    match rollouts.len() {
        1 => return Ok(ApiWorkload::Rollout(Box::new(rollouts.remove(0)))),
        0 => {}
        _ if several == Several::ShowFirst => {
            let first = (0..rollouts.len())
                .min_by(|&a, &b| rollouts[a].name().cmp(rollouts[b].name()))
                .unwrap_or_default();
            return Ok(ApiWorkload::Rollout(Box::new(rollouts.swap_remove(first))));
        }
        _ => {
            let mut names: Vec<&str> = rollouts.iter().map(Rollout::name).collect();
            names.sort_unstable();
            anyhow::bail!(
                "namespace {} has {} OpsBox Rollouts ({}): choose one with --rollout",
                cluster.namespace,
                names.len(),
                names.join(", ")
            );
        }
    }
    match deployments.len() {
        1 => Ok(ApiWorkload::Deployment(Box::new(deployments.remove(0)))),
        0 => Err(NotRunning(format!(
            "no OpsBox release in namespace {} of context {}: no Rollout or Deployment labelled \
             {API_SELECTOR} (install the chart: helm install opsbox charts/opsbox -n {})",
            cluster.namespace, cluster.context, cluster.namespace
        ))
        .into()),
        count => anyhow::bail!(
            "namespace {} has {count} OpsBox API Deployments: choose one with --rollout",
            cluster.namespace
        ),
    }
}

pub async fn replica_sets(cluster: &Cluster) -> anyhow::Result<Vec<ReplicaSet>> {
    let api: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    Ok(within(
        "list replicasets",
        &cluster.server,
        api.list(&ListParams::default().labels(API_SELECTOR)),
    )
    .await?
    .items)
}

/// The AnalysisRuns in the namespace; none when the CRD is not installed.
pub async fn analysis_runs(cluster: &Cluster) -> anyhow::Result<Vec<AnalysisRun>> {
    let api: Api<DynamicObject> = Api::namespaced_with(
        cluster.client.clone(),
        &cluster.namespace,
        &argo::analysis_run_resource(),
    );
    match tokio::time::timeout(
        super::errors::CALL_DEADLINE,
        api.list(&ListParams::default()),
    )
    .await
    {
        Ok(Ok(list)) => Ok(list
            .items
            .into_iter()
            .filter_map(|object| {
                serde_json::to_value(object)
                    .and_then(serde_json::from_value)
                    .ok()
            })
            .collect()),
        Ok(Err(error)) if super::errors::is_not_found(&error) => Ok(Vec::new()),
        Ok(Err(error)) => Err(super::errors::explain(
            error,
            "list analysisruns",
            &cluster.server,
        )),
        Err(_) => Err(NotRunning(format!(
            "list analysisruns: the API server at {} did not answer",
            cluster.server
        ))
        .into()),
    }
}

/// The rollout model of whichever workload runs the API.
pub async fn status(cluster: &Cluster, workload: &ApiWorkload) -> anyhow::Result<RolloutStatus> {
    let replica_sets = replica_sets(cluster).await?;
    let now = chrono::Utc::now();
    Ok(match workload {
        ApiWorkload::Rollout(rollout) => {
            let runs = analysis_runs(cluster).await?;
            rollout_info::rollout_status(rollout, &replica_sets, &runs, now)
        }
        ApiWorkload::Deployment(deployment) => deployment_status(deployment, &replica_sets, now),
    })
}

/// A Deployment as a rollout with no steps: Healthy once every replica is updated and
/// available, Degraded past its progress deadline.
pub fn deployment_status(
    deployment: &Deployment,
    replica_sets: &[ReplicaSet],
    now: chrono::DateTime<chrono::Utc>,
) -> RolloutStatus {
    let status = deployment.status.clone().unwrap_or_default();
    let desired = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(1);
    let deadline = status.conditions.iter().flatten().find(|condition| {
        condition.type_ == "Progressing"
            && condition.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    let (phase, message) = if let Some(condition) = deadline {
        (
            RolloutPhase::Degraded,
            Some(format!(
                "ProgressDeadlineExceeded: {}",
                condition.message.clone().unwrap_or_default()
            )),
        )
    } else if status.updated_replicas.unwrap_or(0) < desired
        || status.available_replicas.unwrap_or(0) < desired
    {
        (
            RolloutPhase::Progressing,
            Some("more replicas need to be updated".to_owned()),
        )
    } else {
        (RolloutPhase::Healthy, None)
    };
    let mut owned: Vec<&ReplicaSet> = replica_sets
        .iter()
        .filter(|rs| {
            rs.metadata.owner_references.iter().flatten().any(|owner| {
                owner.kind == "Deployment" && Some(&owner.uid) == deployment.metadata.uid.as_ref()
            })
        })
        .collect();
    owned.sort_by_key(|rs| deployment_revision(rs));
    let names = rollout_info::revision_names(&owned, deployment_revision);
    let revisions: Vec<Revision> = owned
        .iter()
        .map(|rs| {
            let name = names.get(&deployment_revision(rs)).cloned();
            rollout_info::revision(rs, name.unwrap_or_default())
        })
        .collect();
    RolloutStatus {
        name: deployment.metadata.name.clone(),
        choices: Vec::new(),
        stable_revision: revisions
            .last()
            .map(|revision| revision.name.clone())
            .unwrap_or_default(),
        canary_revision: None,
        phase,
        aborted: false,
        message,
        steps: Vec::new(),
        current_step_index: None,
        canary_weight: 0,
        set_weight: None,
        pause_until: None,
        analysis_runs: Vec::new(),
        revisions,
        events: Vec::new(),
        canary_ready: 0,
        canary_replicas: 0,
        updated_at: now,
    }
}

pub fn deployment_revision(rs: &ReplicaSet) -> i64 {
    rs.metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get("deployment.kubernetes.io/revision"))
        .and_then(|text| text.parse().ok())
        .unwrap_or(0)
}
