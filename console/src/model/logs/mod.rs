//! Log lines as every environment delivers them: parsed from the services' JSON lines
//! (a local file or a pod's log stream alike), in bounded batches.

mod json_line;
mod line;

use std::collections::BTreeSet;

pub use line::{Level, LineSource, LogLine, DEFAULT_MAX_TEXT_BYTES};

/// Batches a log stream may have in flight to its reader before it waits for it.
pub const LOG_STREAM_CAPACITY: usize = 16;

/// What one read of the log sources found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogBatch {
    pub lines: Vec<LogLine>,
    /// Sources that cannot be read right now, one message each; empty when all is well.
    pub errors: Vec<String>,
}

/// Which lines a log stream carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogRequest {
    /// Only these workloads (`api`, `worker`); empty means every workload.
    pub workloads: BTreeSet<String>,
    /// Keep following new lines and instances until stopped; otherwise the stream ends
    /// once the recent lines of the instances there now are delivered.
    pub follow: bool,
}

impl LogRequest {
    /// Every workload's lines, followed.
    pub fn all() -> Self {
        Self {
            workloads: BTreeSet::new(),
            follow: true,
        }
    }

    pub fn wants(&self, workload: &str) -> bool {
        self.workloads.is_empty() || self.workloads.contains(workload)
    }
}
