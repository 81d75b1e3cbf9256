//! A Rollout's history for the rollout view, from the Kubernetes Events on it: the Argo
//! controller's (paused, step completed, aborted, completed, analysis) and the console's
//! own (`OpsboxPromote`, ...), oldest first, at most [`MAX_ROLLOUT_EVENTS`].

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Event;
use kube::api::ListParams;
use kube::Api;

use super::errors::within;
use super::{time, Cluster};
use crate::model::{RolloutEvent, MAX_ROLLOUT_EVENTS};

/// Events on Rollouts only: the API server filters, the console does not.
pub const ON_ROLLOUTS: &str = "involvedObject.kind=Rollout";

pub async fn list(cluster: &Cluster) -> anyhow::Result<Vec<Event>> {
    let api: Api<Event> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    Ok(within(
        "list events",
        &cluster.server,
        api.list(&ListParams::default().fields(ON_ROLLOUTS)),
    )
    .await?
    .items)
}

/// The kind of history entry a reason is, in the rollout model's words.
fn kind(reason: &str) -> String {
    let known = [
        ("OpsboxPromote", "promote"),
        ("OpsboxAbort", "abort"),
        ("OpsboxRetry", "retry"),
        ("OpsboxUndo", "undo"),
        ("Paused", "pause"),
        ("Resumed", "promote"),
        ("StepCompleted", "step"),
        ("SetWeight", "step"),
        ("Aborted", "abort"),
        ("Completed", "complete"),
        ("Analysis", "analysis"),
        ("Updated", "start"),
        ("NewReplicaSet", "start"),
    ];
    known
        .iter()
        .find(|(fragment, _)| reason.contains(fragment))
        .map_or_else(|| reason.to_lowercase(), |(_, kind)| (*kind).to_owned())
}

fn when(event: &Event) -> Option<DateTime<Utc>> {
    event
        .last_timestamp
        .as_ref()
        .map(|t| time::to_chrono(t.0))
        .or_else(|| event.event_time.as_ref().map(|t| time::to_chrono(t.0)))
        .or_else(|| {
            event
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| time::to_chrono(t.0))
        })
}

/// The history of the Rollout `name`.
pub fn history<'a>(events: impl IntoIterator<Item = &'a Event>, name: &str) -> Vec<RolloutEvent> {
    let mut history: Vec<RolloutEvent> = events
        .into_iter()
        .filter(|event| event.involved_object.name.as_deref() == Some(name))
        .filter_map(|event| {
            Some(RolloutEvent {
                at: when(event)?,
                kind: kind(event.reason.as_deref().unwrap_or_default()),
                message: event.message.clone().unwrap_or_default(),
            })
        })
        .collect();
    history.sort_by_key(|event| event.at);
    if history.len() > MAX_ROLLOUT_EVENTS {
        history.drain(..history.len() - MAX_ROLLOUT_EVENTS);
    }
    history
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(name: &str, reason: &str, at: &str) -> Event {
        serde_json::from_value(json!({
            "metadata": {"name": format!("{name}.{reason}"), "namespace": "opsbox"},
            "involvedObject": {"kind": "Rollout", "name": name},
            "reason": reason, "message": format!("{reason} happened"), "lastTimestamp": at,
        }))
        .expect("an Event")
    }

    #[test]
    fn the_history_is_the_rollouts_events_oldest_first_in_the_models_words() {
        let events = [
            event("opsbox-api", "RolloutStepCompleted", "2026-12-07T06:02:00Z"),
            event("opsbox-api", "RolloutPaused", "2026-12-07T06:01:00Z"),
            event("other", "RolloutAborted", "2026-12-07T06:03:00Z"),
            event("opsbox-api", "OpsboxPromote", "2026-12-07T06:04:00Z"),
            event("opsbox-api", "SomethingNew", "2026-12-07T06:05:00Z"),
        ];
        let history = history(&events, "opsbox-api");
        let kinds: Vec<&str> = history.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["pause", "step", "promote", "somethingnew"]);
        assert_eq!(history[0].message, "RolloutPaused happened");
    }
}
