//! Every action is also a Kubernetes Event on the object it changed, so the whole team
//! sees who promoted, aborted or killed what in `kubectl get events`.

use chrono::Utc;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use kube::api::{ObjectMeta, PostParams};
use kube::Api;

use super::errors::within;
use super::Cluster;
use crate::audit::Outcome;

/// `rollout.promote` → `OpsboxPromote`; `chaos.kill` → `OpsboxKill`.
pub fn reason(action: &str) -> String {
    let verb = action.rsplit('.').next().unwrap_or(action);
    let mut reason = String::from("Opsbox");
    for word in verb.split(['-', '_']) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            reason.extend(first.to_uppercase());
            reason.push_str(chars.as_str());
        }
    }
    reason
}

/// The object an action changed, as an Event names it.
#[derive(Debug, Clone)]
pub struct Involved {
    pub api_version: String,
    pub kind: String,
    pub name: String,
}

pub fn event(
    cluster: &Cluster,
    involved: &Involved,
    action: &str,
    who: &str,
    outcome: &Outcome,
) -> Event {
    let now = super::time::from_chrono(Utc::now());
    let (kind, result) = match outcome {
        Outcome::Ok => ("Normal", "done".to_owned()),
        Outcome::Error(message) => ("Warning", format!("failed: {message}")),
    };
    let mut message = format!("{action} by {who} via opsbox: {result}");
    // An Event's message is capped by the API server; keep well under it.
    if message.len() > 1000 {
        let cut = (0..=1000)
            .rev()
            .find(|&i| message.is_char_boundary(i))
            .unwrap_or(0);
        message.truncate(cut);
    }
    Event {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}.opsbox-", involved.name)),
            namespace: Some(cluster.namespace.clone()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some(involved.api_version.clone()),
            kind: Some(involved.kind.clone()),
            name: Some(involved.name.clone()),
            namespace: Some(cluster.namespace.clone()),
            ..ObjectReference::default()
        },
        reason: Some(reason(action)),
        message: Some(message),
        type_: Some(kind.to_owned()),
        source: Some(EventSource {
            component: Some("opsbox".to_owned()),
            host: None,
        }),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        event_time: Some(MicroTime(now)),
        reporting_component: Some("opsbox".to_owned()),
        reporting_instance: Some(who.chars().take(128).collect()),
        action: Some(action.to_owned()),
        count: Some(1),
        ..Event::default()
    }
}

/// Posts the Event; a failure is returned for the caller to report, never retried.
pub async fn post(cluster: &Cluster, event: &Event) -> anyhow::Result<()> {
    let api: Api<Event> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    within(
        "create event",
        &cluster.server,
        api.create(&PostParams::default(), event),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_camel_case_verbs() {
        assert_eq!(reason("rollout.promote"), "OpsboxPromote");
        assert_eq!(reason("rollout.start"), "OpsboxStart");
        assert_eq!(reason("instance.restart"), "OpsboxRestart");
        assert_eq!(reason("queue.requeue-all"), "OpsboxRequeueAll");
        assert_eq!(reason("release.gate"), "OpsboxGate");
    }
}
