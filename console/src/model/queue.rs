//! The job queue as the console shows it: depth, age, throughput, and the dead letter.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::QueueStatus;

/// One look at the queue (`GET /queue`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueOverview {
    pub depth: QueueStatus,
    /// How long the job a worker takes next has been ready; `None` when nothing is ready.
    pub oldest_ready_age_secs: Option<f64>,
    /// Jobs processed by outcome, summed over the workers that answered; `None` when no
    /// worker's metrics could be read.
    pub processed: Option<ProcessedTotals>,
}

/// `opsbox_jobs_processed_total` summed over workers. A counter of a worker that restarted
/// starts again at zero, so the sum can go down; rates are taken from increases only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessedTotals {
    /// `done`, `retry`, `failed`, `dead` → jobs.
    pub by_outcome: BTreeMap<String, u64>,
    /// Workers whose metrics were read.
    pub workers: u32,
}

/// One dead-lettered job (`GET /queue/dead`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub task_id: String,
    pub kind: String,
    /// Attempts made before the job was given up.
    pub attempts: u32,
    /// The last attempt's error.
    pub error: Option<String>,
    /// When it was dead-lettered; unknown for jobs buried by an older worker.
    pub dead_at: Option<DateTime<Utc>>,
}

/// The newest dead letters, and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetters {
    pub total: u64,
    pub letters: Vec<DeadLetter>,
}

/// `POST /queue/dead/requeue`: one task's dead letter, or all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequeueRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
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

/// What a requeue did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequeueReport {
    /// Tasks given a fresh run and a ready job.
    pub requeued: Vec<String>,
    /// Dead letters removed without a requeue, because they can never run again.
    pub discarded: Vec<DiscardedLetter>,
    /// Dead letters still there after this request (a requeue of all works in batches).
    pub remaining: u64,
}

/// A dead letter removed without a requeue, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscardedLetter {
    pub task_id: String,
    pub reason: String,
}
