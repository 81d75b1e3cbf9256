//! Liveness, readiness and the metrics endpoint. Never faulted.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::context::AppContext;

/// A dependency check that takes longer than this counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_millis(500);

pub fn router() -> Router<AppContext> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// Liveness: the process serves HTTP. No dependency is checked, so a
/// database outage never gets the API restarted.
#[utoipa::path(get, path = "/health", tag = "probes", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`, `unavailable` or `draining`.
    pub status: &'static str,
    /// `ok`, or why the dependency failed its check.
    pub database: String,
    pub redis: String,
}

/// Readiness: Postgres and Redis answer within 500 ms and the process is not
/// shutting down.
#[utoipa::path(get, path = "/ready", tag = "probes", responses(
    (status = 200, body = Readiness),
    (status = 503, description = "a dependency failed or the process is draining", body = Readiness),
))]
pub async fn ready(State(ctx): State<AppContext>) -> (StatusCode, Json<Readiness>) {
    if ctx.is_draining() {
        let draining = || "not checked".to_owned();
        let body = Readiness {
            status: "draining",
            database: draining(),
            redis: draining(),
        };
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body));
    }
    let database = async {
        let query = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&ctx.db);
        match tokio::time::timeout(CHECK_TIMEOUT, query).await {
            Ok(Ok(_)) => "ok".to_owned(),
            Ok(Err(e)) => format!("error: {e}"),
            Err(_) => format!("error: no answer within {CHECK_TIMEOUT:?}"),
        }
    };
    let redis = async {
        match ctx.queue.redis().ping().await {
            Ok(()) => "ok".to_owned(),
            Err(e) => format!("error: {e}"),
        }
    };
    let (database, redis) = tokio::join!(database, redis);
    let ready = database == "ok" && redis == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        status: if ready { "ready" } else { "unavailable" },
        database,
        redis,
    };
    (status, Json(body))
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "probes", responses(
    (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
))]
pub async fn metrics(State(ctx): State<AppContext>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        ctx.metrics.render(&ctx.db),
    )
}
