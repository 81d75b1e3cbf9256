//! Requeueing dead letters from the daemon: the requeue the API's admin route runs too
//! (`opsbox_common::queue::requeue`), on one short-lived connection (requeues are rare,
//! and a pool would keep connections open to a database that chaos may take away),
//! within a deadline, its errors as HTTP statuses.

use std::time::Duration;

use axum::http::StatusCode;
use opsbox_common::queue::{JobQueue, RequeueError};
use sqlx::{Connection, PgConnection};

use super::super::control_error::ControlError;
use crate::model::RequeueReport;

pub use opsbox_common::queue::RequeueTarget as Target;

/// The most one requeue request may take, database and Redis together.
const REQUEUE_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(
    database_url: &str,
    queue: &JobQueue,
    target: Target,
) -> Result<RequeueReport, ControlError> {
    let requeue = async {
        let mut db = PgConnection::connect(database_url).await.map_err(|e| {
            ControlError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot reach PostgreSQL to give the tasks a fresh run: {e}"),
            )
        })?;
        let result = opsbox_common::queue::requeue(&mut db, queue, target).await;
        let _ = db.close().await;
        result.map_err(control_error)
    };
    match tokio::time::timeout(REQUEUE_TIMEOUT, requeue).await {
        Ok(result) => result,
        Err(_) => Err(ControlError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the requeue took longer than {REQUEUE_TIMEOUT:?}; what was done so far stays done \
                 (see `opsbox queue`)"
            ),
        )),
    }
}

fn control_error(error: RequeueError) -> ControlError {
    match error {
        RequeueError::NoDeadLetter(_) => ControlError::not_found(error.to_string()),
        // The store is away (or was, part way): worth a retry later.
        other => ControlError::new(StatusCode::SERVICE_UNAVAILABLE, other.to_string()),
    }
}
