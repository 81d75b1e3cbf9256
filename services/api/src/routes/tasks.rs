//! The task endpoints.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use opsbox_common::model::{Task, TaskStatus};
use opsbox_common::queue::Job;
use opsbox_common::telemetry;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::context::AppContext;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::tasks::cursor::Cursor;
use crate::tasks::input::{validate_idempotency_key, validate_title, CreateTask, UpdateTask};
use crate::tasks::store::{self, Deletion, RunRequest};

pub const DEFAULT_PAGE: u32 = 20;
pub const MAX_PAGE: u32 = 100;

pub fn router() -> Router<AppContext> {
    Router::new()
        .route("/tasks", post(create_task).get(list_tasks))
        .route(
            "/tasks/{id}",
            get(get_task).patch(update_task).delete(delete_task),
        )
        .route("/tasks/{id}/run", post(run_task))
}

type Created = (StatusCode, HeaderMap, axum::Json<Task>);

fn with_location(status: StatusCode, task: Task) -> Created {
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/tasks/{}", task.id)) {
        headers.insert(header::LOCATION, location);
    }
    (status, headers, axum::Json(task))
}

/// Create a task. A retried request with the same `Idempotency-Key` returns
/// the task the first one created.
#[utoipa::path(post, path = "/tasks", tag = "tasks",
    request_body = CreateTask,
    params(("Idempotency-Key" = Option<String>, Header, pattern = r"^[\x21-\x7E]{1,255}$",
        description = "1-255 visible ASCII characters; replays return the same task")),
    responses(
        (status = 201, body = Task, headers(("Location" = String, description = "URL of the task"))),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn create_task(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    Json(body): Json<CreateTask>,
) -> Result<Created, ApiError> {
    let key = headers
        .get("idempotency-key")
        .map(|v| validate_idempotency_key(v.as_bytes()))
        .transpose()?;
    let new = body.validate()?;
    let (task, created) = store::insert(&ctx.db, &new, key.as_deref()).await?;
    if created {
        ctx.metrics.tasks_created.inc();
        tracing::debug!(task_id = %task.id, kind = task.kind.as_str(), "task created");
    }
    let mut response = with_location(StatusCode::CREATED, task);
    if !created {
        response
            .1
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only tasks in this status.
    #[param(value_type = Option<TaskStatus>)]
    pub status: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page; empty or absent: the first page.
    #[param(pattern = "^([A-Za-z0-9_-]{32})?$")]
    pub cursor: Option<String>,
}

/// One page of tasks, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaskPage {
    pub items: Vec<Task>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// List tasks, newest first, with keyset pagination.
#[utoipa::path(get, path = "/tasks", tag = "tasks", params(ListParams), responses(
    (status = 200, body = TaskPage), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody),
    (status = 503, body = ErrorBody),
))]
pub async fn list_tasks(
    State(ctx): State<AppContext>,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<TaskPage>, ApiError> {
    // `?cursor=` (empty) is what a client sends for "from the start" when it
    // templates the cursor of the previous page: treat it as absent.
    let cursor = params.cursor.as_deref().filter(|c| !c.is_empty());
    let status = params
        .status
        .as_deref()
        .map(|s| {
            TaskStatus::parse(s).ok_or_else(|| {
                ApiError::Validation(format!(
                    "status must be one of PENDING, QUEUED, RUNNING, DONE, FAILED; got {s:?}"
                ))
            })
        })
        .transpose()?;
    let limit = match params.limit.as_deref() {
        None => DEFAULT_PAGE,
        Some(raw) => {
            let limit: i64 = raw.parse().map_err(|_| {
                ApiError::BadRequest(format!("limit must be an integer; got {raw:?}"))
            })?;
            if !(1..=i64::from(MAX_PAGE)).contains(&limit) {
                return Err(ApiError::Validation(format!(
                    "limit must be between 1 and {MAX_PAGE}; got {limit}"
                )));
            }
            limit as u32
        }
    };
    let after = cursor.map(Cursor::decode).transpose()?;
    let (items, more) = store::list(&ctx.db, status, after, limit).await?;
    let next_cursor = more
        .then(|| {
            items.last().map(|t| {
                Cursor {
                    created_at: t.created_at,
                    id: t.id,
                }
                .encode()
            })
        })
        .flatten();
    Ok(axum::Json(TaskPage { items, next_cursor }))
}

/// Get one task.
#[utoipa::path(get, path = "/tasks/{id}", tag = "tasks",
    params(("id" = Uuid, Path, description = "Task id")),
    responses((status = 200, body = Task), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn get_task(
    State(ctx): State<AppContext>,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Task>, ApiError> {
    store::get(&ctx.db, id)
        .await?
        .map(axum::Json)
        .ok_or_else(|| task_not_found(id))
}

/// Rename a task.
#[utoipa::path(patch, path = "/tasks/{id}", tag = "tasks", request_body = UpdateTask,
    params(("id" = Uuid, Path, description = "Task id")),
    responses((status = 200, body = Task), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn update_task(
    State(ctx): State<AppContext>,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateTask>,
) -> Result<axum::Json<Task>, ApiError> {
    let title = validate_title(&body.title)?;
    store::rename(&ctx.db, id, &title)
        .await?
        .map(axum::Json)
        .ok_or_else(|| task_not_found(id))
}

/// Delete a task; refused while it runs.
#[utoipa::path(delete, path = "/tasks/{id}", tag = "tasks",
    params(("id" = Uuid, Path, description = "Task id")),
    responses((status = 204, description = "deleted"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn delete_task(
    State(ctx): State<AppContext>,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    match store::delete(&ctx.db, id).await? {
        Deletion::Deleted => Ok(StatusCode::NO_CONTENT),
        Deletion::NotFound => Err(task_not_found(id)),
        Deletion::Running => Err(ApiError::Conflict(format!(
            "task {id} is RUNNING; delete it once it has finished"
        ))),
    }
}

/// Queue a run of the task.
#[utoipa::path(post, path = "/tasks/{id}/run", tag = "tasks",
    params(("id" = Uuid, Path, description = "Task id")),
    responses((status = 202, body = Task, headers(("Location" = String))), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn run_task(
    State(ctx): State<AppContext>,
    Path(id): Path<Uuid>,
) -> Result<Created, ApiError> {
    let run = match store::queue_run(&ctx.db, id).await? {
        RunRequest::Queued(run) => run,
        RunRequest::NotFound => return Err(task_not_found(id)),
        RunRequest::AlreadyActive(status) => {
            return Err(ApiError::Conflict(format!(
                "task {id} is already {}",
                status.as_str()
            )))
        }
    };
    let job = Job::new(
        id,
        run.run_id,
        run.task.kind,
        telemetry::current_trace_context(),
    );
    if let Err(e) = ctx.queue.enqueue(&job).await {
        // Without the job the run would wait for the reconciler; tell the
        // client now instead, and put the task back as it was.
        if let Err(revert) = store::revert_run(&ctx.db, &run).await {
            tracing::warn!(task_id = %id, error = %revert, "could not revert the run; the reconciler will queue it");
        }
        return Err(e.into());
    }
    ctx.metrics.jobs_enqueued.inc();
    tracing::debug!(task_id = %id, run_id = %run.run_id, "run queued");
    Ok(with_location(StatusCode::ACCEPTED, run.task))
}

fn task_not_found(id: Uuid) -> ApiError {
    ApiError::NotFound(format!("task {id} does not exist"))
}
