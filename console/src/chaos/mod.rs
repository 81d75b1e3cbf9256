//! Chaos primitives as every environment offers them: kill an instance, make a dependency
//! unavailable for a while, inject API faults for a while. These are the requests and
//! answers the daemon, the CLI, the drills and the console share.
//!
//! Every primitive that lasts ends by itself where it runs (the daemon's timer, the API's
//! own fault expiry), so an interrupted `opsbox` never leaves anything broken behind.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use opsbox_common::config::Track;

/// The longest outage or fault one request may ask for: long enough for any drill, short
/// enough that a forgotten one ends within a coffee break.
pub const MAX_CHAOS_DURATION: Duration = Duration::from_secs(10 * 60);

/// Finished outages and faults (and kills) kept for `opsbox chaos list` and the console.
pub const MAX_CHAOS_HISTORY: usize = 50;

/// Checks a requested duration: more than zero, at most [`MAX_CHAOS_DURATION`].
pub fn check_duration(duration: Duration) -> Result<(), String> {
    if duration.is_zero() {
        return Err("the duration must be more than zero".to_owned());
    }
    if duration > MAX_CHAOS_DURATION {
        return Err(format!(
            "the duration {} is longer than the limit of {}",
            humanize(duration),
            humanize(MAX_CHAOS_DURATION)
        ));
    }
    Ok(())
}

/// Durations in messages read as everywhere else (`1m 30s`, `250ms`).
pub use crate::durations::spoken as humanize;

/// `POST /chaos/kill`: one instance by name, or a random one among those matching
/// the workload and/or track (any instance with a process when neither is given).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// `api` or `worker`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<Track>,
}

/// The answer to a kill: which instance was killed with no grace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Killed {
    pub instance: String,
    pub workload: String,
    pub track: Track,
    /// The process that got SIGKILL (local); a pod has none to show.
    #[serde(default)]
    pub pid: Option<u32>,
    pub at: DateTime<Utc>,
}

/// A dependency an outage can take away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Dependency {
    Postgres,
    Redis,
}

impl Dependency {
    pub fn as_str(self) -> &'static str {
        match self {
            Dependency::Postgres => "postgres",
            Dependency::Redis => "redis",
        }
    }
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a dependency is made unavailable.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum OutageMode {
    /// The server is shut down: connections are refused at once, like a crash. Redis
    /// comes back empty (no persistence); PostgreSQL keeps its data.
    #[default]
    Stop,
    /// The server is frozen with SIGSTOP: connections hang, like a wedged host.
    Freeze,
}

impl OutageMode {
    pub fn as_str(self) -> &'static str {
        match self {
            OutageMode::Stop => "stop",
            OutageMode::Freeze => "freeze",
        }
    }
}

impl fmt::Display for OutageMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `POST /chaos/outage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutageRequest {
    pub dependency: Dependency,
    #[serde(default)]
    pub mode: OutageMode,
    pub duration_ms: u64,
}

/// An outage in progress: the daemon restores the dependency at `ends_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outage {
    pub dependency: Dependency,
    pub mode: OutageMode,
    pub started_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// `POST /chaos/fault`: faults on every API instance (of one track, when given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    /// Fraction of task requests answered 500, in [0, 1].
    #[serde(default)]
    pub error_rate: f64,
    /// Added to every task request.
    #[serde(default)]
    pub latency_ms: u64,
    /// Whole seconds are what the API's expiry counts; shorter durations round up.
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<Track>,
}

/// The longest latency the API accepts as a fault.
pub const MAX_FAULT_LATENCY_MS: u64 = 60_000;

impl FaultRequest {
    /// What the daemon and the CLI refuse alike.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(format!(
                "the error rate must be between 0 and 1, not {}",
                self.error_rate
            ));
        }
        if self.latency_ms > MAX_FAULT_LATENCY_MS {
            return Err(format!(
                "the latency must be at most {MAX_FAULT_LATENCY_MS}ms, not {}ms",
                self.latency_ms
            ));
        }
        if self.error_rate == 0.0 && self.latency_ms == 0 {
            return Err("nothing to inject: give an error rate, a latency, or both".to_owned());
        }
        check_duration(Duration::from_millis(self.duration_ms))
    }
}

