//! The checks of a run: when the disruption ended, recovery, the steady state, the
//! disruption window's probes, and the census of the tasks it created.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{millis, DrillRun, EffectEnd, CENSUS_POLL, POLL};
use crate::chaos::{humanize, Dependency, TaskCensus};
use crate::drill::evaluate::{self, Observations};
use crate::drill::monitor::environment_now;
use crate::drill::report::{ProbeResult, RecoveryRecord};
use crate::drill::spec::SteadyProbe;
use crate::drill::timeline::{recovered_at, HealthRule, Window, SETTLE};
use crate::env::Environment;

impl DrillRun<'_> {
    /// When the last effect ended: an outage's restore as the daemon reported it.
    pub(super) async fn disruption_end(
        &self,
        effects: &[EffectEnd],
        method_end: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let mut end: Option<DateTime<Utc>> = None;
        for effect in effects {
            let at = match *effect {
                EffectEnd::At(at) => at,
                EffectEnd::MethodEnd => method_end,
                EffectEnd::Outage {
                    dependency,
                    started_at,
                    planned,
                } => self.outage_end(dependency, started_at, planned).await,
            };
            end = Some(end.map_or(at, |end| end.max(at)));
        }
        end.unwrap_or(method_end)
    }

    /// The reported restore, waiting for it up to a while past the planned end.
    pub(super) async fn outage_end(
        &self,
        dependency: Dependency,
        started_at: DateTime<Utc>,
        planned: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let give_up = planned + self.drill.recovery.within.get();
        loop {
            if let Ok(status) = self.environment.chaos_status().await {
                if let Some(ended) = status.outage_ended(dependency, started_at) {
                    return ended.at;
                }
            }
            if Utc::now() > give_up || self.interrupt.is_cancelled() {
                return planned;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Polls until the environment is healthy again, or the deadline.
    pub(super) async fn await_recovery(
        &mut self,
        from: DateTime<Utc>,
        deadline: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let rule =
            HealthRule {
                all_running: self
                    .drill
                    .hypothesis
                    .probes
                    .contains(&SteadyProbe::AllRunning),
                max_queue_depth: self.drill.hypothesis.probes.iter().find_map(
                    |probe| match probe {
                        SteadyProbe::QueueDepth(depth) => Some(depth.max),
                        _ => None,
                    },
                ),
            };
        let settle = chrono::Duration::from_std(SETTLE).unwrap_or_default();
        loop {
            let (monitor, probes) = self.observations();
            if let Some(at) = recovered_at(from, rule, &monitor, &probes) {
                self.step(
                    at,
                    "recovered",
                    true,
                    format!(
                        "{} after the disruption ended",
                        humanize((at - from).to_std().unwrap_or_default())
                    ),
                );
                return Some(at);
            }
            if Utc::now() > deadline + settle || self.interrupt.is_cancelled() {
                self.step(
                    Utc::now(),
                    "recovered",
                    false,
                    "not within the bound".to_owned(),
                );
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The steady-state probes (all but tasks-terminal) over the window ending now.
    pub(super) async fn steady_state(&mut self, label: &str) -> Vec<ProbeResult> {
        let now_state = environment_now(self.environment).await;
        let window = Window::ending_at(Utc::now(), self.drill.hypothesis.window.get());
        let (monitor, probes) = self.observations();
        let seen = Observations {
            monitor: &monitor,
            probes: &probes,
        };
        let results: Vec<ProbeResult> = self
            .drill
            .hypothesis
            .probes
            .iter()
            .filter_map(|probe| evaluate::steady(probe, window, &now_state, &seen))
            .collect();
        let held = results.iter().all(|result| result.passed);
        let summary = results
            .iter()
            .map(|result| format!("{}: {}", result.probe, result.observed))
            .collect::<Vec<_>>()
            .join("; ");
        self.step(Utc::now(), label, held, summary);
        results
    }

    pub(super) async fn judge_during(&self, window: Window) -> Vec<ProbeResult> {
        let rollout = if self
            .drill
            .during
            .iter()
            .any(|probe| matches!(probe, crate::drill::spec::DuringProbe::RolloutAborted(_)))
        {
            self.environment.rollout().await.ok()
        } else {
            None
        };
        let (monitor, probes) = self.observations();
        let seen = Observations {
            monitor: &monitor,
            probes: &probes,
        };
        self.drill
            .during
            .iter()
            .map(|probe| evaluate::during(probe, window, &seen, rollout.as_ref()))
            .collect()
    }

    /// Counts the tasks created since the start until none is in flight, or `within`.
    pub(super) async fn await_tasks(&mut self, within: Duration) -> Option<TaskCensus> {
        let started = tokio::time::Instant::now();
        let mut last = None;
        loop {
            match self.environment.task_census(self.started_at).await {
                Ok(census) => {
                    let settled = census.in_flight() == 0;
                    last = Some(census);
                    if settled {
                        break;
                    }
                }
                Err(error) => {
                    tracing::debug!(error = %format!("{error:#}"), "task census failed");
                }
            }
            if started.elapsed() >= within || self.interrupt.is_cancelled() {
                break;
            }
            tokio::time::sleep(CENSUS_POLL).await;
        }
        let detail = match &last {
            Some(census) => format!(
                "{} created, {} in flight after {}",
                census.total(),
                census.in_flight(),
                humanize(started.elapsed())
            ),
            None => "the database could not be counted".to_owned(),
        };
        let ok = last.as_ref().is_some_and(|census| census.in_flight() == 0);
        self.step(Utc::now(), "tasks counted", ok, detail);
        last
    }
}

pub(super) fn recovery_record(
    within: Duration,
    disruption_end: Option<DateTime<Utc>>,
    recovered: Option<DateTime<Utc>>,
) -> RecoveryRecord {
    let measured_ms = disruption_end
        .zip(recovered)
        .map(|(end, at)| u64::try_from((at - end).num_milliseconds()).unwrap_or(0));
    RecoveryRecord {
        expected_within_ms: millis(within),
        disruption_ended_at: disruption_end,
        recovered_at: recovered,
        measured_ms,
        passed: match (disruption_end, measured_ms) {
            (None, _) => true,
            (Some(_), Some(ms)) => ms <= millis(within),
            (Some(_), None) => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn recovery_passes_within_the_bound_and_without_a_disruption() {
        let end = Utc::now();
        let within = Duration::from_secs(60);
        let quick = recovery_record(within, Some(end), Some(end + chrono::Duration::seconds(3)));
        assert_eq!((quick.measured_ms, quick.passed), (Some(3_000), true));
        let slow = recovery_record(within, Some(end), Some(end + chrono::Duration::seconds(61)));
        assert!(!slow.passed);
        let never = recovery_record(within, Some(end), None);
        assert_eq!((never.measured_ms, never.passed), (None, false));
        assert!(recovery_record(within, None, None).passed);
    }
}
