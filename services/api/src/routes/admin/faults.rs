//! Runtime fault toggles (`/admin/faults`) for drills.

use axum::extract::State;
use axum::http::StatusCode;

use super::Admin;
use crate::context::AppContext;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::faults::FaultSettings;

/// The faults in force.
#[utoipa::path(get, path = "/admin/faults", tag = "admin", security(("admin_token" = []), ("admin_header" = [])),
    responses((status = 200, body = FaultSettings), (status = 401, body = ErrorBody)))]
pub async fn get_faults(_: Admin, State(ctx): State<AppContext>) -> axum::Json<FaultSettings> {
    axum::Json(ctx.faults.current())
}

/// Set the faults; with `duration_secs` they revert by themselves.
#[utoipa::path(put, path = "/admin/faults", tag = "admin", security(("admin_token" = []), ("admin_header" = [])), request_body = FaultSettings,
    responses((status = 200, body = FaultSettings), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_faults(
    _: Admin,
    State(ctx): State<AppContext>,
    Json(settings): Json<FaultSettings>,
) -> Result<axum::Json<FaultSettings>, ApiError> {
    if !(0.0..=1.0).contains(&settings.error_rate) {
        return Err(ApiError::Validation(
            "error_rate must be between 0 and 1".to_owned(),
        ));
    }
    if settings.duration_secs.is_some_and(|s| s > 86_400) {
        return Err(ApiError::Validation(
            "duration_secs must be at most 86400".to_owned(),
        ));
    }
    if settings.latency_ms > 60_000 {
        return Err(ApiError::Validation(
            "latency_ms must be at most 60000".to_owned(),
        ));
    }
    tracing::warn!(
        error_rate = settings.error_rate,
        latency_ms = settings.latency_ms,
        duration_secs = settings.duration_secs,
        "faults set"
    );
    ctx.faults.set(settings);
    Ok(axum::Json(ctx.faults.current()))
}

/// Remove every fault.
#[utoipa::path(delete, path = "/admin/faults", tag = "admin", security(("admin_token" = []), ("admin_header" = [])),
    responses((status = 204, description = "faults cleared"), (status = 401, body = ErrorBody)))]
pub async fn clear_faults(_: Admin, State(ctx): State<AppContext>) -> StatusCode {
    tracing::warn!("faults cleared");
    ctx.faults.clear();
    StatusCode::NO_CONTENT
}