/// Faults in force on a set of API instances until `ends_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultInjection {
    /// `None`: every track.
    pub track: Option<Track>,
    pub error_rate: f64,
    pub latency_ms: u64,
    pub started_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The instances that took the fault.
    pub instances: Vec<String>,
}

/// An instance that did not take a fault, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRefusal {
    pub instance: String,
    pub message: String,
}

/// The answer to a fault request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultReport {
    pub fault: FaultInjection,
    pub refused: Vec<FaultRefusal>,
}

/// What happened, for the history: a kill, an outage begun or ended, a fault set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChaosEvent {
    pub at: DateTime<Utc>,
    /// `kill`, `outage-start`, `outage-end`, `outage-restore-failed`, `fault`.
    pub kind: String,
    /// The instance or dependency.
    pub target: String,
    pub message: String,
}

/// `GET /chaos`: what is in force now, and what happened lately (newest last).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChaosStatus {
    pub outages: Vec<Outage>,
    pub faults: Vec<FaultInjection>,
    /// At most [`MAX_CHAOS_HISTORY`].
    pub history: Vec<ChaosEvent>,
}

impl ChaosStatus {
    pub fn outage(&self, dependency: Dependency) -> Option<&Outage> {
        self.outages
            .iter()
            .find(|outage| outage.dependency == dependency)
    }

    /// The newest `outage-end` (or failed restore) of a dependency at or after `since`.
    pub fn outage_ended(
        &self,
        dependency: Dependency,
        since: DateTime<Utc>,
    ) -> Option<&ChaosEvent> {
        self.history.iter().rev().find(|event| {
            event.target == dependency.as_str()
                && event.at >= since
                && (event.kind == "outage-end" || event.kind == "outage-restore-failed")
        })
    }
}

/// `GET /tasks/census?since=` (local) and `GET /admin/tasks/census?since=` (the API):
/// tasks created since a time, by status, counted in the database.
pub use opsbox_common::census::TaskCensus;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_bounded_both_ways() {
        assert!(check_duration(Duration::ZERO).is_err());
        assert!(check_duration(Duration::from_millis(1)).is_ok());
        assert!(check_duration(MAX_CHAOS_DURATION).is_ok());
        let error =
            check_duration(MAX_CHAOS_DURATION + Duration::from_secs(1)).expect_err("too long");
        assert!(error.contains("10m"), "{error}");
    }

    #[test]
    fn fault_requests_need_something_to_inject_within_bounds() {
        let fault = FaultRequest {
            error_rate: 0.3,
            latency_ms: 0,
            duration_ms: 60_000,
            track: None,
        };
        assert!(fault.check().is_ok());
        for bad in [
            FaultRequest {
                error_rate: 0.0,
                ..fault.clone()
            },
            FaultRequest {
                error_rate: 1.5,
                ..fault.clone()
            },
            FaultRequest {
                latency_ms: 60_001,
                ..fault.clone()
            },
            FaultRequest {
                duration_ms: 0,
                ..fault.clone()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn requests_refuse_unknown_fields_and_values() {
        let kill: KillRequest =
            serde_json::from_str(r#"{"workload":"api","track":"canary"}"#).expect("kill");
        assert_eq!(kill.track, Some(Track::Canary));
        assert!(serde_json::from_str::<KillRequest>(r#"{"name":"api-1"}"#).is_err());
        let outage: OutageRequest =
            serde_json::from_str(r#"{"dependency":"redis","duration_ms":3000}"#).expect("outage");
        assert_eq!(outage.mode, OutageMode::Stop);
        assert!(
            serde_json::from_str::<OutageRequest>(r#"{"dependency":"mysql","duration_ms":1}"#)
                .is_err()
        );
    }

    #[test]
    fn a_census_tells_in_flight_from_terminal() {
        let census = TaskCensus {
            since: Utc::now(),
            pending: 1,
            queued: 2,
            running: 3,
            done: 4,
            failed: 5,
        };
        assert_eq!(
            (census.total(), census.in_flight(), census.terminal()),
            (15, 5, 9)
        );
    }
}
