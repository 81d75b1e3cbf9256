//! What every part of a running worker shares: settings, connections, metrics, identity.

use std::sync::atomic::{AtomicBool, Ordering};

use opsbox_common::queue::JobQueue;
use sqlx::PgPool;

use crate::config::Config;
use crate::metrics::WorkerMetrics;

pub struct WorkerContext {
    pub config: Config,
    pub db: PgPool,
    pub queue: JobQueue,
    pub metrics: WorkerMetrics,
    /// Names this process's processing list and heartbeat.
    pub worker_id: String,
    shutting_down: AtomicBool,
}

impl WorkerContext {
    pub fn new(config: Config, db: PgPool, queue: JobQueue, metrics: WorkerMetrics) -> Self {
        Self {
            config,
            db,
            queue,
            metrics,
            worker_id: worker_id(),
            shutting_down: AtomicBool::new(false),
        }
    }

    /// From now on /ready fails, so nothing expects this worker to take work.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }
}

/// `hostname-pid-random`: the host and pid tell an operator where a worker
/// ran; the random part keeps a restarted pod (same host, often pid 1) from
/// inheriting the processing list of its dead predecessor.
fn worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let host = if host.is_empty() {
        "worker".to_owned()
    } else {
        host
    };
    format!(
        "{host}-{}-{:06x}",
        std::process::id(),
        rand::random::<u32>() & 0xff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::worker_id;

    #[test]
    fn worker_ids_are_unique_and_key_safe() {
        let (a, b) = (worker_id(), worker_id());
        assert_ne!(a, b);
        assert!(a.contains(&std::process::id().to_string()), "{a}");
        assert!(!a.contains(':') && !a.contains(' '), "{a}");
    }
}
