//! Configuration from flags and the environment (12-factor).

use std::net::SocketAddr;
use std::time::Duration;

use opsbox_common::duration;

pub use opsbox_common::config::{Secret, StackConfig, Track};

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    #[command(flatten)]
    pub stack: StackConfig,
    /// Jobs executed at once (one consumer loop each).
    #[arg(long, env = "OPSBOX_WORKER_CONCURRENCY", default_value_t = default_concurrency(),
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Address of the probes and /metrics.
    #[arg(
        long,
        env = "OPSBOX_WORKER_METRICS_ADDR",
        default_value = "0.0.0.0:9091"
    )]
    pub metrics_addr: SocketAddr,
    /// Attempts per run before a job is dead-lettered and its task FAILED.
    #[arg(long, env = "OPSBOX_MAX_ATTEMPTS", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt (capped at 60 s), with equal jitter.
    #[arg(long, env = "OPSBOX_BACKOFF_BASE", default_value = "1s", value_parser = duration::parse)]
    pub backoff_base: Duration,
    /// How long a worker may miss heartbeats before its jobs are taken back,
    /// and how long a task may sit QUEUED/RUNNING without a job before it is
    /// re-enqueued.
    #[arg(long, env = "OPSBOX_VISIBILITY_TIMEOUT", default_value = "30s", value_parser = positive_duration)]
    pub visibility_timeout: Duration,
    /// How often finished tasks past the retention are deleted.
    #[arg(long, env = "OPSBOX_CLEANUP_INTERVAL", default_value = "1h", value_parser = positive_duration)]
    pub cleanup_interval: Duration,
    /// How long DONE and FAILED tasks are kept.
    #[arg(long, env = "OPSBOX_RETENTION", default_value = "7d", value_parser = duration::parse)]
    pub retention: Duration,
    /// After SIGTERM, how long in-flight jobs get to finish before they are
    /// released back to the queue.
    #[arg(long, env = "OPSBOX_SHUTDOWN_TIMEOUT", default_value = "25s", value_parser = duration::parse)]
    pub shutdown_timeout: Duration,
}

fn default_concurrency() -> u16 {
    std::thread::available_parallelism()
        .map(|n| u16::try_from(n.get()).unwrap_or(u16::MAX))
        .unwrap_or(1)
}

/// Intervals derived from a zero duration would make loops spin.
fn positive_duration(s: &str) -> Result<Duration, String> {
    match duration::parse(s)? {
        Duration::ZERO => Err("must be greater than zero".to_owned()),
        d => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn secrets_do_not_print() {
        let cli = Cli::try_parse_from([
            "w",
            "--database-url",
            "postgres://u:pw@h/db",
            "--redis-url",
            "redis://:pw@h",
        ])
        .expect("parses");
        let printed = format!("{:?}", cli.config);
        assert!(!printed.contains("pw"), "{printed}");
    }

    #[test]
    fn durations_are_human_and_intervals_positive() {
        let cli = Cli::try_parse_from([
            "w",
            "--database-url=postgres://h/db",
            "--redis-url=redis://h",
            "--backoff-base=50ms",
            "--retention=7d",
        ])
        .expect("parses");
        assert_eq!(cli.config.backoff_base, Duration::from_millis(50));
        assert_eq!(cli.config.retention, Duration::from_secs(7 * 86_400));
        assert_eq!(cli.config.max_attempts, 3);
        assert!(Cli::try_parse_from([
            "w",
            "--database-url=postgres://h/db",
            "--redis-url=redis://h",
            "--visibility-timeout=0",
        ])
        .is_err());
    }
}
