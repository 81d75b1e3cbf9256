//! `GET /tasks/census?since=RFC3339`: tasks created since a time, by status, counted in
//! PostgreSQL. Drills count lost tasks with it: the database is the truth, not the queue.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use sqlx::Connection;

use super::super::control_error::ControlError;
use super::super::state::DaemonState;
use crate::chaos::TaskCensus;

/// Connecting and counting together; a database that is down or frozen gives a 503 soon.
const CENSUS_TIMEOUT: Duration = Duration::from_secs(3);

pub async fn census(
    State(state): State<Arc<DaemonState>>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Json<TaskCensus>, ControlError> {
    let since = query
        .get("since")
        .ok_or_else(|| ControlError::invalid("give `since`, an RFC 3339 time"))?;
    let since = DateTime::parse_from_rfc3339(since)
        .map_err(|error| {
            ControlError::invalid(format!(
                "`since` is not an RFC 3339 time ({error}): {since}"
            ))
        })?
        .with_timezone(&Utc);
    let database_url = state.running_deps()?.database_url().to_owned();
    let census = tokio::time::timeout(CENSUS_TIMEOUT, count(&database_url, since))
        .await
        .map_err(|_| unavailable("the database did not answer in time"))?
        .map_err(|error| unavailable(&format!("{error:#}")))?;
    Ok(Json(census))
}

/// One short-lived connection per census: drills ask every second or so, and no pool
/// is left holding connections to a database that an outage is about to take away.
async fn count(database_url: &str, since: DateTime<Utc>) -> anyhow::Result<TaskCensus> {
    let mut connection = sqlx::PgConnection::connect(database_url).await?;
    let census = opsbox_common::census::count(&mut connection, since).await?;
    connection.close().await?;
    Ok(census)
}

fn unavailable(message: &str) -> ControlError {
    ControlError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("cannot count tasks: {message}"),
    )
}
