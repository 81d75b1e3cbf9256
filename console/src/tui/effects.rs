//! Runs a confirmed action in the background: performs it on the environment, writes
//! the audit entry with its outcome, and sends the result back to the app.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::actions::{audit_record, perform, ActionContext};
use super::app::action_result;
use super::collect::Update;
use super::view::Action;
use crate::env::AnyEnvironment;
use crate::operations;

pub fn spawn_action(
    action: Action,
    environment: AnyEnvironment,
    updates: mpsc::Sender<Update>,
    interrupt: CancellationToken,
) {
    tokio::spawn(async move {
        let outcome =
            perform_and_audit_reporting(&action, &environment, interrupt, Some(updates.clone()))
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
    environment: &AnyEnvironment,
    interrupt: CancellationToken,
) -> Result<String, String> {
    perform_and_audit_reporting(action, environment, interrupt, None).await
}

/// Like [`perform_and_audit`]; a drill's steps go to `updates` as they happen.
pub async fn perform_and_audit_reporting(
    action: &Action,
    environment: &AnyEnvironment,
    interrupt: CancellationToken,
    updates: Option<mpsc::Sender<Update>>,
) -> Result<String, String> {
    let context = ActionContext {
        environment: environment.clone(),
        interrupt,
        updates,
    };
    let result = perform(&context, action).await;
    operations::record(environment, &audit_record(action), &result).await;
    result.map_err(|error| format!("{error:#}"))
}
