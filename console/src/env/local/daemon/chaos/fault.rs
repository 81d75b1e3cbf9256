//! `POST /chaos/fault`: an error rate and/or latency on every API instance (of a track),
//! set through each instance's `PUT /admin/faults` with a duration, so the instances end
//! the fault themselves even if the daemon is gone by then.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::{Extension, Json};
use chrono::Utc;
use tokio::task::JoinSet;

use super::super::super::supervisor::Workload;
use super::super::control_error::ControlError;
use super::super::state::DaemonState;
use super::board::ChaosBoard;
use super::parse_body;
use crate::chaos::{FaultInjection, FaultRefusal, FaultReport, FaultRequest};
use crate::model::InstanceState;

/// One instance's admin endpoint must answer within this.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(3);

pub async fn inject(
    State(state): State<Arc<DaemonState>>,
    Extension(board): Extension<Arc<ChaosBoard>>,
    body: Bytes,
) -> Result<Json<FaultReport>, ControlError> {
    let request: FaultRequest = parse_body(&body)?;
    request.check().map_err(ControlError::invalid)?;
    let supervisor = state.running_supervisor()?;
    let token = state
        .admin_token
        .get()
        .ok_or_else(|| ControlError::conflict("the environment is still starting"))?
        .clone();
    let targets: Vec<(String, std::net::SocketAddr)> = supervisor
        .snapshot()
        .into_iter()
        .filter(|instance| {
            instance.workload == Workload::Api
                && instance.state == InstanceState::Running
                && request.track.is_none_or(|track| instance.track == track)
        })
        .filter_map(|instance| {
            state
                .address(&instance.name)
                .map(|addr| (instance.name, addr))
        })
        .collect();
    if targets.is_empty() {
        return Err(ControlError::not_found(match request.track {
            Some(track) => format!("no running API instance on the {track} track"),
            None => "no running API instance".to_owned(),
        }));
    }
    // The API counts whole seconds; rounding up never makes a fault shorter than asked.
    let duration_secs = request.duration_ms.div_ceil(1_000);
    let settings = serde_json::json!({
        "error_rate": request.error_rate,
        "latency_ms": request.latency_ms,
        "duration_secs": duration_secs,
    });
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(ADMIN_TIMEOUT)
        .build()
        .map_err(|error| ControlError::internal(&error.into()))?;
    let started_at = Utc::now();
    let mut calls = JoinSet::new();
    for (name, addr) in targets {
        let call = http
            .put(format!("http://{addr}/admin/faults"))
            .bearer_auth(&token)
            .json(&settings)
            .send();
        calls.spawn(async move {
            let outcome = match call.await {
                Ok(response) if response.status().is_success() => Ok(()),
                Ok(response) => Err(format!("the instance answered {}", response.status())),
                Err(error) => Err(format!("the instance does not answer: {error}")),
            };
            (name, outcome)
        });
    }
    let mut instances = Vec::new();
    let mut refused = Vec::new();
    while let Some(joined) = calls.join_next().await {
        match joined {
            Ok((name, Ok(()))) => instances.push(name),
            Ok((instance, Err(message))) => refused.push(FaultRefusal { instance, message }),
            Err(error) => tracing::error!(%error, "a fault request task failed"),
        }
    }
    instances.sort();
    refused.sort_by(|a, b| a.instance.cmp(&b.instance));
    if instances.is_empty() {
        let reasons: Vec<String> = refused
            .iter()
            .map(|refusal| format!("{}: {}", refusal.instance, refusal.message))
            .collect();
        return Err(ControlError::internal(&anyhow::anyhow!(
            "no instance took the fault ({})",
            reasons.join("; ")
        )));
    }
    let fault = FaultInjection {
        track: request.track,
        error_rate: request.error_rate,
        latency_ms: request.latency_ms,
        started_at,
        ends_at: started_at + Duration::from_secs(duration_secs),
        instances,
    };
    tracing::warn!(instances = ?fault.instances, error_rate = fault.error_rate, latency_ms = fault.latency_ms, duration_secs, "chaos: faults injected");
    board.add_fault(fault.clone());
    Ok(Json(FaultReport { fault, refused }))
}
