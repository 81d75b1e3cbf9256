//! The admin surface, present only when `OPSBOX_ADMIN_TOKEN` is set: fault
//! toggles for drills, and the queue's depth and dead letter for operators.

pub mod census;
pub mod faults;
pub mod queue;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::Router;

use crate::context::AppContext;
use crate::error::ApiError;

pub fn router() -> Router<AppContext> {
    Router::new()
        .route(
            "/admin/faults",
            get(faults::get_faults)
                .put(faults::set_faults)
                .delete(faults::clear_faults),
        )
        .route("/admin/queue", get(queue::queue_depth))
        .route("/admin/tasks/census", get(census::task_census))
        .route("/admin/dead-letters", get(queue::dead_letters))
        .route(
            "/admin/dead-letters/requeue",
            post(queue::requeue_dead_letters),
        )
}

/// The token's other header. The Kubernetes API server's service proxy authenticates
/// the caller with `Authorization` and removes it before forwarding, so an operator
/// reaching the API through the proxy (the console on a cluster) sends this instead.
pub const ADMIN_TOKEN_HEADER: &str = "x-opsbox-admin-token";

/// Proof that the request carries the admin token (bearer, or [`ADMIN_TOKEN_HEADER`]).
pub struct Admin;

impl FromRequestParts<AppContext> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &AppContext,
    ) -> Result<Self, Self::Rejection> {
        let expected = ctx.admin_token.as_deref().ok_or(ApiError::Unauthorized)?;
        let bearer = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let header = parts
            .headers
            .get(ADMIN_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok());
        let presented = bearer.or(header).ok_or(ApiError::Unauthorized)?;
        if constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
            Ok(Admin)
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}

/// Compares without an early exit, so response time does not leak how much
/// of a guessed token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
