//! The OpenAPI document.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::context::AppContext;
use crate::openapi::ApiDoc;

pub fn router() -> Router<AppContext> {
    Router::new().route("/openapi.json", get(openapi))
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "probes", responses((status = 200, description = "OpenAPI 3 document", content_type = "application/json")))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
