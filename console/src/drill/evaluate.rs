//! Turns observations into probe verdicts: the steady-state probes, the checks on the
//! disruption, and the task count. No I/O here.

use std::collections::VecDeque;

use super::report::{ProbeResult, TaskTally};
use super::spec::{DuringProbe, SteadyProbe};
use super::timeline::{failed_p99, traffic_in, MonitorSample, ProbeSample, Window};
use crate::chaos::{humanize, TaskCensus};
use crate::model::{RolloutPhase, RolloutStatus};

/// What the runner has seen, for one evaluation.
pub struct Observations<'a> {
    pub monitor: &'a VecDeque<MonitorSample>,
    pub probes: &'a VecDeque<ProbeSample>,
}

/// The environment at the moment of an evaluation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvironmentNow {
    /// Instances that should run and do not; `None` when the status was unreadable.
    pub not_running: Option<Vec<String>>,
    pub queue_depth: Option<u64>,
}

/// A steady-state probe over `window`; `None` for `tasks-terminal`, which is judged
/// once the load has stopped (see [`tasks_terminal`]).
pub fn steady(
    probe: &SteadyProbe,
    window: Window,
    now: &EnvironmentNow,
    seen: &Observations<'_>,
) -> Option<ProbeResult> {
    match probe {
        SteadyProbe::ErrorRatio(ratio) => Some(error_ratio(ratio.max, window, seen)),
        SteadyProbe::QueueDepth(depth) => Some(match now.queue_depth {
            Some(observed) => ProbeResult {
                probe: format!("queue-depth <= {}", depth.max),
                observed: format!("{observed} jobs"),
                passed: observed <= depth.max,
            },
            None => ProbeResult {
                probe: format!("queue-depth <= {}", depth.max),
                observed: "unreadable".to_owned(),
                passed: false,
            },
        }),
        SteadyProbe::AllRunning => Some(match &now.not_running {
            Some(names) if names.is_empty() => ProbeResult {
                probe: "all-running".to_owned(),
                observed: "all running".to_owned(),
                passed: true,
            },
            Some(names) => ProbeResult {
                probe: "all-running".to_owned(),
                observed: format!("not running: {}", names.join(", ")),
                passed: false,
            },
            None => ProbeResult {
                probe: "all-running".to_owned(),
                observed: "status unreadable".to_owned(),
                passed: false,
            },
        }),
        SteadyProbe::TasksTerminal => None,
    }
}

/// A check of the disruption window.
pub fn during(
    probe: &DuringProbe,
    window: Window,
    seen: &Observations<'_>,
    rollout: Option<&RolloutStatus>,
) -> ProbeResult {
    match probe {
        DuringProbe::ErrorRatio(ratio) => error_ratio(ratio.max, window, seen),
        DuringProbe::FailedP99(bound) => {
            let label = format!("failed-p99 <= {}", bound.max);
            match failed_p99(window, seen.probes) {
                Some((p99, failed)) => ProbeResult {
                    probe: label,
                    observed: format!("{} over {failed} failed requests", humanize(p99)),
                    passed: p99 <= bound.max.get(),
                },
                None => ProbeResult {
                    probe: label,
                    observed: "no probe request failed: the disruption was not seen".to_owned(),
                    passed: false,
                },
            }
        }
        DuringProbe::RolloutAborted(bound) => {
            let label = format!(
                "rollout-aborted within {} analysis run(s)",
                bound.max_analysis_runs
            );
            match rollout {
                Some(rollout) => {
                    let runs = rollout.analysis_runs.len();
                    let aborted = rollout.phase == RolloutPhase::Degraded
                        && rollout.aborted
                        && rollout.canary_weight == 0;
                    ProbeResult {
                        probe: label,
                        observed: format!(
                            "{} after {runs} analysis run(s), canary weight {}%{}",
                            rollout.phase.as_str(),
                            rollout.canary_weight,
                            rollout
                                .message
                                .as_deref()
                                .map_or_else(String::new, |message| format!(": {message}"))
                        ),
                        passed: aborted && runs <= bound.max_analysis_runs,
                    }
                }
                None => ProbeResult {
                    probe: label,
                    observed: "the rollout status is unreadable".to_owned(),
                    passed: false,
                },
            }
        }
    }
}

