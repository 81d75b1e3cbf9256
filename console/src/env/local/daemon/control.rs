//! The control endpoint: loopback HTTP behind a bearer token, `GET /status` and `POST /shutdown`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::state::DaemonState;
use super::status::environment_status;

/// Serves until `stop` is cancelled.
pub async fn serve(listener: TcpListener, state: Arc<DaemonState>, stop: CancellationToken) {
    let app = Router::new()
        .route("/status", get(status))
        .route("/shutdown", post(shutdown))
        .with_state(state);
    if let Err(error) = axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
    {
        tracing::error!(%error, "control endpoint failed");
    }
}

async fn status(State(state): State<Arc<DaemonState>>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    Json(environment_status(&state).await).into_response()
}

async fn shutdown(State(state): State<Arc<DaemonState>>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    tracing::info!("shutdown requested through the control endpoint");
    state.shutdown.cancel();
    StatusCode::ACCEPTED.into_response()
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

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(serde_json::json!({ "error": "missing or wrong bearer token" })),
    )
        .into_response()
}
