//! `POST /instances/{name}/restart`: a graceful restart of one instance, as the console's
//! Instances view asks for it (kill is chaos and lives under `/chaos/kill`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::super::supervisor::SupervisorError;
use super::control_error::{ControlError, ControlRoutes};
use super::state::DaemonState;

/// The answer to a restart: the instance has been stopped and is starting again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restarted {
    pub instance: String,
    /// The process that was stopped, when one was running.
    pub stopped_pid: Option<u32>,
    pub at: DateTime<Utc>,
}

pub fn routes() -> ControlRoutes {
    Router::new().route("/instances/{name}/restart", post(restart))
}

async fn restart(
    State(state): State<Arc<DaemonState>>,
    Path(name): Path<String>,
) -> Result<Json<Restarted>, ControlError> {
    let supervisor = state.running_supervisor()?;
    let stopped_pid = supervisor.instance(&name).and_then(|instance| instance.pid);
    supervisor
        .restart(&name)
        .await
        .map_err(|error| match error {
            SupervisorError::UnknownInstance(_) => {
                let known: Vec<String> =
                    supervisor.snapshot().into_iter().map(|i| i.name).collect();
                ControlError::not_found(format!(
                    "no instance named {name:?}; known: {}",
                    known.join(", ")
                ))
            }
            SupervisorError::InstanceGone(_) => ControlError::conflict(error.to_string()),
            other => ControlError::internal(&other.into()),
        })?;
    tracing::info!(instance = %name, ?stopped_pid, "instance restarted on request");
    Ok(Json(Restarted {
        instance: name,
        stopped_pid,
        at: Utc::now(),
    }))
}
