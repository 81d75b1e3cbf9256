//! The release's autoscalers for the Instances view: the API's HorizontalPodAutoscaler
//! and the worker's KEDA ScaledObject, with the figures of the HPA that KEDA makes for
//! it (current and desired replicas, last scale) and the condition that says why it is
//! not scaling, if one does.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{DynamicObject, GroupVersionKind, ListParams};
use kube::discovery::ApiResource;
use kube::Api;
use serde_json::Value;

use super::errors::{explain, is_not_found, within, CALL_DEADLINE};
use super::{time, Cluster};
use crate::env::NotRunning;
use crate::model::ScalerStatus;

/// The release's objects (the KEDA-made HPA carries its ScaledObject's name instead).
pub const RELEASE_SELECTOR: &str = "app.kubernetes.io/name=opsbox";

/// Every HPA of the namespace: a release has one or two, KEDA's among them.
pub async fn list_autoscalers(cluster: &Cluster) -> anyhow::Result<Vec<HorizontalPodAutoscaler>> {
    let api: Api<HorizontalPodAutoscaler> =
        Api::namespaced(cluster.client.clone(), &cluster.namespace);
    Ok(within(
        "list horizontalpodautoscalers",
        &cluster.server,
        api.list(&ListParams::default()),
    )
    .await?
    .items)
}

pub fn scaled_objects(cluster: &Cluster) -> Api<DynamicObject> {
    Api::namespaced_with(
        cluster.client.clone(),
        &cluster.namespace,
        &scaled_object_resource(),
    )
}

/// The release's ScaledObjects; none when KEDA's CRDs are not installed.
pub async fn list_scaled_objects(cluster: &Cluster) -> anyhow::Result<Vec<DynamicObject>> {
    let api = scaled_objects(cluster);
    let params = ListParams::default().labels(RELEASE_SELECTOR);
    match tokio::time::timeout(CALL_DEADLINE, api.list(&params)).await {
        Ok(Ok(list)) => Ok(list.items),
        Ok(Err(error)) if is_not_found(&error) => Ok(Vec::new()),
        Ok(Err(error)) => Err(explain(error, "list scaledobjects", &cluster.server)),
        Err(_) => Err(NotRunning(format!(
            "list scaledobjects: the API server at {} did not answer within {CALL_DEADLINE:?}",
            cluster.server
        ))
        .into()),
    }
}

/// `keda.sh/v1alpha1` `ScaledObject`.
pub fn scaled_object_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("keda.sh", "v1alpha1", "ScaledObject"),
        "scaledobjects",
    )
}

/// The label KEDA puts on the HPA it makes for a ScaledObject.
const KEDA_OWNER_LABEL: &str = "scaledobject.keda.sh/name";

fn component(labels: Option<&std::collections::BTreeMap<String, String>>) -> String {
    labels
        .and_then(|labels| labels.get("app.kubernetes.io/component"))
        .cloned()
        .unwrap_or_else(|| "unknown".to_owned())
}

fn count(value: Option<i32>) -> Option<u32> {
    value.and_then(|n| u32::try_from(n).ok())
}

/// The first condition that says the autoscaler cannot do its job.
fn hpa_problem(hpa: &HorizontalPodAutoscaler) -> Option<String> {
    hpa.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|condition| {
            condition.status == "False"
                && matches!(condition.type_.as_str(), "AbleToScale" | "ScalingActive")
        })
        .map(|condition| {
            format!(
                "{}: {}",
                condition
                    .reason
                    .clone()
                    .unwrap_or_else(|| condition.type_.clone()),
                condition.message.clone().unwrap_or_default()
            )
        })
}

fn hpa_trigger(hpa: &HorizontalPodAutoscaler) -> String {
    let metrics = hpa.spec.metrics.as_ref();
    let described: Vec<String> = metrics
        .into_iter()
        .flatten()
        .map(|metric| match &metric.resource {
            Some(resource) => match resource.target.average_utilization {
                Some(percent) => format!("{} {percent}%", resource.name),
                None => resource.name.clone(),
            },
            None => metric.type_.clone(),
        })
        .collect();
    if described.is_empty() {
        "cpu 80%".to_owned()
    } else {
        described.join(", ")
    }
}