fn error_ratio(max: f64, window: Window, seen: &Observations<'_>) -> ProbeResult {
    let traffic = traffic_in(window, seen.monitor, seen.probes);
    let label = format!("error-ratio <= {}", percent(max));
    match traffic.error_ratio() {
        Some(ratio) => ProbeResult {
            probe: label,
            observed: format!("{} of {} requests", percent(ratio), traffic.requests),
            passed: ratio <= max,
        },
        None => ProbeResult {
            probe: label,
            observed: "no requests in the window".to_owned(),
            passed: false,
        },
    }
}

/// Every task whose run was requested ended DONE or FAILED: judged on the last census.
pub fn tasks_terminal(census: Option<&TaskCensus>) -> (ProbeResult, Option<TaskTally>) {
    let Some(census) = census else {
        return (
            ProbeResult {
                probe: "tasks-terminal".to_owned(),
                observed: "the database could not be counted".to_owned(),
                passed: false,
            },
            None,
        );
    };
    let tally = TaskTally {
        created: census.total(),
        done: census.done,
        failed: census.failed,
        never_run: census.pending,
        lost: census.in_flight(),
    };
    let result = ProbeResult {
        probe: "tasks-terminal".to_owned(),
        observed: format!(
            "{} of {} run tasks ended, {} lost",
            census.terminal(),
            census.terminal() + census.in_flight(),
            tally.lost
        ),
        passed: tally.lost == 0,
    };
    (result, Some(tally))
}

