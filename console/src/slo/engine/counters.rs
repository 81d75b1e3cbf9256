//! Each SLO's counter totals in one scrape: what a canary analysis compares over a step.

use super::exposition::counter_samples;
use super::selection::{Role, SpecSelection};
use super::EngineError;
use crate::slo::spec::SloSpec;

/// One SLO's counters summed over the matching series of a scrape. For a ratio SLO
/// `bad` counts error events; for a latency SLO `good` counts events under the threshold.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EventTotals {
    pub bad: f64,
    pub good: f64,
    pub total: f64,
}

impl EventTotals {
    /// What happened between `earlier` and `self`, with counters that went down (the
    /// process restarted in between) counted from zero, as Prometheus' `increase` does.
    pub fn since(&self, earlier: &EventTotals) -> EventTotals {
        let delta = |now: f64, then: f64| if now >= then { now - then } else { now };
        EventTotals {
            bad: delta(self.bad, earlier.bad),
            good: delta(self.good, earlier.good),
            total: delta(self.total, earlier.total),
        }
    }

    pub fn add(&mut self, other: &EventTotals) {
        self.bad += other.bad;
        self.good += other.good;
        self.total += other.total;
    }
}

/// The spec's selectors, compiled once, summing scrapes per SLO (in spec order).
#[derive(Debug, Clone)]
pub struct SloCounters {
    selection: SpecSelection,
}

impl SloCounters {
    pub fn new(spec: &SloSpec) -> Result<Self, EngineError> {
        Ok(Self {
            selection: SpecSelection::compile(spec)?,
        })
    }

    /// One entry per SLO of the spec, from a text exposition.
    pub fn totals(&self, exposition: &str) -> Vec<EventTotals> {
        let mut totals = vec![EventTotals::default(); self.selection.slos.len()];
        for sample in counter_samples(exposition) {
            if !self.selection.names_metric(&sample.metric) {
                continue;
            }
            for (slo, role) in self.selection.roles(&sample) {
                let entry = &mut totals[slo];
                match role {
                    Role::Errors => entry.bad += sample.value,
                    Role::Good => entry.good += sample.value,
                    Role::Total => entry.total += sample.value,
                }
            }
        }
        totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRAPE: &str = "\
# TYPE http_requests_total counter
http_requests_total{method=\"POST\",route=\"/tasks\",status=\"201\",track=\"canary\"} 90
http_requests_total{method=\"POST\",route=\"/tasks\",status=\"503\",track=\"canary\"} 10
http_requests_total{method=\"GET\",route=\"/health\",status=\"500\",track=\"canary\"} 7
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{route=\"/tasks\",le=\"0.3\"} 95
http_request_duration_seconds_bucket{route=\"/tasks\",le=\"+Inf\"} 100
http_request_duration_seconds_count{route=\"/tasks\"} 100
";

    #[test]
    fn totals_follow_the_spec_selectors() {
        let spec = SloSpec::builtin().expect("built-in spec");
        let totals = SloCounters::new(&spec).expect("compiles").totals(SCRAPE);
        let availability = spec
            .slos
            .iter()
            .position(|slo| slo.name == "api-availability")
            .expect("api-availability");
        let latency = spec
            .slos
            .iter()
            .position(|slo| slo.name == "api-latency")
            .expect("api-latency");
        assert_eq!(totals[availability].bad, 10.0);
        assert_eq!(totals[availability].total, 100.0, "probes are excluded");
        assert_eq!(totals[latency].good, 95.0);
        assert_eq!(totals[latency].total, 100.0);
    }

    #[test]
    fn a_restart_between_scrapes_counts_from_zero() {
        let before = EventTotals {
            bad: 5.0,
            good: 0.0,
            total: 50.0,
        };
        let after_restart = EventTotals {
            bad: 1.0,
            good: 0.0,
            total: 20.0,
        };
        assert_eq!(after_restart.since(&before), after_restart);
        let later = EventTotals {
            bad: 6.0,
            good: 0.0,
            total: 80.0,
        };
        assert_eq!(
            later.since(&before),
            EventTotals {
                bad: 1.0,
                good: 0.0,
                total: 30.0
            }
        );
    }
}
