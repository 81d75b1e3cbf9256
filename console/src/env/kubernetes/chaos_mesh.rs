//! Dependency outages on a cluster, through Chaos Mesh: `stop` is a `PodChaos`
//! pod-failure of the release's datastore pods (connections refused), `freeze` a
//! `NetworkChaos` partition of them (connections hang). Each object carries its
//! `duration`, so Chaos Mesh ends the outage even if the console is gone by then.

use chrono::{DateTime, Duration, Utc};
use kube::api::{DynamicObject, GroupVersionKind, ListParams, PostParams};
use kube::discovery::ApiResource;
use kube::Api;
use serde_json::{json, Value};

use super::errors::{explain, is_not_found, within, CALL_DEADLINE};
use super::{pods, Cluster};
use crate::chaos::{Dependency, Outage, OutageMode, OutageRequest};

/// What the console says when the cluster has no Chaos Mesh.
pub const MISSING: &str = "dependency outages on a cluster need Chaos Mesh, and this cluster \
     has no chaos-mesh.org PodChaos/NetworkChaos CRDs: install Chaos Mesh, or drill in the \
     local environment";

/// Marks the objects the console made, so `chaos list` finds them.
const MADE_BY: &str = "app.kubernetes.io/managed-by=opsbox-console";

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("chaos-mesh.org", "v1alpha1", kind),
        plural,
    )
}

fn api(cluster: &Cluster, mode: OutageMode) -> Api<DynamicObject> {
    let resource = match mode {
        OutageMode::Stop => resource("PodChaos", "podchaos"),
        OutageMode::Freeze => resource("NetworkChaos", "networkchaos"),
    };
    Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &resource)
}

/// Whether both CRDs answer.
pub async fn installed(cluster: &Cluster) -> anyhow::Result<bool> {
    for mode in [OutageMode::Stop, OutageMode::Freeze] {
        let api = api(cluster, mode);
        let first = ListParams::default().limit(1);
        match within("list chaos-mesh.org objects", &cluster.server, async {
            match api.list(&first).await {
                Err(error) if is_not_found(&error) => Ok(false),
                other => other.map(|_| true),
            }
        })
        .await?
        {
            true => {}
            false => return Ok(false),
        }
    }
    Ok(true)
}

/// The Chaos Mesh object of an outage.
pub fn object(cluster: &Cluster, request: &OutageRequest, now: DateTime<Utc>) -> Value {
    let seconds = request.duration_ms.div_ceil(1_000);
    let dependency = request.dependency.as_str();
    let selector = json!({
        "namespaces": [cluster.namespace],
        "labelSelectors": {"app.kubernetes.io/name": "opsbox", "app.kubernetes.io/component": dependency},
    });
    let (kind, spec) = match request.mode {
        OutageMode::Stop => (
            "PodChaos",
            json!({"action": "pod-failure", "mode": "all", "selector": selector, "duration": format!("{seconds}s")}),
        ),
        OutageMode::Freeze => (
            "NetworkChaos",
            json!({"action": "partition", "mode": "all", "direction": "both", "selector": selector,
                   "duration": format!("{seconds}s")}),
        ),
    };
    json!({
        "apiVersion": "chaos-mesh.org/v1alpha1",
        "kind": kind,
        "metadata": {
            "name": format!("opsbox-outage-{dependency}-{}", now.timestamp()),
            "namespace": cluster.namespace,
            "labels": {"app.kubernetes.io/managed-by": "opsbox-console", "app.kubernetes.io/part-of": "opsbox"},
            "annotations": {"opsbox.dev/dependency": dependency, "opsbox.dev/mode": request.mode.as_str()},
        },
        "spec": spec,
    })
}

pub async fn start(cluster: &Cluster, request: &OutageRequest) -> anyhow::Result<Outage> {
    anyhow::ensure!(installed(cluster).await?, "{MISSING}");
    let dependency = request.dependency.as_str();
    let targets = pods::list_component(cluster, dependency).await?;
    anyhow::ensure!(
        !targets.is_empty(),
        "no {dependency} pod of the release in namespace {} (labelled \
         app.kubernetes.io/component={dependency}): a {dependency} outside the cluster cannot be \
         failed from here",
        cluster.namespace
    );
    let now = Utc::now();
    let object: DynamicObject = serde_json::from_value(object(cluster, request, now))?;
    let name = object.metadata.name.clone().unwrap_or_default();
    within(
        &format!("create {name}"),
        &cluster.server,
        api(cluster, request.mode).create(&PostParams::default(), &object),
    )
    .await?;
    Ok(Outage {
        dependency: request.dependency,
        mode: request.mode,
        started_at: now,
        ends_at: now
            + Duration::milliseconds(i64::try_from(request.duration_ms).unwrap_or(i64::MAX)),
    })
}

/// `30s`, `2m`, `1m30s`, `1h`: the Go durations Chaos Mesh reads, in whole seconds.
fn seconds(duration: &str) -> Option<i64> {
    let mut total = 0i64;
    let mut number = String::new();
    for c in duration.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: i64 = number.parse().ok()?;
        number.clear();
        total += n * match c {
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
    }
    number.is_empty().then_some(total)
}

/// The outages the console started that have not ended yet.
pub async fn active(cluster: &Cluster) -> anyhow::Result<Vec<Outage>> {
    let now = Utc::now();
    let mut outages = Vec::new();
    for mode in [OutageMode::Stop, OutageMode::Freeze] {
        let listed = tokio::time::timeout(
            CALL_DEADLINE,
            api(cluster, mode).list(&ListParams::default().labels(MADE_BY)),
        )
        .await;
        let objects = match listed {
            Ok(Ok(list)) => list.items,
            Ok(Err(error)) if is_not_found(&error) => continue,
            Ok(Err(error)) => {
                return Err(explain(
                    error,
                    "list chaos-mesh.org objects",
                    &cluster.server,
                ))
            }
            Err(_) => {
                anyhow::bail!("list chaos-mesh.org objects: no answer within {CALL_DEADLINE:?}")
            }
        };
        for object in objects {
            let annotations = object.metadata.annotations.clone().unwrap_or_default();
            let dependency = match annotations.get("opsbox.dev/dependency").map(String::as_str) {
                Some("postgres") => Dependency::Postgres,
                Some("redis") => Dependency::Redis,
                _ => continue,
            };
            let (Some(created), Some(length)) = (
                object.metadata.creation_timestamp.as_ref(),
                object.data["spec"]["duration"].as_str().and_then(seconds),
            ) else {
                continue;
            };
            let started_at = super::time::to_chrono(created.0);
            let ends_at = started_at + Duration::seconds(length);
            if ends_at > now {
                outages.push(Outage {
                    dependency,
                    mode,
                    started_at,
                    ends_at,
                });
            }
        }
    }
    Ok(outages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_read_in_seconds() {
        assert_eq!(seconds("30s"), Some(30));
        assert_eq!(seconds("1m30s"), Some(90));
        assert_eq!(seconds("2h"), Some(7_200));
        assert_eq!(seconds("10"), None);
        assert_eq!(seconds("5d"), None);
    }
}
