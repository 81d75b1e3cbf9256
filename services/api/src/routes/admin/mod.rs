//! The admin surface, present only when `OPSBOX_ADMIN_TOKEN` is set: fault
//! toggles for drills, and the queue's depth and dead letter for operators.

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
        .route("/admin/dead-letters", get(queue::dead_letters))
        .route(
            "/admin/dead-letters/requeue",
            post(queue::requeue_dead_letters),
        )
}

/// Proof that the request carries the admin bearer token.
pub struct Admin;

impl FromRequestParts<AppContext> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &AppContext,
    ) -> Result<Self, Self::Rejection> {
        let expected = ctx.admin_token.as_deref().ok_or(ApiError::Unauthorized)?;
        let presented = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
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
