//! API fault injection on a cluster: `PUT /admin/faults` with a duration on every
//! running API pod (of a track), each through the API server's pod proxy, so every pod
//! takes it and each ends it by itself even if the console is gone by then.

use chrono::Utc;
use http::Method;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{json, Value};

use super::admin::AdminRoute;
use super::pods::{self, Hashes};
use super::Cluster;
use crate::chaos::{FaultInjection, FaultRefusal, FaultReport, FaultRequest};
use crate::model::InstanceState;

/// The API container's port named `http` (the pod proxy takes a number).
fn http_port(pod: &Pod) -> Option<i32> {
    pod.spec
        .as_ref()?
        .containers
        .iter()
        .flat_map(|container| container.ports.iter().flatten())
        .find(|port| port.name.as_deref() == Some("http"))
        .map(|port| port.container_port)
}

pub async fn inject(
    cluster: &Cluster,
    route: &AdminRoute,
    hashes: &Hashes,
    request: &FaultRequest,
) -> anyhow::Result<FaultReport> {
    request
        .check()
        .map_err(|message| anyhow::anyhow!(message))?;
    let targets: Vec<Pod> = pods::list(cluster)
        .await?
        .into_iter()
        .filter(|pod| pods::workload_of(pod) == "api")
        .filter(|pod| pods::instance(pod, hashes).state == InstanceState::Running)
        .filter(|pod| {
            request
                .track
                .is_none_or(|track| pods::track_of(pod, hashes) == track)
        })
        .collect();
    anyhow::ensure!(
        !targets.is_empty(),
        "{}",
        match request.track {
            Some(track) => format!("no running API pod on the {track} track"),
            None => "no running API pod".to_owned(),
        }
    );
    // The API counts whole seconds; rounding up never makes a fault shorter than asked.
    let duration_secs = request.duration_ms.div_ceil(1_000);
    let settings = json!({
        "error_rate": request.error_rate,
        "latency_ms": request.latency_ms,
        "duration_secs": duration_secs,
    });
    let started_at = Utc::now();
    let calls = targets.iter().map(|pod| {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let settings = &settings;
        async move {
            let outcome = match http_port(pod) {
                Some(port) => route
                    .call_pod::<Value>(cluster, &name, port, Method::PUT, "/admin/faults", settings)
                    .await
                    .map(drop)
                    .map_err(|error| format!("{error:#}")),
                None => Err("the pod has no port named http".to_owned()),
            };
            (name, outcome)
        }
    });
    let mut instances = Vec::new();
    let mut refused = Vec::new();
    for (name, outcome) in futures::future::join_all(calls).await {
        match outcome {
            Ok(()) => instances.push(name),
            Err(message) => refused.push(FaultRefusal {
                instance: name,
                message,
            }),
        }
    }
    if instances.is_empty() {
        let reasons: Vec<String> = refused
            .iter()
            .map(|refusal| format!("{}: {}", refusal.instance, refusal.message))
            .collect();
        anyhow::bail!("no API pod took the fault ({})", reasons.join("; "));
    }
    instances.sort();
    Ok(FaultReport {
        fault: FaultInjection {
            track: request.track,
            error_rate: request.error_rate,
            latency_ms: request.latency_ms,
            started_at,
            ends_at: started_at + std::time::Duration::from_secs(duration_secs),
            instances,
        },
        refused,
    })
}
