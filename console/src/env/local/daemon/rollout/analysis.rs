//! Canary analysis: the canary instances' own counters, scraped when its weight was set
//! and again at the analysis step, judged against the SLO objectives.
//!
//! The thresholds are [`crate::slo::canary_thresholds`], the ones the generated Argo
//! AnalysisTemplate uses, so a canary fails here exactly when it would in a cluster.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::model::{AnalysisMeasurement, AnalysisPhase, AnalysisRun};
use crate::slo::engine::{EventTotals, SloCounters};
use crate::slo::{canary_thresholds, CanaryCheck, CanaryThreshold, SloSpec};

/// Fewer canary events than this in a step cannot tell a 0.1% error budget from luck:
/// the analysis is Inconclusive and the rollout pauses for a person to decide.
pub const MIN_CANARY_EVENTS: f64 = 20.0;

/// How long one scrape of a canary's `/metrics` may take.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);

/// The workload whose canary the local environment rolls out.
const SERVICE: &str = "api";

/// One canary instance to scrape.
#[derive(Debug, Clone)]
pub struct CanaryTarget {
    pub name: String,
    pub pid: Option<u32>,
    pub addr: SocketAddr,
}

/// Each canary instance's per-SLO totals at one moment.
#[derive(Debug, Clone, Default)]
pub struct CanaryCounters {
    instances: BTreeMap<String, (Option<u32>, Vec<EventTotals>)>,
}

impl CanaryCounters {
    /// The events of every instance since `baseline`; an instance that restarted (new
    /// pid) or appeared since counts from zero.
    fn since(&self, baseline: &CanaryCounters, slos: usize) -> Vec<EventTotals> {
        let mut sum = vec![EventTotals::default(); slos];
        for (name, (pid, totals)) in &self.instances {
            let before = baseline
                .instances
                .get(name)
                .filter(|(old_pid, _)| old_pid == pid)
                .map(|(_, totals)| totals.as_slice());
            for (slo, now) in totals.iter().enumerate() {
                let delta = match before.and_then(|before| before.get(slo)) {
                    Some(then) => now.since(then),
                    None => *now,
                };
                if let Some(entry) = sum.get_mut(slo) {
                    entry.add(&delta);
                }
            }
        }
        sum
    }
}

/// Judges canaries against the API's SLOs.
#[derive(Debug, Clone)]
pub struct CanaryAnalysis {
    counters: SloCounters,
    /// (index in the spec, threshold) of the API's SLOs.
    thresholds: Vec<(usize, CanaryThreshold)>,
    slos: usize,
    http: reqwest::Client,
}

impl CanaryAnalysis {
    pub fn new(spec: &SloSpec) -> anyhow::Result<Self> {
        let thresholds = canary_thresholds(spec)
            .into_iter()
            .enumerate()
            .filter(|(_, threshold)| threshold.service == SERVICE)
            .collect();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(SCRAPE_TIMEOUT)
            .build()?;
        Ok(Self {
            counters: SloCounters::new(spec)?,
            thresholds,
            slos: spec.slos.len(),
            http,
        })
    }

    /// Scrapes every target; one that does not answer is left out (and so counts from
    /// zero if it answers next time).
    pub async fn scrape(&self, targets: &[CanaryTarget]) -> CanaryCounters {
        let mut counters = CanaryCounters::default();
        for target in targets {
            let url = format!("http://{}/metrics", target.addr);
            let text = match self.http.get(&url).send().await {
                Ok(response) if response.status().is_success() => response.text().await.ok(),
                Ok(response) => {
                    tracing::warn!(instance = %target.name, status = %response.status(), "canary scrape refused");
                    None
                }
                Err(error) => {
                    tracing::warn!(instance = %target.name, %error, "canary scrape failed");
                    None
                }
            };
            if let Some(text) = text {
                counters.instances.insert(
                    target.name.clone(),
                    (target.pid, self.counters.totals(&text)),
                );
            }
        }
        counters
    }

