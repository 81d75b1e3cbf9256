//! `GET /rollout` and the verbs `POST /rollout/{start,promote,abort,retry,undo}`.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::Json;

use super::super::control_error::{ControlError, ControlRoutes};
use super::super::state::DaemonState;
use super::machine::{ErrorKind, RolloutError, StartRequest};
use super::{RolloutController, Verb};
use crate::env::local::rollout_api::{PromoteRollout, StartRollout, UndoRollout};
use crate::model::RolloutStatus;

pub fn routes() -> ControlRoutes {
    axum::Router::new()
        .route("/rollout", get(status))
        .route("/rollout/start", post(start))
        .route("/rollout/promote", post(promote))
        .route("/rollout/abort", post(abort))
        .route("/rollout/retry", post(retry))
        .route("/rollout/undo", post(undo))
}

type Answer = Result<Json<RolloutStatus>, ControlError>;

fn controller(state: &DaemonState) -> Result<&RolloutController, ControlError> {
    state.rollout.get().ok_or_else(|| {
        ControlError::conflict(
            "the environment is still starting; try again when `opsbox status` says ready",
        )
    })
}

async fn status(State(state): State<Arc<DaemonState>>) -> Answer {
    Ok(Json(controller(&state)?.status()))
}

async fn start(State(state): State<Arc<DaemonState>>, Json(body): Json<StartRollout>) -> Answer {
    verb(
        &state,
        Verb::Start(StartRequest {
            revision: body.revision,
            overrides: body.set,
        }),
    )
    .await
}

async fn promote(
    State(state): State<Arc<DaemonState>>,
    Json(body): Json<PromoteRollout>,
) -> Answer {
    verb(&state, Verb::Promote { full: body.full }).await
}

async fn abort(State(state): State<Arc<DaemonState>>) -> Answer {
    verb(&state, Verb::Abort).await
}

async fn retry(State(state): State<Arc<DaemonState>>) -> Answer {
    verb(&state, Verb::Retry).await
}

async fn undo(State(state): State<Arc<DaemonState>>, Json(body): Json<UndoRollout>) -> Answer {
    verb(
        &state,
        Verb::Undo {
            to: body.to_revision,
        },
    )
    .await
}

async fn verb(state: &DaemonState, verb: Verb) -> Answer {
    controller(state)?
        .request(verb)
        .await
        .map(Json)
        .map_err(refused)
}

fn refused(error: RolloutError) -> ControlError {
    let message = error.to_string();
    match error.kind() {
        ErrorKind::NotFound => ControlError::not_found(message),
        ErrorKind::Conflict => ControlError::conflict(message),
        ErrorKind::Invalid => ControlError::invalid(message),
    }
}
