//! Tasks created since a time, by status: the census a drill takes before and after a
//! fault to tell a lost task from a slow one, here for a cluster (the local environment's
//! daemon answers the same question for its own database).

use axum::extract::State;
use chrono::{DateTime, Utc};
use opsbox_common::census::{self, TaskCensus};
use serde::Deserialize;
use utoipa::IntoParams;

use super::Admin;
use crate::context::AppContext;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Query;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CensusParams {
    /// Count the tasks created at or after this RFC 3339 time.
    #[param(format = DateTime)]
    pub since: String,
}

/// Tasks created since `since`, by status.
#[utoipa::path(get, path = "/admin/tasks/census", tag = "admin", security(("admin_token" = []), ("admin_header" = [])),
    params(CensusParams),
    responses((status = 200, body = TaskCensus), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn task_census(
    _: Admin,
    State(ctx): State<AppContext>,
    Query(params): Query<CensusParams>,
) -> Result<axum::Json<TaskCensus>, ApiError> {
    let raw = params.since;
    let since = DateTime::parse_from_rfc3339(&raw)
        .map_err(|error| {
            ApiError::BadRequest(format!("`since` is not an RFC 3339 time ({error}): {raw}"))
        })?
        .with_timezone(&Utc);
    Ok(axum::Json(census::count(&ctx.db, since).await?))
}
