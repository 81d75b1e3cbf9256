//! Fault injection for demos and canary drills: an error rate and added
//! latency on task requests, set at start or at run time, optionally expiring
//! by themselves so an interrupted drill cannot leave a fault behind.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One set of faults: what a task request suffers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Fault {
    error_rate: f64,
    latency: Duration,
}

/// The instance's own faults (set at start, part of its release: a bad canary stays
/// bad) and, over them, a temporary one that ends by itself (a chaos drill's).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct FaultState {
    baseline: Fault,
    temporary: Option<(Fault, Instant)>,
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
    /// On write: these faults end after this many seconds (at most a day) and the
    /// instance's own (those it started with) apply again; without it they replace
    /// the instance's own. On read: seconds left of a temporary fault.
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

/// `null` is what the schema of an optional field admits, and means absent.
fn optional_whole_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    Option::<serde_json::Value>::deserialize(deserializer)?
        .map(whole_number)
        .transpose()
        .map_err(serde::de::Error::custom)
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

    /// With a duration: a temporary fault over the instance's own. Without: the
    /// instance's own faults from now on.
    pub fn set(&self, settings: FaultSettings) {
        let fault = Fault {
            error_rate: settings.error_rate.clamp(0.0, 1.0),
            latency: Duration::from_millis(settings.latency_ms),
        };
        let mut state = self.lock();
        match settings.duration_secs {
            Some(secs) => {
                state.temporary = Some((fault, Instant::now() + Duration::from_secs(secs)));
            }
            None => {
                *state = FaultState {
                    baseline: fault,
                    temporary: None,
                }
            }
        }
    }

    /// No faults at all, the instance's own included.
    pub fn clear(&self) {
        *self.lock() = FaultState::default();
    }

    pub fn current(&self) -> FaultSettings {
        let (fault, expires_at) = self.active();
        FaultSettings {
            error_rate: fault.error_rate,
            latency_ms: u64::try_from(fault.latency.as_millis()).unwrap_or(u64::MAX),
            duration_secs: expires_at
                .map(|at| at.saturating_duration_since(Instant::now()).as_secs()),
        }
    }

    /// Draws the fault for one request.
    pub fn draw(&self) -> Injection {
        let (fault, _) = self.active();
        let fail = fault.error_rate > 0.0 && rand::random::<f64>() < fault.error_rate;
        Injection {
            delay: fault.latency,
            fail,
        }
    }

    /// The fault in force and when it ends, dropping a temporary one whose time is up.
    fn active(&self) -> (Fault, Option<Instant>) {
        let mut state = self.lock();
        if state.temporary.is_some_and(|(_, at)| Instant::now() >= at) {
            state.temporary = None;
        }
        match state.temporary {
            Some((fault, at)) => (fault, Some(at)),
            None => (state.baseline, None),
        }
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
        for absent in [
            r#"{"error_rate": 0, "latency_ms": 0}"#,
            r#"{"error_rate": 0, "latency_ms": 0, "duration_secs": null}"#,
        ] {
            let parsed: FaultSettings = serde_json::from_str(absent).expect("valid");
            assert_eq!(parsed.duration_secs, None, "{absent}");
        }
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

    #[test]
    fn a_temporary_fault_ends_on_the_instances_own_faults() {
        let faults = Faults::new(0.3, 0);
        faults.set(FaultSettings {
            error_rate: 1.0,
            latency_ms: 200,
            duration_secs: Some(60),
        });
        assert_eq!(faults.current().error_rate, 1.0);
        faults.set(FaultSettings {
            error_rate: 0.0,
            latency_ms: 0,
            duration_secs: Some(0),
        });
        let own = faults.current();
        assert_eq!(
            (own.error_rate, own.latency_ms, own.duration_secs),
            (0.3, 0, None)
        );

        faults.set(FaultSettings {
            error_rate: 0.1,
            latency_ms: 5,
            duration_secs: None,
        });
        assert_eq!(faults.current().error_rate, 0.1);
        faults.clear();
        assert_eq!(faults.current().error_rate, 0.0);
        assert!(!faults.draw().fail);
    }
}
