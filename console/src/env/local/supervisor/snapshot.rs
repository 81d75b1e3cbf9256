//! What `opsbox status` shows of an instance: labels, pid, state, restarts, last exit.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::spec::{InstanceSpec, Workload};
use opsbox_common::config::Track;

/// The model's instance state: what the supervisor tracks is what every
/// environment reports.
pub use crate::model::InstanceState;

/// How an instance's process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    pub at: DateTime<Utc>,
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// e.g. `exit status: 1`, `signal: 9 (SIGKILL)`.
    pub summary: String,
}

impl ExitRecord {
    pub(crate) fn from_status(status: ExitStatus) -> Self {
        Self {
            at: Utc::now(),
            code: status.code(),
            signal: status.signal(),
            summary: status.to_string(),
        }
    }

    pub(crate) fn unknown(reason: String) -> Self {
        Self {
            at: Utc::now(),
            code: None,
            signal: None,
            summary: reason,
        }
    }
}

/// One instance as the supervisor sees it; serializable for the status command and the state dir.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceSnapshot {
    pub name: String,
    pub workload: Workload,
    pub track: Track,
    pub revision: String,
    /// Also the process group id: each instance leads its own group.
    pub pid: Option<u32>,
    pub state: InstanceState,
    /// Exits since it was added (operator stops and restarts do not count).
    pub restarts: u32,
    pub started_at: Option<DateTime<Utc>>,
    /// When a Backoff ends.
    pub next_start_at: Option<DateTime<Utc>>,
    pub last_exit: Option<ExitRecord>,
    /// Why the instance is Failed.
    pub last_error: Option<String>,
    pub log_file: PathBuf,
}

impl InstanceSnapshot {
    pub(crate) fn new(spec: &InstanceSpec) -> Self {
        Self {
            name: spec.name.clone(),
            workload: spec.workload,
            track: spec.track,
            revision: spec.revision.clone(),
            pid: None,
            state: InstanceState::Starting,
            restarts: 0,
            started_at: None,
            next_start_at: None,
            last_exit: None,
            last_error: None,
            log_file: spec.log_file.clone(),
        }
    }

    /// How long the current process has been up, when one is.
    pub fn uptime(&self, now: DateTime<Utc>) -> Option<Duration> {
        match self.state {
            InstanceState::Starting | InstanceState::Running => self
                .started_at
                .and_then(|started| (now - started).to_std().ok()),
            InstanceState::Backoff | InstanceState::Stopped | InstanceState::Failed => None,
        }
    }
}
