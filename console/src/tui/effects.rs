//! Runs a confirmed action in the background: reaches the environment, performs it,
//! writes the audit entry with its outcome, and sends the result back to the app.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::actions::{audit_record, perform, ActionContext};
use super::app::action_result;
use super::collect::{Connector, Update};
use super::view::Action;
use crate::audit::{AuditEntry, AuditLog, Outcome};

pub fn spawn_action(
    action: Action,
    connector: Arc<Connector>,
    updates: mpsc::Sender<Update>,
    interrupt: CancellationToken,
) {
    tokio::spawn(async move {
        let outcome =
            perform_and_audit_reporting(&action, &connector, interrupt, Some(updates.clone()))
                .await;
        // The app may be gone (quit); the audit entry is written either way.
        let _ = updates
            .send(Update::ActionDone(action_result(&action, outcome)))
            .await;
    });
}

/// Performs the action and records it; `Err` carries the error text the operator sees.
pub async fn perform_and_audit(
    action: &Action,
    connector: &Connector,
    interrupt: CancellationToken,
) -> Result<String, String> {
    perform_and_audit_reporting(action, connector, interrupt, None).await
}

/// Like [`perform_and_audit`]; a drill's steps go to `updates` as they happen.
pub async fn perform_and_audit_reporting(
    action: &Action,
    connector: &Connector,
    interrupt: CancellationToken,
    updates: Option<mpsc::Sender<Update>>,
) -> Result<String, String> {
    let state = connector.state_dir().clone();
    let result = match connector.client() {
        Ok(client) => {
            let context = ActionContext {
                client,
                state: state.clone(),
                interrupt,
                updates,
            };
            perform(&context, action).await
        }
        Err(not_running) => Err(anyhow::Error::new(not_running)),
    };
    let record = audit_record(action);
    let log = AuditLog::new(state.audit_log());
    let entry = AuditEntry::by_current_user(
        "local",
        record.action,
        &record.target,
        record.parameters,
        Outcome::from_result(&result),
    );
    // A blocking append of one line; off the async threads all the same.
    let _ = tokio::task::spawn_blocking(move || log.record(&entry)).await;
    result.map_err(|error| format!("{error:#}"))
}
