//! What a drill observes over time, and the arithmetic on it: traffic in a window, the
//! latency of failed requests, and when the environment had recovered. No I/O here.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Observations kept per kind; the oldest go first. At the probe's and monitor's
/// rates this is well over an hour, longer than any drill may last.
pub const MAX_SAMPLES: usize = 20_000;

/// How long the environment must look healthy, continuously, to count as recovered.
pub const SETTLE: Duration = Duration::from_secs(1);

/// Probe requests that must succeed in a row within [`SETTLE`] to count as recovered.
pub const SETTLE_PROBES: usize = 3;

/// One request of the drill's own prober.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeSample {
    pub at: DateTime<Utc>,
    /// `None`: no answer (refused, broken, timed out).
    pub status: Option<u16>,
    pub latency: Duration,
}

impl ProbeSample {
    pub fn ok(&self) -> bool {
        self.status
            .is_some_and(|status| (200..300).contains(&status))
    }

    /// Failures as an SLI counts them: a 5xx or no answer (a 4xx is the client's).
    pub fn server_failure(&self) -> bool {
        self.status.is_none_or(|status| status >= 500)
    }
}

/// Cumulative counts of one background load run, as published while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoadCounts {
    /// Which `start-load` of the drill this run is (counts restart at zero with each).
    pub run: u32,
    pub finished: u64,
    /// 5xx answers and transport errors.
    pub failures: u64,
}

/// What the monitor saw at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorSample {
    pub at: DateTime<Utc>,
    /// `None` when the status could not be read.
    pub all_running: Option<bool>,
    /// Ready, delayed and processing jobs; `None` when unreadable.
    pub queue_depth: Option<u64>,
    /// The background load's totals, when one runs.
    pub load: Option<LoadCounts>,
}

/// Appends to a bounded deque, dropping the oldest.
pub fn push_bounded<T>(samples: &mut VecDeque<T>, sample: T) {
    if samples.len() == MAX_SAMPLES {
        samples.pop_front();
    }
    samples.push_back(sample);
}

/// A closed interval of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Window {
    pub fn ending_at(to: DateTime<Utc>, length: Duration) -> Self {
        Self {
            from: to - length,
            to,
        }
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at <= self.to
    }
}

/// Requests that ended in a window and how many of them failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    pub requests: u64,
    pub failures: u64,
}

impl Traffic {
    /// `None` without requests: no traffic is no evidence either way.
    pub fn error_ratio(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.failures as f64 / self.requests as f64)
    }
}

/// The background load's and the prober's requests that ended in `window`.
pub fn traffic_in(
    window: Window,
    monitor: &VecDeque<MonitorSample>,
    probes: &VecDeque<ProbeSample>,
) -> Traffic {
    let mut traffic = load_traffic_in(window, monitor);
    for sample in probes.iter().filter(|sample| window.contains(sample.at)) {
        traffic.requests += 1;
        traffic.failures += u64::from(sample.server_failure());
    }
    traffic
}

/// Load counts are cumulative per run: a run's share of the window is its last count in
/// the window less its last count before it (zero if it started inside the window).
fn load_traffic_in(window: Window, monitor: &VecDeque<MonitorSample>) -> Traffic {
    let mut traffic = Traffic::default();
    let mut runs: Vec<u32> = monitor
        .iter()
        .filter(|sample| window.contains(sample.at))
        .filter_map(|sample| sample.load.map(|load| load.run))
        .collect();
    runs.dedup();
    for run in runs {
        let of_run = |sample: &MonitorSample| sample.load.filter(|load| load.run == run);
        let before = monitor
            .iter()
            .filter(|sample| sample.at < window.from)
            .filter_map(of_run)
            .next_back()
            .unwrap_or_default();
        let last = monitor
            .iter()
            .filter(|sample| window.contains(sample.at))
            .filter_map(of_run)
            .next_back()
            .unwrap_or_default();
        traffic.requests += last.finished.saturating_sub(before.finished);
        traffic.failures += last.failures.saturating_sub(before.failures);
    }
    traffic
}

