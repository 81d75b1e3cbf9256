//! The feature flags in force. Never faulted: an operator checks it during a drill.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::context::AppContext;
use crate::flags::FlagsView;

pub fn router() -> Router<AppContext> {
    Router::new().route("/flags", get(get_flags))
}

/// The flags in force, where they came from, and why the file's latest
/// content was refused if it was.
#[utoipa::path(get, path = "/flags", tag = "probes", responses((status = 200, body = FlagsView)))]
pub async fn get_flags(State(ctx): State<AppContext>) -> Json<FlagsView> {
    Json(ctx.flags.view())
}
