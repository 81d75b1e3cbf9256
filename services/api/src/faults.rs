//! Fault injection for demos and canary drills: an error rate and added
//! latency on task requests, set at start or at run time, optionally expiring
//! by themselves so an interrupted drill cannot leave a fault behind.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct FaultState {
    error_rate: f64,
    latency: Duration,
    expires_at: Option<Instant>,
}

/// The faults in force; cheap to consult on every request.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<FaultState>,
}

/// What `/admin/faults` shows and accepts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultSettings {
    /// Fraction of task requests answered 500, in [0, 1].
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub error_rate: f64,
    /// Milliseconds added to every task request, at most 60000.
    #[schema(maximum = 60000)]
    #[serde(deserialize_with = "whole_number")]
    pub latency_ms: u64,
    /// On write: revert to no faults after this many seconds (at most a day).
    /// On read: seconds left.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_whole_number"
    )]
    #[schema(maximum = 86400)]
    pub duration_secs: Option<u64>,
}

/// JSON Schema's `integer` admits `208.0`; so do we, for clients (and
/// fuzzers) that write whole numbers as floats.
fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let value = f64::deserialize(deserializer)?;
    if value.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(&value) {
        Ok(value as u64)
    } else {
        Err(serde::de::Error::custom(format!(
            "{value} is not a non-negative whole number"
        )))
    }
}

fn optional_whole_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    whole_number(deserializer).map(Some)
}

/// What a task request suffers now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Injection {
    pub delay: Duration,
    pub fail: bool,
}

impl Faults {
    pub fn new(error_rate: f64, latency_ms: u64) -> Self {
        let faults = Faults::default();
        faults.set(FaultSettings {
            error_rate,
            latency_ms,
            duration_secs: None,
        });
        faults
    }

    pub fn set(&self, settings: FaultSettings) {
        let state = FaultState {
            error_rate: settings.error_rate.clamp(0.0, 1.0),
            latency: Duration::from_millis(settings.latency_ms),
            expires_at: settings
                .duration_secs
                .map(|s| Instant::now() + Duration::from_secs(s)),
        };
        *self.lock() = state;
    }

    pub fn clear(&self) {
        *self.lock() = FaultState::default();
    }

    pub fn current(&self) -> FaultSettings {
        let state = self.active();
        FaultSettings {
            error_rate: state.error_rate,
            latency_ms: u64::try_from(state.latency.as_millis()).unwrap_or(u64::MAX),
            duration_secs: state
                .expires_at
                .map(|at| at.saturating_duration_since(Instant::now()).as_secs()),
        }
    }

    /// Draws the fault for one request.
    pub fn draw(&self) -> Injection {
        let state = self.active();
        let fail = state.error_rate > 0.0 && rand::random::<f64>() < state.error_rate;
        Injection {
            delay: state.latency,
            fail,
        }
    }

    fn active(&self) -> FaultState {
        let mut state = self.lock();
        if state.expires_at.is_some_and(|at| Instant::now() >= at) {
            *state = FaultState::default();
        }
        *state
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultState> {
        // The state is plain data, valid even if a holder panicked.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_may_be_written_as_floats() {
        let parsed: FaultSettings =
            serde_json::from_str(r#"{"error_rate": 0, "latency_ms": 250.0, "duration_secs": 60}"#)
                .expect("valid");
        assert_eq!((parsed.latency_ms, parsed.duration_secs), (250, Some(60)));
        for bad in [
            r#"{"error_rate": 0, "latency_ms": 2.5}"#,
            r#"{"error_rate": 0, "latency_ms": -1}"#,
        ] {
            assert!(serde_json::from_str::<FaultSettings>(bad).is_err(), "{bad}");
        }
        let absent: FaultSettings =
            serde_json::from_str(r#"{"error_rate": 0, "latency_ms": 0}"#).expect("valid");
        assert_eq!(absent.duration_secs, None);
    }

    #[test]
    fn no_faults_by_default() {
        let faults = Faults::default();
        for _ in 0..1000 {
            assert_eq!(
                faults.draw(),
                Injection {
                    delay: Duration::ZERO,
                    fail: false
                }
            );
        }
    }

    #[test]
    fn error_rate_is_honoured_statistically() {
        let faults = Faults::new(0.3, 0);
        let failures = (0..20_000).filter(|_| faults.draw().fail).count();
        // 0.3 * 20000 = 6000 with a standard deviation of about 65.
        assert!((5_600..6_400).contains(&failures), "{failures}");
    }

    #[test]
    fn a_fault_with_a_duration_expires_by_itself() {
        let faults = Faults::default();
        faults.set(FaultSettings {
            error_rate: 1.0,
            latency_ms: 5,
            duration_secs: Some(0),
        });
        assert!(!faults.draw().fail);
        assert_eq!(faults.current().error_rate, 0.0);
        faults.set(FaultSettings {
            error_rate: 1.0,
            latency_ms: 5,
            duration_secs: Some(60),
        });
        assert!(faults.draw().fail);
        assert_eq!(faults.current().duration_secs, Some(59));
    }
}
