//! The router: one module per resource, assembled here with the layers that
//! apply to all of them.

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::post;
use axum::Router;

use crate::context::AppContext;
use crate::error::ApiError;
use crate::observe;

pub mod admin;
pub mod bulk_tasks;
pub mod docs;
pub mod flags;
pub mod probes;
pub mod tasks;

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

pub fn router(ctx: AppContext) -> Router {
    let tasks = tasks::router()
        .route(
            "/tasks/bulk",
            post(bulk_tasks::create_tasks)
                .layer(DefaultBodyLimit::max(bulk_tasks::BULK_BODY_LIMIT)),
        )
        .route_layer(from_fn_with_state(ctx.clone(), observe::inject_faults));
    let mut app = Router::new()
        .merge(probes::router())
        .merge(docs::router())
        .merge(flags::router())
        .merge(tasks);
    // The admin surface exists only when a token is configured: without one
    // it is a 404 like any unknown path, not a door with a weak lock.
    if ctx.admin_token.is_some() {
        app = app.merge(admin::router());
    }
    app.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(ctx.clone(), observe::observe))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(ctx)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".to_owned())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
