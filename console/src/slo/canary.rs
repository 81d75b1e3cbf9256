//! Canary analysis thresholds per SLO, shared by the Argo AnalysisTemplate and the local rollout.

use super::duration::PromDuration;
use super::spec::{Indicator, SloSpec};

/// The value of the `track` label on canary series.
pub const CANARY_TRACK: &str = "canary";

/// How often and how long a canary is measured, and how many bad
/// measurements it may have. Argo and the local environment both use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalysisCadence {
    /// Rate window of each measurement: the shortest SLI window, long
    /// enough to hold a few scrapes of a canary that just started.
    pub window: PromDuration,
    pub interval: PromDuration,
    /// Measurements per analysis run.
    pub count: u32,
    /// Failed measurements tolerated; one more fails the run (one noisy
    /// minute on a small canary should not roll back a good release).
    pub failure_limit: u32,
    /// Measurements without canary traffic tolerated before the run is
    /// inconclusive, which pauses the rollout for a person to decide.
    pub inconclusive_limit: u32,
}

pub const CANARY_ANALYSIS: AnalysisCadence = AnalysisCadence {
    window: PromDuration::from_minutes(5),
    interval: PromDuration::from_minutes(1),
    count: 5,
    failure_limit: 1,
    inconclusive_limit: 2,
};

/// What one SLO demands of a canary.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryThreshold {
    pub slo: String,
    /// Workload whose canary this judges (`api`, `worker`).
    pub service: String,
    pub check: CanaryCheck,
}

/// The canary must meet the objective itself: a burn rate above 1 on the
/// canary means the new revision spends budget faster than allowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CanaryCheck {
    /// The measured value is error events / total events; it passes at or
    /// under `max_error_ratio` (the error budget, e.g. 0.001).
    ErrorRatio { max_error_ratio: f64 },
    /// The measured value is the fraction of events at or under
    /// `threshold_seconds`; it passes at or above `min_good_ratio` (e.g. 0.99).
    Latency {
        threshold_seconds: f64,
        min_good_ratio: f64,
    },
}

/// Outcome of one measurement, as Argo Rollouts names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Successful,
    Failed,
    /// No canary events in the window (the ratio is NaN): nothing to judge.
    Inconclusive,
}

impl CanaryCheck {
    pub fn evaluate(&self, measured: f64) -> Verdict {
        if measured.is_nan() {
            return Verdict::Inconclusive;
        }
        let passes = match *self {
            CanaryCheck::ErrorRatio { max_error_ratio } => measured <= max_error_ratio,
            CanaryCheck::Latency { min_good_ratio, .. } => measured >= min_good_ratio,
        };
        if passes {
            Verdict::Successful
        } else {
            Verdict::Failed
        }
    }
}

/// One threshold per SLO, in spec order.
pub fn canary_thresholds(spec: &SloSpec) -> Vec<CanaryThreshold> {
    spec.slos
        .iter()
        .map(|slo| CanaryThreshold {
            slo: slo.name.clone(),
            service: slo.service.clone(),
            check: match &slo.indicator {
                Indicator::Ratio(_) => CanaryCheck::ErrorRatio {
                    max_error_ratio: slo.error_budget(),
                },
                Indicator::Latency(latency) => CanaryCheck::Latency {
                    threshold_seconds: latency.threshold_seconds,
                    min_good_ratio: slo.objective_ratio(),
                },
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_the_threshold_and_nan_is_inconclusive() {
        let errors = CanaryCheck::ErrorRatio {
            max_error_ratio: 0.001,
        };
        assert_eq!(errors.evaluate(0.001), Verdict::Successful);
        assert_eq!(errors.evaluate(0.0011), Verdict::Failed);
        assert_eq!(errors.evaluate(f64::NAN), Verdict::Inconclusive);
        let latency = CanaryCheck::Latency {
            threshold_seconds: 0.3,
            min_good_ratio: 0.99,
        };
        assert_eq!(latency.evaluate(0.995), Verdict::Successful);
        assert_eq!(latency.evaluate(0.98), Verdict::Failed);
    }
}
