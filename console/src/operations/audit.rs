//! The one way an operation reaches the audit log: who, when, where, what, and how it
//! ended, in the environment's records.

use crate::audit::{AuditEntry, Outcome};
use crate::env::Environment;

/// Which front end asked; the console's entries say so, the CLI's are the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Cli,
    Console,
}

/// What the audit log records about an operation (the outcome is added once known).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// `rollout.promote`, `chaos.kill`, ...
    pub action: &'static str,
    pub target: String,
    pub parameters: serde_json::Value,
}

impl AuditRecord {
    /// A drill run: its verdict is the outcome.
    pub fn drill(name: &str, parameters: serde_json::Value) -> Self {
        Self {
            action: "drill.run",
            target: name.to_owned(),
            parameters,
        }
    }

    /// The record as the front end that asked writes it: the console adds `via`.
    #[must_use]
    pub fn via(mut self, via: Via) -> Self {
        if via == Via::Console {
            match self.parameters.as_object_mut() {
                Some(all) => {
                    all.insert("via".to_owned(), "console".into());
                }
                None => self.parameters = serde_json::json!({ "via": "console" }),
            }
        }
        self
    }
}

/// Appends the entry to the environment's audit log; a log that cannot be written is
/// reported on stderr by the log itself and never fails the operation.
pub async fn record<T>(
    environment: &impl Environment,
    audit: &AuditRecord,
    result: &anyhow::Result<T>,
) {
    record_outcome(environment, audit, Outcome::from_result(result)).await;
}

/// [`record`] with the outcome already decided (a drill's verdict).
pub async fn record_outcome(environment: &impl Environment, audit: &AuditRecord, outcome: Outcome) {
    environment
        .announce(audit.action, &audit.target, &outcome)
        .await;
    let entry = AuditEntry::by_current_user(
        environment.name(),
        audit.action,
        &audit.target,
        audit.parameters.clone(),
        outcome,
    );
    let log = environment.records().audit_log();
    // A blocking append of one line: off the async threads.
    let _ = tokio::task::spawn_blocking(move || log.record(&entry)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_adds_via_and_the_cli_does_not() {
        let audit = AuditRecord {
            action: "rollout.promote",
            target: "api".to_owned(),
            parameters: serde_json::json!({ "full": true }),
        };
        assert_eq!(
            audit.clone().via(Via::Console).parameters,
            serde_json::json!({ "full": true, "via": "console" })
        );
        assert_eq!(
            audit.via(Via::Cli).parameters,
            serde_json::json!({ "full": true })
        );
        assert_eq!(
            AuditRecord::drill("worker-crash", serde_json::Value::Null)
                .via(Via::Console)
                .parameters,
            serde_json::json!({ "via": "console" })
        );
    }
}