    /// The analysis run of step `step_index` from the counters at its start and now.
    pub fn judge(
        &self,
        step_index: usize,
        started_at: DateTime<Utc>,
        baseline: &CanaryCounters,
        now: &CanaryCounters,
        finished_at: DateTime<Utc>,
    ) -> AnalysisRun {
        let events = now.since(baseline, self.slos);
        let measurements: Vec<AnalysisMeasurement> = self
            .thresholds
            .iter()
            .map(|(index, threshold)| {
                measure(threshold, events.get(*index).copied().unwrap_or_default())
            })
            .collect();
        let failed: Vec<String> = self
            .thresholds
            .iter()
            .zip(&measurements)
            .filter(|(_, measurement)| measurement.phase == AnalysisPhase::Failed)
            .map(|((_, threshold), measurement)| breach(threshold, measurement))
            .collect();
        let thin = measurements
            .iter()
            .filter(|measurement| measurement.phase == AnalysisPhase::Inconclusive)
            .map(|measurement| measurement.events)
            .fold(None, |fewest: Option<f64>, events| {
                Some(fewest.map_or(events, |fewest| fewest.min(events)))
            });
        let (phase, message) = if !failed.is_empty() {
            (AnalysisPhase::Failed, failed.join("; "))
        } else if let Some(events) = thin {
            (
                AnalysisPhase::Inconclusive,
                format!(
                    "only {events:.0} canary requests since the weight was set (at least {MIN_CANARY_EVENTS:.0} needed)"
                ),
            )
        } else {
            (
                AnalysisPhase::Successful,
                measurements
                    .iter()
                    .map(summary)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        };
        AnalysisRun {
            step_index,
            started_at,
            finished_at: Some(finished_at),
            phase,
            measurements,
            message: Some(message),
        }
    }
}

fn measure(threshold: &CanaryThreshold, events: EventTotals) -> AnalysisMeasurement {
    let (metric, value, limit) = match threshold.check {
        CanaryCheck::ErrorRatio { max_error_ratio } => (
            "error_ratio",
            ratio(events.bad, events.total),
            max_error_ratio,
        ),
        CanaryCheck::Latency { min_good_ratio, .. } => (
            "good_ratio",
            ratio(events.good, events.total),
            min_good_ratio,
        ),
    };
    let phase = match value {
        Some(_) if events.total < MIN_CANARY_EVENTS => AnalysisPhase::Inconclusive,
        Some(value) => match threshold.check.evaluate(value) {
            crate::slo::canary::Verdict::Successful => AnalysisPhase::Successful,
            crate::slo::canary::Verdict::Failed => AnalysisPhase::Failed,
            crate::slo::canary::Verdict::Inconclusive => AnalysisPhase::Inconclusive,
        },
        None => AnalysisPhase::Inconclusive,
    };
    AnalysisMeasurement {
        slo: threshold.slo.clone(),
        metric: metric.to_owned(),
        value,
        threshold: limit,
        events: events.total,
        phase,
    }
}

fn ratio(part: f64, total: f64) -> Option<f64> {
    (total > 0.0).then(|| part / total)
}

/// Which metric breached and by how much, in words an on-call engineer reads at a glance.
fn breach(threshold: &CanaryThreshold, measurement: &AnalysisMeasurement) -> String {
    let value = measurement.value.unwrap_or(f64::NAN);
    match threshold.check {
        CanaryCheck::ErrorRatio { max_error_ratio } => format!(
            "{}: canary error ratio {} is above the {} allowed ({:.1}× the error budget, {:.0} of {:.0} requests failed)",
            threshold.slo,
            percent(value),
            percent(max_error_ratio),
            value / max_error_ratio,
            value * measurement.events,
            measurement.events
        ),
        CanaryCheck::Latency {
            threshold_seconds,
            min_good_ratio,
        } => format!(
            "{}: {} of canary requests completed within {:.0} ms, below the {} objective ({:.0} of {:.0} were slower)",
            threshold.slo,
            percent(value),
            threshold_seconds * 1000.0,
            percent(min_good_ratio),
            (1.0 - value) * measurement.events,
            measurement.events
        ),
    }
}

fn summary(measurement: &AnalysisMeasurement) -> String {
    format!(
        "{} {} {} over {:.0} requests",
        measurement.slo,
        measurement.metric,
        measurement.value.map_or_else(|| "n/a".to_owned(), percent),
        measurement.events
    )
}

fn percent(ratio: f64) -> String {
    let percent = ratio * 100.0;
    if percent != 0.0 && percent.abs() < 1.0 {
        format!("{percent:.2}%")
    } else {
        format!("{percent:.1}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exposition(ok: u64, failed: u64, fast: u64) -> String {
        format!(
            "# TYPE http_requests_total counter\n\
             http_requests_total{{method=\"POST\",route=\"/tasks\",status=\"201\"}} {ok}\n\
             http_requests_total{{method=\"POST\",route=\"/tasks\",status=\"500\"}} {failed}\n\
             # TYPE http_request_duration_seconds histogram\n\
             http_request_duration_seconds_bucket{{route=\"/tasks\",le=\"0.3\"}} {fast}\n\
             http_request_duration_seconds_count{{route=\"/tasks\"}} {}\n",
            ok + failed
        )
    }

    fn counters(analysis: &CanaryAnalysis, pid: u32, text: &str) -> CanaryCounters {
        let mut counters = CanaryCounters::default();
        counters.instances.insert(
            "api-canary-1".into(),
            (Some(pid), analysis.counters.totals(text)),
        );
        counters
    }

    fn analysis() -> CanaryAnalysis {
        CanaryAnalysis::new(&SloSpec::builtin().expect("spec")).expect("analysis")
    }

    #[test]
    fn an_error_ratio_above_budget_fails_and_says_by_how_much() {
        let analysis = analysis();
        let before = counters(&analysis, 7, &exposition(100, 0, 100));
        let after = counters(&analysis, 7, &exposition(170, 30, 200));
        let run = analysis.judge(2, Utc::now(), &before, &after, Utc::now());
        assert_eq!(run.phase, AnalysisPhase::Failed);
        let message = run.message.expect("message");
        assert!(message.contains("api-availability"), "{message}");
        assert!(message.contains("30.0%"), "{message}");
        assert!(message.contains("0.10% allowed"), "{message}");
        assert!(message.contains("300.0× the error budget"), "{message}");
        assert!(message.contains("30 of 100 requests failed"), "{message}");
        let availability = &run.measurements[0];
        assert_eq!(availability.value, Some(0.3));
        assert_eq!(availability.events, 100.0);
    }

    #[test]
    fn a_healthy_canary_passes_and_too_little_traffic_is_inconclusive() {
        let analysis = analysis();
        let before = counters(&analysis, 7, &exposition(100, 0, 100));
        let after = counters(&analysis, 7, &exposition(400, 0, 400));
        let run = analysis.judge(2, Utc::now(), &before, &after, Utc::now());
        assert_eq!(run.phase, AnalysisPhase::Successful, "{:?}", run.message);
        assert_eq!(run.measurements.len(), 2, "one per API SLO");

        let after = counters(&analysis, 7, &exposition(105, 0, 105));
        let run = analysis.judge(2, Utc::now(), &before, &after, Utc::now());
        assert_eq!(run.phase, AnalysisPhase::Inconclusive);
        assert!(run
            .message
            .expect("message")
            .contains("only 5 canary requests"));
    }

    #[test]
    fn a_restarted_canary_counts_from_zero_and_slow_requests_fail_latency() {
        let analysis = analysis();
        let before = counters(&analysis, 7, &exposition(1000, 0, 1000));
        // New pid: its 100 requests are all since the baseline, 10 of them slow.
        let after = counters(&analysis, 8, &exposition(100, 0, 90));
        let run = analysis.judge(5, Utc::now(), &before, &after, Utc::now());
        assert_eq!(run.phase, AnalysisPhase::Failed);
        let message = run.message.expect("message");
        assert!(message.starts_with("api-latency: 90.0%"), "{message}");
        assert!(message.contains("10 of 100 were slower"), "{message}");
    }
}