fn from_hpa(hpa: &HorizontalPodAutoscaler) -> ScalerStatus {
    let spec = &hpa.spec;
    let status = hpa.status.as_ref();
    ScalerStatus {
        workload: component(hpa.metadata.labels.as_ref()),
        kind: "HPA".to_owned(),
        name: hpa.metadata.name.clone().unwrap_or_default(),
        min_replicas: count(spec.min_replicas).unwrap_or(1),
        max_replicas: count(Some(spec.max_replicas)).unwrap_or(0),
        current_replicas: count(status.and_then(|status| status.current_replicas)),
        desired_replicas: count(status.map(|status| status.desired_replicas)),
        trigger: hpa_trigger(hpa),
        last_scale: status
            .and_then(|status| status.last_scale_time.as_ref())
            .map(|at| time::to_chrono(at.0)),
        problem: hpa_problem(hpa),
    }
}

/// `redis list opsbox:queue:ready per 5` and the like, from a trigger's metadata.
fn keda_trigger(trigger: &Value) -> String {
    let kind = trigger["type"].as_str().unwrap_or("?");
    let metadata = &trigger["metadata"];
    match (
        metadata["listName"].as_str(),
        metadata["listLength"].as_str(),
    ) {
        (Some(list), Some(length)) => format!("{kind} list {list} per {length}"),
        (Some(list), None) => format!("{kind} list {list}"),
        _ => kind.to_owned(),
    }
}

fn from_scaled_object(object: &DynamicObject, hpas: &[HorizontalPodAutoscaler]) -> ScalerStatus {
    let spec = &object.data["spec"];
    let status = &object.data["status"];
    let name = object.metadata.name.clone().unwrap_or_default();
    let hpa = hpas.iter().find(|hpa| {
        status["hpaName"].as_str() == hpa.metadata.name.as_deref()
            || hpa
                .metadata
                .labels
                .as_ref()
                .and_then(|labels| labels.get(KEDA_OWNER_LABEL))
                == Some(&name)
    });
    let replicas = |key: &str, default: u32| {
        spec[key]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(default)
    };
    let not_ready = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|condition| condition["type"] == "Ready" && condition["status"] == "False")
        .map(|condition| {
            format!(
                "{}: {}",
                condition["reason"].as_str().unwrap_or("NotReady"),
                condition["message"].as_str().unwrap_or_default()
            )
        });
    let problem = if status.is_null() {
        Some("no status yet: is the KEDA operator running in this cluster?".to_owned())
    } else {
        not_ready.or_else(|| hpa.and_then(hpa_problem))
    };
    let triggers: Vec<String> = spec["triggers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(keda_trigger)
        .collect();
    ScalerStatus {
        workload: component(object.metadata.labels.as_ref()),
        kind: "KEDA".to_owned(),
        name,
        // KEDA's defaults.
        min_replicas: replicas("minReplicaCount", 0),
        max_replicas: replicas("maxReplicaCount", 100),
        current_replicas: hpa
            .and_then(|hpa| hpa.status.as_ref())
            .and_then(|status| count(status.current_replicas)),
        desired_replicas: hpa
            .and_then(|hpa| hpa.status.as_ref())
            .and_then(|status| count(Some(status.desired_replicas))),
        trigger: triggers.join(", "),
        last_scale: hpa
            .and_then(|hpa| hpa.status.as_ref())
            .and_then(|status| status.last_scale_time.as_ref())
            .map(|at| time::to_chrono(at.0)),
        problem,
    }
}

