//! Which scraped series an SLO reads: the spec's selectors compiled to label matchers.

use regex::Regex;

use super::exposition::CounterSample;
use super::EngineError;
use crate::slo::spec::{Indicator, MatchOp, Matcher, SloSpec};

/// What a series counts for one SLO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Errors,
    Total,
    /// Latency SLOs: events at or under the threshold bucket.
    Good,
}

#[derive(Debug, Clone)]
enum LabelTest {
    Equal(String),
    NotEqual(String),
    Regex(Regex),
    NotRegex(Regex),
}

#[derive(Debug, Clone)]
struct LabelMatcher {
    label: String,
    test: LabelTest,
}

/// A metric name, label matchers and, for a histogram bucket, its bound.
#[derive(Debug, Clone)]
pub(super) struct SeriesSelector {
    metric: String,
    le: Option<f64>,
    matchers: Vec<LabelMatcher>,
}

/// The selectors of every SLO, in spec order, with the role each one fills.
#[derive(Debug, Clone)]
pub(super) struct SpecSelection {
    pub(super) slos: Vec<Vec<(Role, SeriesSelector)>>,
}

impl SpecSelection {
    pub(super) fn compile(spec: &SloSpec) -> Result<Self, EngineError> {
        let slos = spec
            .slos
            .iter()
            .map(|slo| {
                let compile = |metric: String, matchers: &[Matcher], le: Option<f64>| {
                    SeriesSelector::compile(&slo.name, metric, matchers, le)
                };
                Ok(match &slo.indicator {
                    Indicator::Ratio(ratio) => vec![
                        (
                            Role::Errors,
                            compile(ratio.errors.metric.clone(), &ratio.errors.matchers, None)?,
                        ),
                        (
                            Role::Total,
                            compile(ratio.total.metric.clone(), &ratio.total.matchers, None)?,
                        ),
                    ],
                    Indicator::Latency(latency) => vec![
                        (
                            Role::Good,
                            compile(
                                format!("{}_bucket", latency.histogram),
                                &latency.matchers,
                                Some(latency.threshold_seconds),
                            )?,
                        ),
                        (
                            Role::Total,
                            compile(
                                format!("{}_count", latency.histogram),
                                &latency.matchers,
                                None,
                            )?,
                        ),
                    ],
                })
            })
            .collect::<Result<Vec<_>, EngineError>>()?;
        Ok(Self { slos })
    }

    /// Cheap first filter: a sample of a metric no selector names is never kept.
    pub(super) fn names_metric(&self, metric: &str) -> bool {
        self.slos
            .iter()
            .flatten()
            .any(|(_, selector)| selector.metric == metric)
    }

    /// Every (SLO index, role) the sample's series fills.
    pub(super) fn roles(&self, sample: &CounterSample) -> Vec<(usize, Role)> {
        let mut roles = Vec::new();
        for (slo, selectors) in self.slos.iter().enumerate() {
            for (role, selector) in selectors {
                if selector.matches(sample) {
                    roles.push((slo, *role));
                }
            }
        }
        roles
    }
}

impl SeriesSelector {
    fn compile(
        slo: &str,
        metric: String,
        matchers: &[Matcher],
        le: Option<f64>,
    ) -> Result<Self, EngineError> {
        let matchers = matchers
            .iter()
            .map(|matcher| {
                // PromQL anchors regex matchers at both ends.
                let anchored = || {
                    Regex::new(&format!("^(?:{})$", matcher.value)).map_err(|err| {
                        EngineError::Matcher {
                            slo: slo.to_owned(),
                            label: matcher.label.clone(),
                            reason: err.to_string(),
                        }
                    })
                };
                let test = match matcher.op {
                    MatchOp::Equal => LabelTest::Equal(matcher.value.clone()),
                    MatchOp::NotEqual => LabelTest::NotEqual(matcher.value.clone()),
                    MatchOp::Regex => LabelTest::Regex(anchored()?),
                    MatchOp::NotRegex => LabelTest::NotRegex(anchored()?),
                };
                Ok(LabelMatcher {
                    label: matcher.label.clone(),
                    test,
                })
            })
            .collect::<Result<Vec<_>, EngineError>>()?;
        Ok(Self {
            metric,
            le,
            matchers,
        })
    }

    fn matches(&self, sample: &CounterSample) -> bool {
        if sample.metric != self.metric {
            return false;
        }
        if let Some(bound) = self.le {
            // Both sides parse the same decimal text, so equality is exact.
            if sample.le != Some(bound) {
                return false;
            }
        }
        self.matchers.iter().all(|matcher| {
            // A missing label matches as the empty string, as in PromQL.
            let value = sample.label(&matcher.label).unwrap_or("");
            match &matcher.test {
                LabelTest::Equal(expected) => value == expected,
                LabelTest::NotEqual(expected) => value != expected,
                LabelTest::Regex(regex) => regex.is_match(value),
                LabelTest::NotRegex(regex) => !regex.is_match(value),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(metric: &str, labels: &[(&str, &str)], le: Option<f64>) -> CounterSample {
        CounterSample::new(
            metric,
            labels
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            le,
            1.0,
        )
    }

    fn spec() -> SloSpec {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../observability/slo.yaml"
        ))
        .expect("the committed spec");
        SloSpec::from_yaml(&text).expect("a valid spec")
    }

    #[test]
    fn regex_matchers_are_anchored_and_a_5xx_is_both_error_and_total() {
        let selection = SpecSelection::compile(&spec()).expect("compiles");
        let failed = sample(
            "http_requests_total",
            &[("route", "/tasks/{id}"), ("status", "503")],
            None,
        );
        assert_eq!(
            selection.roles(&failed),
            vec![(0, Role::Errors), (0, Role::Total)]
        );
        let probe = sample(
            "http_requests_total",
            &[("route", "/health/tasks"), ("status", "500")],
            None,
        );
        assert!(selection.roles(&probe).is_empty());
    }

    #[test]
    fn latency_reads_only_the_threshold_bucket() {
        let selection = SpecSelection::compile(&spec()).expect("compiles");
        let route = [("route", "/tasks")];
        let at_threshold = sample("http_request_duration_seconds_bucket", &route, Some(0.3));
        let other = sample("http_request_duration_seconds_bucket", &route, Some(0.25));
        assert_eq!(selection.roles(&at_threshold), vec![(1, Role::Good)]);
        assert!(selection.roles(&other).is_empty());
        assert!(selection.names_metric("opsbox_job_queue_wait_seconds_count"));
        assert!(!selection.names_metric("opsbox_build_info"));
    }
}
