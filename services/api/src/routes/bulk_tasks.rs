//! `POST /tasks/bulk`: many tasks in one request, behind the `bulkTasks`
//! feature flag (off: the route answers 404, as if it did not exist).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::context::AppContext;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::flags::Flag;
use crate::tasks::input::CreateTask;
use crate::tasks::store;
use opsbox_common::model::Task;

/// Most tasks one bulk request creates: one INSERT, bounded in size like the body.
pub const MAX_BULK: usize = 100;

/// Largest bulk body: 100 tasks at their largest (16 KiB payload, 200-character
/// title) fit, so no request the schema admits is refused for its size.
pub const BULK_BODY_LIMIT: usize = 2 * 1024 * 1024;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTasks {
    /// 1 to 100 tasks, each as `POST /tasks` takes it.
    #[schema(min_items = 1, max_items = 100)]
    pub tasks: Vec<CreateTask>,
}

/// The tasks created, in the order given.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedTasks {
    pub items: Vec<Task>,
}

/// Create up to 100 tasks at once, all or none. Only while the `bulkTasks`
/// feature flag is on; `Idempotency-Key` is not supported here; the body may
/// be up to 2 MiB.
#[utoipa::path(post, path = "/tasks/bulk", tag = "tasks", request_body = CreateTasks,
    responses(
        (status = 201, body = CreatedTasks),
        (status = 400, body = ErrorBody),
        (status = 404, description = "the bulkTasks feature flag is off", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn create_tasks(
    State(ctx): State<AppContext>,
    body: Result<Json<CreateTasks>, ApiError>,
) -> Result<(StatusCode, axum::Json<CreatedTasks>), ApiError> {
    // The flag is checked before the body, so a disabled route looks absent
    // whatever is sent to it.
    if !ctx.flags.is_on(Flag::BulkTasks) {
        return Err(ApiError::FeatureDisabled(Flag::BulkTasks.name()));
    }
    let Json(body) = body.map_err(|e| match e {
        ApiError::PayloadTooLarge { .. } => ApiError::PayloadTooLarge {
            limit: BULK_BODY_LIMIT,
        },
        other => other,
    })?;
    if body.tasks.is_empty() || body.tasks.len() > MAX_BULK {
        return Err(ApiError::Validation(format!(
            "tasks must hold 1 to {MAX_BULK} tasks; got {}",
            body.tasks.len()
        )));
    }
    let new = body
        .tasks
        .into_iter()
        .enumerate()
        .map(|(i, task)| {
            task.validate().map_err(|e| match e {
                ApiError::Validation(why) => ApiError::Validation(format!("tasks[{i}]: {why}")),
                other => other,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let items = store::insert_many(&ctx.db, &new).await?;
    ctx.metrics.tasks_created.inc_by(items.len() as u64);
    tracing::debug!(count = items.len(), "tasks created in bulk");
    Ok((StatusCode::CREATED, axum::Json(CreatedTasks { items })))
}