/// `0.25%`, `1%`: ratios as people read them.
pub fn percent(ratio: f64) -> String {
    let value = ratio * 100.0;
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0}%")
    } else {
        format!("{value:.2}%")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{DateTime, Utc};

    use super::*;
    use crate::drill::spec::{DrillDuration, MaxCount, MaxDuration, MaxRatio, RolloutAbortedProbe};
    use crate::drill::timeline::LoadCounts;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_700_000_000_000 + ms).expect("time")
    }

    fn window() -> Window {
        Window {
            from: at(0),
            to: at(10_000),
        }
    }

    fn load_samples(finished: u64, failures: u64) -> VecDeque<MonitorSample> {
        [0, 10_000]
            .into_iter()
            .zip([(0, 0), (finished, failures)])
            .map(|(ms, (finished, failures))| MonitorSample {
                at: at(ms),
                all_running: Some(true),
                queue_depth: Some(0),
                load: Some(LoadCounts {
                    run: 1,
                    finished,
                    failures,
                }),
            })
            .collect()
    }

    #[test]
    fn the_error_ratio_passes_at_the_bound_and_fails_above_or_without_traffic() {
        let probe = SteadyProbe::ErrorRatio(MaxRatio { max: 0.01 });
        let now = EnvironmentNow::default();
        let probes = VecDeque::new();
        for (failures, passes) in [(0, true), (2, true), (3, false)] {
            let monitor = load_samples(200, failures);
            let seen = Observations {
                monitor: &monitor,
                probes: &probes,
            };
            let result = steady(&probe, window(), &now, &seen).expect("judged");
            assert_eq!(result.passed, passes, "{result:?}");
            assert_eq!(result.probe, "error-ratio <= 1%");
        }
        let monitor = VecDeque::new();
        let seen = Observations {
            monitor: &monitor,
            probes: &probes,
        };
        let silent = steady(&probe, window(), &now, &seen).expect("judged");
        assert!(!silent.passed);
        assert!(silent.observed.contains("no requests"), "{silent:?}");
    }

    #[test]
    fn queue_and_instances_are_judged_on_the_current_state() {
        let (monitor, probes) = (VecDeque::new(), VecDeque::new());
        let seen = Observations {
            monitor: &monitor,
            probes: &probes,
        };
        let queue = SteadyProbe::QueueDepth(MaxCount { max: 100 });
        let deep = EnvironmentNow {
            not_running: Some(vec!["worker-1".to_owned()]),
            queue_depth: Some(101),
        };
        assert!(
            !steady(&queue, window(), &deep, &seen)
                .expect("judged")
                .passed
        );
        let running = steady(&SteadyProbe::AllRunning, window(), &deep, &seen).expect("judged");
        assert!(!running.passed);
        assert!(running.observed.contains("worker-1"));
        let fine = EnvironmentNow {
            not_running: Some(Vec::new()),
            queue_depth: Some(100),
        };
        assert!(
            steady(&queue, window(), &fine, &seen)
                .expect("judged")
                .passed
        );
        assert!(
            steady(&SteadyProbe::AllRunning, window(), &fine, &seen)
                .expect("judged")
                .passed
        );
        assert!(steady(&SteadyProbe::TasksTerminal, window(), &fine, &seen).is_none());
        let unreadable = EnvironmentNow::default();
        assert!(
            !steady(&queue, window(), &unreadable, &seen)
                .expect("judged")
                .passed
        );
    }

    #[test]
    fn failed_requests_must_be_seen_and_fast() {
        let monitor = VecDeque::new();
        let probe = DuringProbe::FailedP99(MaxDuration {
            max: DrillDuration(Duration::from_secs(1)),
        });
        let failed = |latency_ms: u64| -> VecDeque<ProbeSample> {
            (0..10)
                .map(|index| ProbeSample {
                    at: at(index * 100),
                    status: Some(503),
                    latency: Duration::from_millis(latency_ms),
                })
                .collect()
        };
        let fast = failed(20);
        let slow = failed(1_500);
        let none = VecDeque::new();
        for (probes, passes) in [(&fast, true), (&slow, false), (&none, false)] {
            let seen = Observations {
                monitor: &monitor,
                probes,
            };
            assert_eq!(during(&probe, window(), &seen, None).passed, passes);
        }
    }

    #[test]
    fn an_aborted_rollout_passes_only_within_its_analysis_runs() {
        let (monitor, probes) = (VecDeque::new(), VecDeque::new());
        let seen = Observations {
            monitor: &monitor,
            probes: &probes,
        };
        let probe = DuringProbe::RolloutAborted(RolloutAbortedProbe {
            max_analysis_runs: 1,
        });
        assert!(!during(&probe, window(), &seen, None).passed);
        let status: RolloutStatus = serde_json::from_value(serde_json::json!({
            "stable_revision": "v1", "canary_revision": "bad", "phase": "Degraded",
            "aborted": true, "message": "error ratio 30% above 1%", "steps": [],
            "current_step_index": 2, "canary_weight": 0, "pause_until": null,
            "analysis_runs": [], "revisions": [], "events": [],
            "canary_ready": 0, "canary_replicas": 1, "updated_at": "2026-01-01T00:00:00Z"
        }))
        .expect("status");
        let result = during(&probe, window(), &seen, Some(&status));
        assert!(result.passed, "{result:?}");
        assert!(result.observed.contains("error ratio 30%"));
        let still_on = RolloutStatus {
            canary_weight: 10,
            set_weight: None,
            ..status
        };
        assert!(!during(&probe, window(), &seen, Some(&still_on)).passed);
    }

    #[test]
    fn lost_tasks_are_those_left_queued_or_running() {
        let census = TaskCensus {
            since: Utc::now(),
            pending: 4,
            queued: 1,
            running: 1,
            done: 90,
            failed: 10,
        };
        let (result, tally) = tasks_terminal(Some(&census));
        assert!(!result.passed);
        assert_eq!(result.observed, "100 of 102 run tasks ended, 2 lost");
        let tally = tally.expect("tally");
        assert_eq!((tally.created, tally.never_run, tally.lost), (106, 4, 2));
        let (clean, _) = tasks_terminal(Some(&TaskCensus {
            queued: 0,
            running: 0,
            ..census
        }));
        assert!(clean.passed);
        assert!(!tasks_terminal(None).0.passed);
    }

    #[test]
    fn percentages_read_naturally() {
        assert_eq!(percent(0.01), "1%");
        assert_eq!(percent(0.0025), "0.25%");
        assert_eq!(percent(0.0), "0%");
    }
}
