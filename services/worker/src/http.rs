//! The worker's HTTP surface: liveness, readiness and Prometheus metrics.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::context::WorkerContext;
use crate::store;

/// A dependency slower than this counts as down: readiness must answer fast.
const READINESS_TIMEOUT: Duration = Duration::from_millis(500);

pub fn router(ctx: Arc<WorkerContext>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(ctx)
}

/// Liveness: the process answers. Deliberately checks no dependency, so an
/// outage of Postgres or Redis does not get every worker restarted.
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: not shutting down, and both stores answer in time. The body
/// names each failing dependency with its error.
async fn ready(State(ctx): State<Arc<WorkerContext>>) -> Response {
    if ctx.is_shutting_down() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "shutting_down" })),
        )
            .into_response();
    }
    let postgres = async {
        match tokio::time::timeout(READINESS_TIMEOUT, store::ping(&ctx.db)).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer within {READINESS_TIMEOUT:?}")),
        }
    };
    let redis = async {
        match tokio::time::timeout(READINESS_TIMEOUT, ctx.queue.redis().ping()).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer within {READINESS_TIMEOUT:?}")),
        }
    };
    let (postgres, redis) = tokio::join!(postgres, redis);
    let failing: Map<String, Value> = [("postgres", postgres), ("redis", redis)]
        .into_iter()
        .filter_map(|(name, error)| error.map(|e| (name.to_owned(), Value::String(e))))
        .collect();
    if failing.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "ok" }))).into_response()
    } else {
        tracing::debug!(?failing, "not ready");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "failing": failing })),
        )
            .into_response()
    }
}

/// Metrics, with the queue depth read now: a gauge refreshed on scrape is
/// never staler than the scrape itself. While Redis is down the last known
/// depth is served.
async fn metrics(State(ctx): State<Arc<WorkerContext>>) -> Response {
    match tokio::time::timeout(READINESS_TIMEOUT * 2, ctx.queue.depth()).await {
        Ok(Ok(depth)) => ctx.metrics.set_queue_depth(depth),
        Ok(Err(e)) => tracing::debug!(error = %e, "queue depth unavailable"),
        Err(_) => tracing::debug!("queue depth unavailable: Redis too slow"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        ctx.metrics.encode(),
    )
        .into_response()
}
