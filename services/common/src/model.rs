//! The task: the unit of work the API accepts and the worker executes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// What a task does when it runs; each kind exercises a different failure
/// mode of the system, which is what makes the workload worth operating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// Sleeps `payload.ms` milliseconds: latency without CPU.
    #[default]
    Io,
    /// Hashes in a loop `payload.iterations` times: CPU saturation.
    Cpu,
    /// Always fails: exercises retries and the dead letter.
    Fail,
    /// Fails with probability `payload.p`: exercises retries that succeed.
    Flaky,
}

impl TaskKind {
    pub const ALL: [TaskKind; 4] = [TaskKind::Io, TaskKind::Cpu, TaskKind::Fail, TaskKind::Flaky];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Io => "io",
            TaskKind::Cpu => "cpu",
            TaskKind::Fail => "fail",
            TaskKind::Flaky => "flaky",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a task is in its life. PENDING until someone asks it to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum TaskStatus {
    Pending,
    Queued,
    Running,
    Done,
    Failed,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 5] = [
        TaskStatus::Pending,
        TaskStatus::Queued,
        TaskStatus::Running,
        TaskStatus::Done,
        TaskStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "PENDING",
            TaskStatus::Queued => "QUEUED",
            TaskStatus::Running => "RUNNING",
            TaskStatus::Done => "DONE",
            TaskStatus::Failed => "FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// True once a run has ended, one way or the other.
    pub fn is_terminal(self) -> bool {
        matches!(self, TaskStatus::Done | TaskStatus::Failed)
    }

    /// True while a job for the task is queued or executing.
    pub fn is_active(self) -> bool {
        matches!(self, TaskStatus::Queued | TaskStatus::Running)
    }
}

/// A task as stored and as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Task {
    pub id: Uuid,
    pub title: String,
    pub kind: TaskKind,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub status: TaskStatus,
    pub attempts: i32,
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The columns a `Task` is read from, in one place so every query selects
/// the same shape.
pub const TASK_COLUMNS: &str =
    "id, title, kind, payload, status, attempts, result, error, created_at, updated_at";

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for Task {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        let kind: String = row.try_get("kind")?;
        let status: String = row.try_get("status")?;
        Ok(Task {
            id: row.try_get("id")?,
            title: row.try_get("title")?,
            kind: TaskKind::parse(&kind).ok_or_else(|| decode_error("kind", &kind))?,
            payload: row.try_get("payload")?,
            status: TaskStatus::parse(&status).ok_or_else(|| decode_error("status", &status))?,
            attempts: row.try_get("attempts")?,
            result: row.try_get("result")?,
            error: row.try_get("error")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

fn decode_error(column: &str, value: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("unexpected value {value:?}").into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_statuses_round_trip_through_their_names() {
        for kind in TaskKind::ALL {
            assert_eq!(TaskKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).expect("serialize");
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        for status in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(TaskKind::parse("IO"), None);
        assert_eq!(TaskStatus::parse("done"), None);
    }
}
