//! Configuration from flags and the environment (12-factor).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use opsbox_common::duration;

pub use opsbox_common::config::{Secret, StackConfig, Track};

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    #[command(flatten)]
    pub stack: StackConfig,
    /// Address to listen on.
    #[arg(long, env = "OPSBOX_API_ADDR", default_value = "0.0.0.0:8080")]
    pub addr: SocketAddr,
    /// Size of the Postgres connection pool.
    #[arg(long, env = "OPSBOX_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
    /// After SIGTERM, how long /ready fails before draining starts (lets load
    /// balancers stop sending traffic).
    #[arg(long, env = "OPSBOX_SHUTDOWN_DELAY", default_value = "2s", value_parser = duration::parse)]
    pub shutdown_delay: Duration,
    /// How long in-flight requests get to finish once draining starts.
    #[arg(long, env = "OPSBOX_DRAIN_TIMEOUT", default_value = "10s", value_parser = duration::parse)]
    pub drain_timeout: Duration,
    /// Fraction of task requests answered 500 (fault injection, 0 = off).
    #[arg(long, env = "OPSBOX_FAULT_ERROR_RATE", default_value_t = 0.0, value_parser = parse_fraction)]
    pub fault_error_rate: f64,
    /// Latency added to task requests in milliseconds (fault injection, 0 = off).
    #[arg(long, env = "OPSBOX_FAULT_LATENCY_MS", default_value_t = 0)]
    pub fault_latency_ms: u64,
    /// Enables the /admin routes (faults, dead letters, queue), guarded by this bearer token.
    #[arg(long, env = "OPSBOX_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Secret>,
    /// Feature flags file (a JSON object of name → true/false, as the chart
    /// mounts at /etc/opsbox/flags.json); read at start and whenever it changes.
    /// Without one every flag is off.
    #[arg(long, env = "OPSBOX_FLAGS_FILE")]
    pub flags_file: Option<PathBuf>,
    /// How often the flags file is checked for a change, 100ms to 5m.
    #[arg(long, env = "OPSBOX_FLAGS_POLL_INTERVAL", default_value = "5s", value_parser = parse_poll_interval)]
    pub flags_poll_interval: Duration,
}

/// Bounded both ways: a tighter poll only burns CPU (the kubelet takes up to a
/// minute to update a mounted ConfigMap anyway), a looser one leaves a flag
/// change unseen for longer than an operator would wait.
fn parse_poll_interval(s: &str) -> Result<Duration, String> {
    let interval = duration::parse(s)?;
    if (Duration::from_millis(100)..=Duration::from_secs(300)).contains(&interval) {
        Ok(interval)
    } else {
        Err(format!("{s} is not between 100ms and 5m"))
    }
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    let value: f64 = s.trim().parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is not a fraction between 0 and 1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_rates_are_fractions() {
        assert_eq!(parse_fraction("0.3"), Ok(0.3));
        assert!(parse_fraction("1.5").is_err());
        assert!(parse_fraction("lots").is_err());
    }

    #[test]
    fn the_flags_poll_is_bounded() {
        assert_eq!(parse_poll_interval("5s"), Ok(Duration::from_secs(5)));
        assert!(parse_poll_interval("10ms").is_err());
        assert!(parse_poll_interval("1h").is_err());
    }
}
