//! The operator's changes to an environment, one type for the CLI verbs and the
//! console's actions: each operation performs itself through the [`Environment`] and
//! names its own audit record, so both front ends write the same entries.

mod audit;

use std::collections::BTreeMap;

use serde_json::json;

pub use audit::{record, record_outcome, AuditRecord, Via};

use crate::chaos::{FaultReport, FaultRequest, KillRequest, Killed, Outage, OutageRequest};
use crate::env::{Environment, Verb};
use crate::model::{RequeueReport, RequeueRequest, RolloutStatus};

/// A change the operator asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    StartRollout {
        revision: String,
        overrides: BTreeMap<String, String>,
    },
    Promote {
        full: bool,
    },
    Abort,
    Retry,
    Undo {
        to: Option<String>,
    },
    Kill(KillRequest),
    Restart {
        instance: String,
    },
    Outage(OutageRequest),
    Fault(FaultRequest),
    Requeue(RequeueRequest),
}

/// What the environment answered.
#[derive(Debug, Clone)]
pub enum Performed {
    Rollout(RolloutStatus),
    Killed(Killed),
    Restarted(String),
    Outage(Outage),
    Fault(FaultReport),
    Requeued(RequeueReport),
}

impl Operation {
    /// The permission it needs.
    pub fn verb(&self) -> Verb {
        match self {
            Operation::StartRollout { .. } => Verb::StartRollout,
            Operation::Promote { .. } => Verb::Promote,
            Operation::Abort => Verb::Abort,
            Operation::Retry => Verb::Retry,
            Operation::Undo { .. } => Verb::Undo,
            Operation::Kill(_) => Verb::Kill,
            Operation::Restart { .. } => Verb::Restart,
            Operation::Outage(_) => Verb::Outage,
            Operation::Fault(_) => Verb::Fault,
            Operation::Requeue(_) => Verb::Requeue,
        }
    }

    /// The audit log's name for it.
    pub fn action(&self) -> &'static str {
        match self {
            Operation::StartRollout { .. } => "rollout.start",
            Operation::Promote { .. } => "rollout.promote",
            Operation::Abort => "rollout.abort",
            Operation::Retry => "rollout.retry",
            Operation::Undo { .. } => "rollout.undo",
            Operation::Kill(_) => "chaos.kill",
            Operation::Restart { .. } => "instance.restart",
            Operation::Outage(_) => "chaos.outage",
            Operation::Fault(_) => "chaos.fault",
            Operation::Requeue(_) => "queue.requeue",
        }
    }

    /// What it changes, before it is known exactly (a random kill names its victim after).
    pub fn target(&self) -> String {
        match self {
            Operation::StartRollout { revision, .. } => revision.clone(),
            Operation::Promote { .. }
            | Operation::Abort
            | Operation::Retry
            | Operation::Undo { .. } => "api".to_owned(),
            Operation::Kill(request) => request.instance.clone().unwrap_or_else(|| {
                let workload = request.workload.as_deref().unwrap_or("any workload");
                match request.track {
                    Some(track) => format!("random {workload} on {track}"),
                    None => format!("random {workload}"),
                }
            }),
            Operation::Restart { instance } => instance.clone(),
            Operation::Outage(request) => request.dependency.as_str().to_owned(),
            Operation::Fault(request) => request
                .track
                .map_or_else(|| "api".to_owned(), |track| format!("api/{track}")),
            Operation::Requeue(request) => request
                .job
                .clone()
                .filter(|_| !request.all)
                .unwrap_or_else(|| "all dead letters".to_owned()),
        }
    }

    /// Its parameters as the audit log keeps them.
    pub fn parameters(&self) -> serde_json::Value {
        match self {
            Operation::StartRollout { overrides, .. } => json!({ "set": overrides }),
            Operation::Promote { full } => json!({ "full": full }),
            Operation::Abort | Operation::Retry | Operation::Restart { .. } => json!({}),
            Operation::Undo { to } => json!({ "to_revision": to }),
            Operation::Kill(request) => value(request),
            Operation::Outage(request) => value(request),
            Operation::Fault(request) => value(request),
            Operation::Requeue(request) => value(request),
        }
    }

    /// The audit record of this operation, before its outcome is known.
    pub fn audit_record(&self) -> AuditRecord {
        AuditRecord {
            action: self.action(),
            target: self.target(),
            parameters: self.parameters(),
        }
    }

    /// Carries it out; the caller writes the audit entry with [`record`].
    pub async fn perform(&self, environment: &impl Environment) -> anyhow::Result<Performed> {
        Ok(match self {
            Operation::StartRollout {
                revision,
                overrides,
            } => Performed::Rollout(environment.start_rollout(revision, overrides).await?),
            Operation::Promote { full } => Performed::Rollout(environment.promote(*full).await?),
            Operation::Abort => Performed::Rollout(environment.abort().await?),
            Operation::Retry => Performed::Rollout(environment.retry().await?),
            Operation::Undo { to } => Performed::Rollout(environment.undo(to.as_deref()).await?),
            Operation::Kill(request) => Performed::Killed(environment.kill(request).await?),
            Operation::Restart { instance } => {
                environment.restart_instance(instance).await?;
                Performed::Restarted(instance.clone())
            }
            Operation::Outage(request) => {
                let support = environment.chaos_support();
                support
                    .outage(request.dependency)
                    .check()
                    .map_err(|reason| anyhow::anyhow!("{reason}"))?;
                Performed::Outage(environment.outage(request).await?)
            }
            Operation::Fault(request) => {
                request.check().map_err(anyhow::Error::msg)?;
                let support = environment.chaos_support();
                support
                    .fault
                    .check()
                    .map_err(|reason| anyhow::anyhow!("{reason}"))?;
                Performed::Fault(environment.fault(request).await?)
            }
            Operation::Requeue(request) => Performed::Requeued(environment.requeue(request).await?),
        })
    }

    /// Performs it and writes its audit entry (naming a random kill's victim); what the
    /// environment answered, or its error.
    pub async fn perform_and_record(
        &self,
        environment: &impl Environment,
        via: Via,
    ) -> anyhow::Result<Performed> {
        let result = self.perform(environment).await;
        let mut audit = self.audit_record().via(via);
        if let Ok(Performed::Killed(killed)) = &result {
            audit.target.clone_from(&killed.instance);
        }
        record(environment, &audit, &result).await;
        result
    }
}

/// A request as the audit log keeps it; one that cannot be serialized is recorded as `null`.
fn value<T: serde::Serialize>(request: &T) -> serde_json::Value {
    serde_json::to_value(request).unwrap_or_default()
}

#[cfg(test)]
mod tests;