/// Every ScaledObject, and every HPA that KEDA did not make, by workload.
pub fn scalers(
    hpas: &[HorizontalPodAutoscaler],
    scaled_objects: &[DynamicObject],
) -> Vec<ScalerStatus> {
    let mut scalers: Vec<ScalerStatus> = scaled_objects
        .iter()
        .map(|object| from_scaled_object(object, hpas))
        .collect();
    let keda_made = |hpa: &HorizontalPodAutoscaler| {
        hpa.metadata
            .labels
            .as_ref()
            .is_some_and(|labels| labels.contains_key(KEDA_OWNER_LABEL))
            || scalers
                .iter()
                .any(|scaler| Some(format!("keda-hpa-{}", scaler.name)) == hpa.metadata.name)
    };
    let plain: Vec<ScalerStatus> = hpas
        .iter()
        .filter(|hpa| !keda_made(hpa))
        .map(from_hpa)
        .collect();
    scalers.extend(plain);
    scalers.sort_by(|a, b| (&a.workload, &a.name).cmp(&(&b.workload, &b.name)));
    scalers
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn hpa(value: Value) -> HorizontalPodAutoscaler {
        serde_json::from_value(value).expect("an HPA")
    }

    #[test]
    fn a_scaled_object_reads_its_trigger_and_the_figures_of_kedas_hpa() {
        let object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": {"name": "opsbox-worker", "labels": {"app.kubernetes.io/component": "worker"}},
            "spec": {"minReplicaCount": 1, "maxReplicaCount": 10,
                "triggers": [{"type": "redis", "metadata": {"listName": "opsbox:queue:ready", "listLength": "5"}}]},
            "status": {"hpaName": "keda-hpa-opsbox-worker",
                "conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .expect("a ScaledObject");
        let made = hpa(json!({
            "metadata": {"name": "keda-hpa-opsbox-worker", "labels": {"scaledobject.keda.sh/name": "opsbox-worker"}},
            "spec": {"maxReplicas": 10, "scaleTargetRef": {"kind": "Deployment", "name": "opsbox-worker"}},
            "status": {"currentReplicas": 3, "desiredReplicas": 4, "lastScaleTime": "2026-12-07T06:00:00Z"}
        }));
        let scalers = scalers(&[made], &[object]);
        assert_eq!(
            scalers.len(),
            1,
            "KEDA's own HPA is not listed twice: {scalers:?}"
        );
        let worker = &scalers[0];
        assert_eq!(
            (worker.kind.as_str(), worker.workload.as_str()),
            ("KEDA", "worker")
        );
        assert_eq!((worker.min_replicas, worker.max_replicas), (1, 10));
        assert_eq!(
            (worker.current_replicas, worker.desired_replicas),
            (Some(3), Some(4))
        );
        assert_eq!(worker.trigger, "redis list opsbox:queue:ready per 5");
        assert!(worker.last_scale.is_some());
        assert_eq!(worker.problem, None);
    }

    #[test]
    fn a_scaled_object_without_status_says_keda_may_be_missing() {
        let object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": {"name": "opsbox-worker"}, "spec": {}
        }))
        .expect("a ScaledObject");
        let scalers = scalers(&[], &[object]);
        assert_eq!((scalers[0].min_replicas, scalers[0].max_replicas), (0, 100));
        assert!(scalers[0]
            .problem
            .as_deref()
            .is_some_and(|p| p.contains("KEDA operator")));
    }

    #[test]
    fn an_hpa_that_cannot_read_metrics_says_so() {
        let api = hpa(json!({
            "metadata": {"name": "opsbox-api", "labels": {"app.kubernetes.io/component": "api"}},
            "spec": {"minReplicas": 2, "maxReplicas": 6, "scaleTargetRef": {"kind": "Rollout", "name": "opsbox-api"},
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]},
            "status": {"currentReplicas": 2, "desiredReplicas": 2, "conditions": [
                {"type": "AbleToScale", "status": "True"},
                {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
                 "message": "the HPA was unable to compute the replica count"}]}
        }));
        let scalers = scalers(&[api], &[]);
        let api = &scalers[0];
        assert_eq!(
            (api.kind.as_str(), api.trigger.as_str()),
            ("HPA", "cpu 70%")
        );
        assert_eq!((api.min_replicas, api.max_replicas), (2, 6));
        assert_eq!(
            api.problem.as_deref(),
            Some("FailedGetResourceMetric: the HPA was unable to compute the replica count")
        );
    }
}
