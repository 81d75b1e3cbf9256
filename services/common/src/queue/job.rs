//! A job: one delivery of a task run, as it travels through Redis.

use std::collections::HashMap;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::TaskKind;

/// One delivery of a task run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub task_id: Uuid,
    /// The run this delivery belongs to; a stale run's job is dropped.
    pub run_id: Uuid,
    pub kind: TaskKind,
    /// Attempts already made for this run.
    pub attempt: u32,
    /// When the job became ready (ms since the epoch): queue wait starts here.
    pub ready_at_ms: i64,
    /// W3C trace context of the request that queued the run, so the worker's
    /// span continues the API's trace.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub trace: HashMap<String, String>,
    /// The last attempt's error, kept for the dead-letter browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the job was dead-lettered (ms since the epoch), stamped by
    /// [`super::JobQueue::dead_letter`] for the dead-letter browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_at_ms: Option<i64>,
}

impl Job {
    pub fn new(
        task_id: Uuid,
        run_id: Uuid,
        kind: TaskKind,
        trace: HashMap<String, String>,
    ) -> Self {
        Self {
            task_id,
            run_id,
            kind,
            attempt: 0,
            ready_at_ms: now_ms(),
            trace,
            last_error: None,
            dead_at_ms: None,
        }
    }

    pub fn encode(&self) -> String {
        // Serialising plain fields cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn decode(raw: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(raw)
    }
}

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_without_a_dead_time_still_decodes_and_the_stamp_round_trips() {
        let job = Job::new(Uuid::new_v4(), Uuid::new_v4(), TaskKind::Io, HashMap::new());
        let raw = job.encode();
        assert!(
            !raw.contains("dead_at_ms"),
            "absent stamps are not written: {raw}"
        );
        assert_eq!(Job::decode(&raw).expect("decodes"), job);

        let dead = Job {
            dead_at_ms: Some(1_700_000_000_000),
            last_error: Some("boom".to_owned()),
            ..job
        };
        let decoded = Job::decode(&dead.encode()).expect("decodes");
        assert_eq!(decoded.dead_at_ms, Some(1_700_000_000_000));
        assert_eq!(decoded, dead);
    }
}
