//! The control endpoint: loopback HTTP behind a bearer token. Every verb of the local
//! environment is a route here; each feature module contributes its own `routes()`.
//!
//! Errors are JSON `{"error": "..."}` with a 4xx for what the operator asked wrongly
//! (unknown instance, promote with no rollout) and 5xx for what failed underneath.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::control_error::ControlError;
use super::state::DaemonState;
use super::status::environment_status;

/// Serves until `stop` is cancelled.
pub async fn serve(listener: TcpListener, state: Arc<DaemonState>, stop: CancellationToken) {
    // Feature routes merge in above the layer, so the token guards every one of them.
    let app = Router::new()
        .route("/status", get(status))
        .route("/shutdown", post(shutdown))
        .merge(super::chaos::routes())
        .merge(super::queue::routes())
        .merge(super::slo::routes())
        .merge(super::rollout::routes())
        .merge(super::instances::routes())
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state);
    if let Err(error) = axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
    {
        tracing::error!(%error, "control endpoint failed");
    }
}

async fn status(State(state): State<Arc<DaemonState>>) -> Response {
    Json(environment_status(&state).await).into_response()
}

async fn shutdown(State(state): State<Arc<DaemonState>>) -> Response {
    tracing::info!("shutdown requested through the control endpoint");
    state.shutdown.cancel();
    StatusCode::ACCEPTED.into_response()
}

async fn require_token(
    State(state): State<Arc<DaemonState>>,
    request: Request,
    next: Next,
) -> Response {
    if authorized(&state, request.headers()) {
        next.run(request).await
    } else {
        ControlError::new(StatusCode::UNAUTHORIZED, "missing or wrong bearer token").into_response()
    }
}

fn authorized(state: &DaemonState, headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|token| constant_time_eq(token.as_bytes(), state.control_token.as_bytes()))
}

/// Compares without an early exit, so the answer time says nothing about the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
