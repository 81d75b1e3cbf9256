//! The chaos primitives of the local environment, and the task census drills count with.
//!
//! `POST /chaos/kill`, `POST /chaos/outage`, `POST /chaos/fault`, `GET /chaos` (what is in
//! force, and lately happened), `GET /tasks/census?since=`. Each primitive ends by itself
//! here in the daemon or in the API instances, never in the CLI that asked for it.

mod board;
mod census;
mod fault;
mod kill;
mod outage;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::de::DeserializeOwned;

use super::control_error::{ControlError, ControlRoutes};
use crate::chaos::ChaosStatus;
use board::ChaosBoard;

/// The chaos routes, with the board of what is in force that they share.
pub fn routes() -> ControlRoutes {
    Router::new()
        .route("/chaos", get(status))
        .route("/chaos/kill", post(kill::kill))
        .route("/chaos/outage", post(outage::begin))
        .route("/chaos/fault", post(fault::inject))
        .route("/tasks/census", get(census::census))
        .layer(Extension(Arc::new(ChaosBoard::default())))
}

async fn status(Extension(board): Extension<Arc<ChaosBoard>>) -> Json<ChaosStatus> {
    Json(board.status(chrono::Utc::now()))
}

/// Parses a JSON body with serde's own message on error (which names the bad field),
/// as a JSON 422 like every other refusal of the control endpoint.
fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ControlError> {
    serde_json::from_slice(body)
        .map_err(|error| ControlError::invalid(format!("invalid request: {error}")))
}
