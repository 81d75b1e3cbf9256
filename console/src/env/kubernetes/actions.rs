//! The rollout verbs against the cluster: each reads the Rollout, sends the patches
//! `patches` builds (status subresource first, as the Argo plugin does), and answers
//! with the rollout as it stands after.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Patch, PatchParams};
use kube::Api;

use super::errors::within;
use super::patches::{self, RolloutPatch};
use super::rollout_info::{owned_replica_sets, revision_names, revision_number};
use super::workload::{self, ApiWorkload};
use super::Cluster;
use crate::model::RolloutStatus;

/// The container of the API pod a new revision's image goes into.
pub const API_CONTAINER: &str = "api";

pub async fn apply(cluster: &Cluster, name: &str, patch: &RolloutPatch) -> anyhow::Result<()> {
    let api = workload::rollouts(cluster);
    let params = PatchParams::default();
    let server = &cluster.server;
    match patch {
        RolloutPatch::Status(body) => {
            within(
                &format!("patch rollouts/status {name}"),
                server,
                api.patch_status(name, &params, &Patch::Merge(body)),
            )
            .await?;
        }
        RolloutPatch::Spec(body) => {
            within(
                &format!("patch rollout {name}"),
                server,
                api.patch(name, &params, &Patch::Merge(body)),
            )
            .await?;
        }
        RolloutPatch::Json(body) => {
            let operations: json_patch::Patch = serde_json::from_value(body.clone())?;
            within(
                &format!("patch rollout {name}"),
                server,
                api.patch(name, &params, &Patch::<()>::Json(operations)),
            )
            .await?;
        }
    }
    Ok(())
}

fn needs_argo(verb: &str, deployment: &Deployment) -> anyhow::Error {
    anyhow::anyhow!(
        "{verb} needs Argo Rollouts: the API runs as the Deployment {} (chart value \
         argoRollouts.enabled=false), which only supports undo and pod restarts",
        deployment.metadata.name.as_deref().unwrap_or_default()
    )
}

async fn rollout_of(cluster: &Cluster, verb: &str) -> anyhow::Result<super::argo::Rollout> {
    match workload::find(cluster).await? {
        ApiWorkload::Rollout(rollout) => Ok(*rollout),
        ApiWorkload::Deployment(deployment) => Err(needs_argo(verb, &deployment)),
    }
}

/// The rollout as it stands; with several Rollouts and none chosen, the first by name
/// (it lists the others).
pub async fn current(cluster: &Cluster) -> anyhow::Result<RolloutStatus> {
    let (found, choices) = workload::find_with(cluster, workload::Several::ShowFirst).await?;
    Ok(RolloutStatus {
        choices,
        ..workload::status(cluster, &found).await?
    })
}

pub async fn promote(cluster: &Cluster, full: bool) -> anyhow::Result<RolloutStatus> {
    let rollout = rollout_of(cluster, "promote").await?;
    let steps = patches::promote(&rollout, full);
    anyhow::ensure!(
        !steps.is_empty(),
        "the Rollout {} has nothing to promote: it is not paused and has no canary",
        rollout.name()
    );
    for patch in &steps {
        apply(cluster, rollout.name(), patch).await?;
    }
    current(cluster).await
}

pub async fn abort(cluster: &Cluster) -> anyhow::Result<RolloutStatus> {
    let rollout = rollout_of(cluster, "abort").await?;
    apply(cluster, rollout.name(), &patches::abort()).await?;
    current(cluster).await
}

pub async fn retry(cluster: &Cluster) -> anyhow::Result<RolloutStatus> {
    let rollout = rollout_of(cluster, "retry").await?;
    apply(cluster, rollout.name(), &patches::retry()).await?;
    current(cluster).await
}

/// A new revision: the image `repository:revision` (the repository of the running
/// image), or `revision` itself when it names a whole image.
pub async fn start(
    cluster: &Cluster,
    revision: &str,
    overrides: &BTreeMap<String, String>,
) -> anyhow::Result<RolloutStatus> {
    let rollout = rollout_of(cluster, "start a rollout").await?;
    let image = new_image(&rollout, revision)?;
    let patch = patches::set_image(&rollout, API_CONTAINER, &image, overrides)?;
    apply(cluster, rollout.name(), &patch).await?;
    current(cluster).await
}

