//! The dead letter and the queue as operators see them over HTTP: the JSON
//! shapes of the local daemon's `/queue` routes, which the API's admin routes
//! answer too, so one client type reads both environments.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Job, QueueDepth};

/// One look at the queue: the `depth` and age fields of the local daemon's
/// `GET /queue` (which adds worker throughput, read from the workers' metrics).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QueueSnapshot {
    pub depth: QueueDepth,
    /// How long the job a worker takes next has been ready; absent when nothing is ready.
    pub oldest_ready_age_secs: Option<f64>,
}

/// One dead-lettered job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeadLetter {
    /// The task this job was a delivery of.
    #[schema(format = "uuid")]
    pub task_id: String,
    /// `io` or `cpu`.
    pub kind: String,
    /// Attempts made before the job was given up.
    pub attempts: u32,
    /// The last attempt's error.
    pub error: Option<String>,
    /// When it was dead-lettered; unknown for jobs buried by an older worker.
    pub dead_at: Option<DateTime<Utc>>,
}

impl From<&Job> for DeadLetter {
    fn from(job: &Job) -> Self {
        DeadLetter {
            task_id: job.task_id.to_string(),
            kind: job.kind.as_str().to_owned(),
            attempts: job.attempt,
            error: job.last_error.clone(),
            dead_at: job
                .dead_at_ms
                .and_then(DateTime::<Utc>::from_timestamp_millis),
        }
    }
}

/// The newest dead letters, and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeadLetters {
    pub total: u64,
    /// Newest first.
    pub letters: Vec<DeadLetter>,
}

/// One task's dead letter (`{"job": TASK_ID}`), or all of them (`{"all": true}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequeueRequest {
    /// The task id whose dead letter to requeue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// Requeue every dead letter (in batches: see `remaining`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
}

impl RequeueRequest {
    pub fn one(task_id: &str) -> Self {
        Self {
            job: Some(task_id.to_owned()),
            all: false,
        }
    }

    pub fn all() -> Self {
        Self {
            job: None,
            all: true,
        }
    }
}

/// Written by hand: the struct admits `{}` and `{"job": …, "all": true}`,
/// which the requeue refuses, and a schema that promised them would be a lie
/// (a fuzzer sending them is right to call the refusal a bug).
impl utoipa::PartialSchema for RequeueRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let schema = serde_json::json!({
            "description": "One task's dead letter, or all of them.",
            "oneOf": [
                {
                    "type": "object",
                    "required": ["job"],
                    "properties": {
                        "job": {"type": "string", "format": "uuid", "description": "The task whose dead letter to requeue."},
                        "all": {"type": "boolean", "enum": [false]}
                    },
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "required": ["all"],
                    "properties": {
                        "all": {"type": "boolean", "enum": [true], "description": "Every dead letter, up to 500 a request."}
                    },
                    "additionalProperties": false
                }
            ]
        });
        // A literal above; the test below proves it converts.
        serde_json::from_value(schema).unwrap_or_default()
    }
}

impl ToSchema for RequeueRequest {}

/// What a requeue did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RequeueReport {
    /// Tasks given a fresh run and a ready job.
    pub requeued: Vec<String>,
    /// Dead letters removed without a requeue, because they can never run again.
    pub discarded: Vec<DiscardedLetter>,
    /// Dead letters still there after this request (a requeue of all works in batches).
    pub remaining: u64,
}

/// A dead letter removed without a requeue, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DiscardedLetter {
    pub task_id: String,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use utoipa::PartialSchema;

    use super::*;

    #[test]
    fn the_requeue_schema_offers_exactly_one_or_all() {
        let schema = serde_json::to_value(RequeueRequest::schema()).expect("json");
        let branches = schema["oneOf"].as_array().expect("oneOf");
        assert_eq!(branches.len(), 2, "{schema}");
        assert_eq!(branches[0]["required"][0], "job");
        assert_eq!(branches[1]["properties"]["all"]["enum"][0], true);
    }
}
