//! The SQL behind the task endpoints.

use opsbox_common::model::{Task, TaskStatus, TASK_COLUMNS};
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::cursor::Cursor;
use super::input::NewTask;

/// Inserts a task. With an idempotency key already used, returns the task
/// that key created instead, and `false`.
pub async fn insert(
    db: &PgPool,
    new: &NewTask,
    idempotency_key: Option<&str>,
) -> sqlx::Result<(Task, bool)> {
    let sql = format!(
        "INSERT INTO tasks (id, title, kind, payload, idempotency_key) VALUES ($1, $2, $3, $4::json, $5) \
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING {TASK_COLUMNS}"
    );
    let inserted: Option<Task> = sqlx::query_as(&sql)
        .bind(Uuid::now_v7())
        .bind(&new.title)
        .bind(new.kind.as_str())
        // As text: binding a JSON value would send jsonb, whose number
        // normalisation the json column exists to avoid.
        .bind(new.payload.to_string())
        .bind(idempotency_key)
        .fetch_optional(db)
        .await?;
    if let Some(task) = inserted {
        return Ok((task, true));
    }
    let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE idempotency_key = $1");
    let existing: Task = sqlx::query_as(&sql)
        .bind(idempotency_key)
        .fetch_one(db)
        .await?;
    Ok((existing, false))
}

/// Inserts every task or none, in one statement; returned in the order given.
pub async fn insert_many(db: &PgPool, new: &[NewTask]) -> sqlx::Result<Vec<Task>> {
    let ids: Vec<Uuid> = new.iter().map(|_| Uuid::now_v7()).collect();
    let mut query = QueryBuilder::<Postgres>::new("INSERT INTO tasks (id, title, kind, payload) ");
    query.push_values(new.iter().zip(&ids), |mut row, (task, id)| {
        row.push_bind(*id)
            .push_bind(&task.title)
            .push_bind(task.kind.as_str())
            // As text, like `insert`: the json column keeps numbers as sent.
            .push_bind(task.payload.to_string())
            .push_unseparated("::json");
    });
    query.push(format!(" RETURNING {TASK_COLUMNS}"));
    let mut tasks: Vec<Task> = query.build_query_as().fetch_all(db).await?;
    // RETURNING promises no order; the client's is the one that matters.
    tasks.sort_by_key(|t| ids.iter().position(|id| *id == t.id));
    Ok(tasks)
}

pub async fn get(db: &PgPool, id: Uuid) -> sqlx::Result<Option<Task>> {
    let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1");
    sqlx::query_as(&sql).bind(id).fetch_optional(db).await
}

/// One page, newest first, plus whether more follow.
pub async fn list(
    db: &PgPool,
    status: Option<TaskStatus>,
    after: Option<Cursor>,
    limit: u32,
) -> sqlx::Result<(Vec<Task>, bool)> {
    let mut query =
        QueryBuilder::<Postgres>::new(format!("SELECT {TASK_COLUMNS} FROM tasks WHERE true"));
    if let Some(status) = status {
        query.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(cursor) = after {
        query
            .push(" AND (created_at, id) < (")
            .push_bind(cursor.created_at)
            .push(", ")
            .push_bind(cursor.id)
            .push(")");
    }
    // One extra row tells whether there is a next page without a COUNT.
    query
        .push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(i64::from(limit) + 1);
    let mut tasks: Vec<Task> = query.build_query_as().fetch_all(db).await?;
    let more = tasks.len() > limit as usize;
    tasks.truncate(limit as usize);
    Ok((tasks, more))
}

pub async fn rename(db: &PgPool, id: Uuid, title: &str) -> sqlx::Result<Option<Task>> {
    let sql = format!(
        "UPDATE tasks SET title = $2, updated_at = now() WHERE id = $1 RETURNING {TASK_COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(id)
        .bind(title)
        .fetch_optional(db)
        .await
}

pub enum Deletion {
    Deleted,
    NotFound,
    Running,
}

pub async fn delete(db: &PgPool, id: Uuid) -> sqlx::Result<Deletion> {
    let deleted = sqlx::query("DELETE FROM tasks WHERE id = $1 AND status <> 'RUNNING'")
        .bind(id)
        .execute(db)
        .await?
        .rows_affected();
    if deleted > 0 {
        return Ok(Deletion::Deleted);
    }
    let exists: Option<(String,)> = sqlx::query_as("SELECT status FROM tasks WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(if exists.is_some() {
        Deletion::Running
    } else {
        Deletion::NotFound
    })
}

/// A run that was recorded as queued, with what to restore if the job
/// cannot be enqueued.
pub struct QueuedRun {
    pub task: Task,
    pub run_id: Uuid,
    previous: Task,
    previous_run_id: Option<Uuid>,
}

pub enum RunRequest {
    Queued(Box<QueuedRun>),
    NotFound,
    AlreadyActive(TaskStatus),
}

/// Marks the task QUEUED under a fresh run id, unless a run is active.
pub async fn queue_run(db: &PgPool, id: Uuid) -> sqlx::Result<RunRequest> {
    let mut tx = db.begin().await?;
    let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1 FOR UPDATE");
    let Some(previous) = sqlx::query_as::<_, Task>(&sql)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Ok(RunRequest::NotFound);
    };
    if previous.status.is_active() {
        return Ok(RunRequest::AlreadyActive(previous.status));
    }
    let previous_run_id: Option<Uuid> =
        sqlx::query_scalar("SELECT run_id FROM tasks WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    let run_id = Uuid::now_v7();
    let sql = format!(
        "UPDATE tasks SET status = 'QUEUED', run_id = $2, attempts = 0, result = NULL, error = NULL, \
         updated_at = now() WHERE id = $1 RETURNING {TASK_COLUMNS}"
    );
    let task: Task = sqlx::query_as(&sql)
        .bind(id)
        .bind(run_id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(RunRequest::Queued(Box::new(QueuedRun {
        task,
        run_id,
        previous,
        previous_run_id,
    })))
}

/// Undoes `queue_run` when the job could not be enqueued, unless a worker
/// (through the reconciler) has picked the run up in the meantime.
pub async fn revert_run(db: &PgPool, run: &QueuedRun) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE tasks SET status = $3, run_id = $4, attempts = $5, result = $6, error = $7, \
         updated_at = now() WHERE id = $1 AND run_id = $2 AND status = 'QUEUED'",
    )
    .bind(run.task.id)
    .bind(run.run_id)
    .bind(run.previous.status.as_str())
    .bind(run.previous_run_id)
    .bind(run.previous.attempts)
    .bind(&run.previous.result)
    .bind(&run.previous.error)
    .execute(db)
    .await
    .map(|_| ())
}