fn new_image(rollout: &super::argo::Rollout, revision: &str) -> anyhow::Result<String> {
    if revision.contains(':') || revision.contains('/') {
        return Ok(revision.to_owned());
    }
    anyhow::ensure!(
        !revision.is_empty() && revision.len() <= 128,
        "a revision is an image tag (1 to 128 characters), not {revision:?}"
    );
    let running = rollout
        .spec
        .template
        .as_ref()
        .and_then(|template| template.spec.as_ref())
        .and_then(|pod| pod.containers.iter().find(|c| c.name == API_CONTAINER))
        .and_then(|container| container.image.clone())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "the Rollout {} has no {API_CONTAINER} image",
                rollout.name()
            )
        })?;
    let without_digest = running.split('@').next().unwrap_or_default();
    let name_end = without_digest.rfind('/').map_or(0, |slash| slash + 1);
    let repository = match without_digest[name_end..].rfind(':') {
        Some(colon) => &without_digest[..name_end + colon],
        None => without_digest,
    };
    Ok(format!("{repository}:{revision}"))
}

/// `undo`: the pod template of the revision before the newest (or of `to`, a revision
/// name or number) goes back into the Rollout's (or Deployment's) spec.
pub async fn undo(cluster: &Cluster, to: Option<&str>) -> anyhow::Result<RolloutStatus> {
    let found = workload::find(cluster).await?;
    let all = workload::replica_sets(cluster).await?;
    match &found {
        ApiWorkload::Rollout(rollout) => {
            let owned = owned_replica_sets(rollout, &all);
            let target = pick(&owned, to, |rs| revision_number(&rs.metadata))?;
            apply(cluster, rollout.name(), &patches::undo(target)?).await?;
        }
        ApiWorkload::Deployment(deployment) => {
            let mut owned: Vec<&ReplicaSet> = all
                .iter()
                .filter(|rs| {
                    rs.metadata
                        .owner_references
                        .iter()
                        .flatten()
                        .any(|owner| Some(&owner.uid) == deployment.metadata.uid.as_ref())
                })
                .collect();
            owned.sort_by_key(|rs| std::cmp::Reverse(workload::deployment_revision(rs)));
            let target = pick(&owned, to, workload::deployment_revision)?;
            let RolloutPatch::Json(body) = patches::undo(target)? else {
                unreachable!("undo is a JSON patch")
            };
            let name = deployment.metadata.name.clone().unwrap_or_default();
            let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
            let operations: json_patch::Patch = serde_json::from_value(body)?;
            within(
                &format!("patch deployment {name}"),
                &cluster.server,
                api.patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::<()>::Json(operations),
                ),
            )
            .await?;
        }
    }
    current(cluster).await
}

/// The ReplicaSet to go back to: `to` by name or number, else the second newest.
fn pick<'a>(
    owned_newest_first: &[&'a ReplicaSet],
    to: Option<&str>,
    number: impl Fn(&ReplicaSet) -> i64 + Copy,
) -> anyhow::Result<&'a ReplicaSet> {
    let names = revision_names(owned_newest_first, number);
    match to {
        Some(wanted) => owned_newest_first
            .iter()
            .copied()
            .find(|rs| {
                let revision = number(rs);
                wanted == revision.to_string()
                    || names.get(&revision).map(String::as_str) == Some(wanted)
            })
            .ok_or_else(|| {
                let known: Vec<&str> = names.values().map(String::as_str).collect();
                anyhow::anyhow!(
                    "no revision {wanted:?} in the history (it has: {})",
                    known.join(", ")
                )
            }),
        None => owned_newest_first
            .get(1)
            .copied()
            .ok_or_else(|| anyhow::anyhow!("there is no earlier revision to go back to")),
    }
}
