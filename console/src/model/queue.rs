//! The job queue as the console shows it: depth, age, throughput, and the dead letter.

use std::collections::BTreeMap;

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

// The dead letters and requeues have the shapes the API's admin routes answer with too.
pub use opsbox_common::queue::{
    DeadLetter, DeadLetters, DiscardedLetter, RequeueReport, RequeueRequest,
};