/// The 99th percentile (nearest rank) latency of the probe requests that failed in
/// `window`, and how many failed; `None` when none did.
pub fn failed_p99(window: Window, probes: &VecDeque<ProbeSample>) -> Option<(Duration, usize)> {
    let mut latencies: Vec<Duration> = probes
        .iter()
        .filter(|sample| window.contains(sample.at) && sample.server_failure())
        .map(|sample| sample.latency)
        .collect();
    if latencies.is_empty() {
        return None;
    }
    latencies.sort();
    let rank = (latencies.len() * 99).div_ceil(100).max(1);
    Some((latencies[rank - 1], latencies.len()))
}

/// What "healthy again" requires besides successful probe requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthRule {
    pub all_running: bool,
    pub max_queue_depth: Option<u64>,
}

impl HealthRule {
    fn healthy(&self, sample: &MonitorSample) -> bool {
        let running = !self.all_running || sample.all_running == Some(true);
        let queue = self
            .max_queue_depth
            .is_none_or(|max| sample.queue_depth.is_some_and(|depth| depth <= max));
        running && queue
    }
}

/// The first moment at or after `from` from which, for [`SETTLE`], every monitor sample
/// was healthy and at least [`SETTLE_PROBES`] probe requests all succeeded. `None`
/// while that has not happened (yet).
pub fn recovered_at(
    from: DateTime<Utc>,
    rule: HealthRule,
    monitor: &VecDeque<MonitorSample>,
    probes: &VecDeque<ProbeSample>,
) -> Option<DateTime<Utc>> {
    // Candidates are the moments something was observed: a healthy monitor sample or a
    // successful probe at or after `from`.
    let mut candidates: Vec<DateTime<Utc>> = monitor
        .iter()
        .filter(|sample| sample.at >= from && rule.healthy(sample))
        .map(|sample| sample.at)
        .chain(
            probes
                .iter()
                .filter(|sample| sample.at >= from && sample.ok())
                .map(|sample| sample.at),
        )
        .collect();
    candidates.sort();
    let settle = chrono::Duration::from_std(SETTLE).unwrap_or_default();
    candidates.into_iter().find(|&start| {
        let window = Window {
            from: start,
            to: start + settle,
        };
        let observed_to_the_end = monitor.back().is_some_and(|last| last.at >= window.to)
            && probes.back().is_some_and(|last| last.at >= window.to);
        // The health state at `start` is the newest monitor sample at or before it.
        let state_at_start = monitor.iter().rfind(|sample| sample.at <= start);
        let monitor_healthy = state_at_start.is_some_and(|sample| rule.healthy(sample))
            && monitor
                .iter()
                .filter(|sample| window.contains(sample.at))
                .all(|sample| rule.healthy(sample));
        let window_probes: Vec<&ProbeSample> = probes
            .iter()
            .filter(|sample| window.contains(sample.at))
            .collect();
        observed_to_the_end
            && monitor_healthy
            && window_probes.len() >= SETTLE_PROBES
            && window_probes.iter().all(|sample| sample.ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_700_000_000_000 + ms).expect("time")
    }

    fn probe(ms: i64, status: Option<u16>, latency_ms: u64) -> ProbeSample {
        ProbeSample {
            at: at(ms),
            status,
            latency: Duration::from_millis(latency_ms),
        }
    }

    fn monitor(ms: i64, healthy: bool, load: Option<LoadCounts>) -> MonitorSample {
        MonitorSample {
            at: at(ms),
            all_running: Some(healthy),
            queue_depth: Some(if healthy { 3 } else { 500 }),
            load,
        }
    }

    fn counts(run: u32, finished: u64, failures: u64) -> Option<LoadCounts> {
        Some(LoadCounts {
            run,
            finished,
            failures,
        })
    }

    #[test]
    fn load_traffic_is_the_cumulative_difference_per_run() {
        let samples: VecDeque<MonitorSample> = [
            monitor(0, true, counts(1, 100, 1)),
            monitor(1_000, true, counts(1, 120, 3)),
            monitor(2_000, true, counts(1, 140, 3)),
            // A second load run starts over at zero.
            monitor(3_000, true, counts(2, 10, 5)),
            monitor(4_000, true, None),
        ]
        .into();
        let window = Window {
            from: at(500),
            to: at(3_500),
        };
        let traffic = traffic_in(window, &samples, &VecDeque::new());
        // Run 1: 140 - 100 and 3 - 1; run 2 began inside the window: 10 and 5.
        assert_eq!(
            traffic,
            Traffic {
                requests: 50,
                failures: 7
            }
        );
        assert_eq!(traffic.error_ratio(), Some(0.14));
        let empty = Window {
            from: at(10_000),
            to: at(11_000),
        };
        assert_eq!(
            traffic_in(empty, &samples, &VecDeque::new()).error_ratio(),
            None
        );
    }

    #[test]
    fn probes_count_5xx_and_no_answer_as_failures_but_not_4xx() {
        let probes: VecDeque<ProbeSample> = [
            probe(0, Some(201), 5),
            probe(100, Some(503), 7),
            probe(200, None, 5_000),
            probe(300, Some(404), 3),
            probe(9_000, Some(500), 1),
        ]
        .into();
        let window = Window {
            from: at(0),
            to: at(1_000),
        };
        assert_eq!(
            traffic_in(window, &VecDeque::new(), &probes),
            Traffic {
                requests: 4,
                failures: 2
            }
        );
    }

    #[test]
    fn failed_p99_is_the_nearest_rank_of_failed_requests_only() {
        let mut probes: VecDeque<ProbeSample> = (0..100)
            .map(|index| probe(index, Some(503), u64::try_from(index).expect("small") + 1))
            .collect();
        probes.push_back(probe(50, Some(200), 60_000));
        let window = Window {
            from: at(0),
            to: at(1_000),
        };
        assert_eq!(
            failed_p99(window, &probes),
            Some((Duration::from_millis(99), 100))
        );
        let quiet = Window {
            from: at(5_000),
            to: at(6_000),
        };
        assert_eq!(failed_p99(quiet, &probes), None);
        let one: VecDeque<ProbeSample> = [probe(0, None, 700)].into();
        assert_eq!(
            failed_p99(window, &one),
            Some((Duration::from_millis(700), 1))
        );
    }

    #[test]
    fn recovery_is_the_start_of_the_first_settled_healthy_stretch() {
        let rule = HealthRule {
            all_running: true,
            max_queue_depth: Some(100),
        };
        let monitor_samples: VecDeque<MonitorSample> = (0..=10)
            .map(|second| monitor(second * 1_000, second >= 4, None))
            .collect();
        // Probes every 200 ms fail until 2.9 s, then a single success at 3.0 s and a
        // failure at 3.2 s, then all succeed.
        let probes: VecDeque<ProbeSample> = (0..=50)
            .map(|tick| {
                let ms = tick * 200;
                let ok = ms == 3_000 || ms >= 3_400;
                probe(ms, Some(if ok { 200 } else { 503 }), 2)
            })
            .collect();
        // The monitor turns healthy at 4 s; probes had been fine since 3.4 s.
        assert_eq!(
            recovered_at(at(0), rule, &monitor_samples, &probes),
            Some(at(4_000))
        );
        // Without the monitor's conditions, the probes alone decide.
        assert_eq!(
            recovered_at(at(0), HealthRule::default(), &monitor_samples, &probes),
            Some(at(3_400))
        );
        // Not yet observed for a whole settle period: not recovered yet.
        let short: VecDeque<ProbeSample> = probes
            .iter()
            .copied()
            .filter(|p| p.at <= at(4_500))
            .collect();
        assert_eq!(recovered_at(at(0), rule, &monitor_samples, &short), None);
    }

    #[test]
    fn recovery_never_starts_before_the_disruption_ended() {
        let monitor_samples: VecDeque<MonitorSample> = (0..=10)
            .map(|second| monitor(second * 1_000, true, None))
            .collect();
        let probes: VecDeque<ProbeSample> = (0..=50)
            .map(|tick| probe(tick * 200, Some(200), 2))
            .collect();
        assert_eq!(
            recovered_at(at(6_000), HealthRule::default(), &monitor_samples, &probes),
            Some(at(6_000))
        );
    }

    #[test]
    fn sample_buffers_are_bounded() {
        let mut samples = VecDeque::new();
        for index in 0..MAX_SAMPLES + 10 {
            push_bounded(&mut samples, index);
        }
        assert_eq!(samples.len(), MAX_SAMPLES);
        assert_eq!(samples.front(), Some(&10));
    }
}
