//! How patient the supervisor is: restart backoff, stop grace, readiness probing, log size.

use std::time::Duration;

/// CrashLoopBackOff: the delay before a restart doubles with each exit, up to a cap, and
/// starts over once an instance has stayed up for `reset_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub reset_after: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            reset_after: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    pub restart: RestartPolicy,
    /// Between SIGTERM and SIGKILL when stopping an instance. The API needs its shutdown
    /// delay plus drain timeout (2 s + 10 s by default) to stop cleanly.
    pub stop_grace: Duration,
    /// Between two readiness probes of a starting instance.
    pub readiness_interval: Duration,
    /// How long one readiness probe may take.
    pub readiness_timeout: Duration,
    /// A log file above this size is copied to `<file>.1` and truncated (copytruncate:
    /// the instance keeps its open file), so a state dir cannot fill the disk.
    pub log_max_bytes: u64,
    /// How often a running instance's log size is checked.
    pub log_check_interval: Duration,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        Self {
            restart: RestartPolicy::default(),
            stop_grace: Duration::from_secs(15),
            readiness_interval: Duration::from_millis(250),
            readiness_timeout: Duration::from_secs(1),
            log_max_bytes: 16 * 1024 * 1024,
            log_check_interval: Duration::from_secs(10),
        }
    }
}
