//! Runs one drill against an environment, client-side, and writes its report.
//!
//! Order: the prober and the monitor start; the method runs, with the steady state
//! checked just before its first chaos action; then the runner waits (bounded by
//! `recovery.within`) until the environment is healthy again, checks the steady state
//! over one more window of traffic, stops the load, and counts the tasks created since
//! the start in the database until none is in flight or the bound is reached.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::background_load::{BackgroundLoad, LoadGauge};
use super::evaluate::{self, Observations};
use super::monitor::{environment_now, Monitor, MonitorSamples};
use super::prober::{ProbeSamples, Prober};
use super::report::{DrillReport, ProbeResult, RecoveryRecord, StepRecord, TrafficTally};
use super::spec::{Action, Condition, Drill, SteadyProbe, WaitUntil};
use super::timeline::{recovered_at, HealthRule, MonitorSample, ProbeSample, Window, SETTLE};
use crate::chaos::{humanize, Dependency, FaultRequest, KillRequest, OutageRequest, TaskCensus};
use crate::env::{AnyEnvironment, Environment};
use crate::model::RolloutPhase;

/// How often conditions (wait-until, recovery, the census) are looked at again.
const POLL: Duration = Duration::from_millis(250);

/// Between two counts of the tasks: each is a query on the database.
const CENSUS_POLL: Duration = Duration::from_secs(1);

/// When the effect of a chaos action ends.
#[derive(Debug, Clone, Copy)]
enum EffectEnd {
    /// At once (a kill) or at a known time (a fault's expiry).
    At(DateTime<Utc>),
    /// When the daemon restores the dependency (planned for `planned`).
    Outage {
        dependency: Dependency,
        started_at: DateTime<Utc>,
        planned: DateTime<Utc>,
    },
    /// When the method ends (a rollout, which ends when it is aborted or completes).
    MethodEnd,
}

/// Runs `drill` and returns its report; errors only when it cannot begin at all.
pub async fn run(
    drill: &Drill,
    source: &str,
    environment: &AnyEnvironment,
    interrupt: CancellationToken,
) -> anyhow::Result<DrillReport> {
    run_reporting(drill, source, environment, interrupt, None).await
}

/// Like [`run`], and sends every step (actions and hypothesis checks) to `live` as it
/// is recorded, so a watcher (the console) shows the drill while it runs.
pub async fn run_reporting(
    drill: &Drill,
    source: &str,
    environment: &AnyEnvironment,
    interrupt: CancellationToken,
    live: Option<tokio::sync::mpsc::Sender<StepRecord>>,
) -> anyhow::Result<DrillReport> {
    drill.check_supported(&environment.chaos_support())?;
    let status = environment.status().await?;
    let router = status
        .router
        .context("the environment has no router yet; wait for `opsbox up` to finish")?;
    let gauge = LoadGauge::default();
    let prober = Prober::start(&router.url)?;
    let monitor = Monitor::start(environment.clone(), gauge.clone());
    let mut run = DrillRun {
        drill,
        source,
        environment,
        router_url: router.url,
        interrupt,
        started_at: Utc::now(),
        steps: Vec::new(),
        live,
        failures: Vec::new(),
        gauge,
        load: None,
        load_runs: 0,
        traffic: TrafficTally::default(),
        probes: prober.samples(),
        monitor: monitor.samples(),
    };
    let report = run.execute().await;
    let report = run.finish(report, prober, monitor).await;
    Ok(report)
}

struct DrillRun<'a> {
    drill: &'a Drill,
    source: &'a str,
    environment: &'a AnyEnvironment,
    router_url: String,
    interrupt: CancellationToken,
    started_at: DateTime<Utc>,
    steps: Vec<StepRecord>,
    live: Option<tokio::sync::mpsc::Sender<StepRecord>>,
    failures: Vec<String>,
    gauge: LoadGauge,
    load: Option<BackgroundLoad>,
    load_runs: u32,
    traffic: TrafficTally,
    probes: ProbeSamples,
    monitor: MonitorSamples,
}

/// What the method and recovery phases found, for the report.
struct Findings {
    before: Option<Vec<ProbeResult>>,
    during: Vec<ProbeResult>,
    after: Vec<ProbeResult>,
    recovery: RecoveryRecord,
    census: Option<TaskCensus>,
}

impl DrillRun<'_> {
    async fn execute(&mut self) -> Findings {
        let drill = self.drill;
        let mut before = None;
        let mut first_chaos_at = None;
        let mut effects = Vec::new();
        let mut method_ok = true;
        for action in &drill.method {
            if self.interrupt.is_cancelled() {
                self.fail("interrupted by the operator");
                method_ok = false;
                break;
            }
            if action.is_chaos() && before.is_none() {
                let results = self.steady_state("steady state before").await;
                let held = results.iter().all(|result| result.passed);
                before = Some(results);
                if !held {
                    self.fail("the steady state did not hold before the experiment; nothing was disrupted");
                    method_ok = false;
                    break;
                }
            }
            if action.is_chaos() && first_chaos_at.is_none() {
                first_chaos_at = Some(Utc::now());
            }
            let at = Utc::now();
            match self.act(action).await {
                Ok((detail, effect)) => {
                    self.step(at, &action.to_string(), true, detail);
                    effects.extend(effect);
                }
                Err(error) => {
                    let message = format!("{error:#}");
                    self.step(at, &action.to_string(), false, message.clone());
                    self.fail(&format!("{action}: {message}"));
                    method_ok = false;
                    break;
                }
            }
        }
        if method_ok && before.is_none() {
            before = Some(self.steady_state("steady state before").await);
        }
        let method_end = Utc::now();
        let within = drill.recovery.within.get();
        let disruption_end = match first_chaos_at {
            Some(_) => Some(self.disruption_end(&effects, method_end).await),
            None => None,
        };
        let recovered = match disruption_end {
            Some(end) => self.await_recovery(end, end + within).await,
            None => None,
        };
        let recovery = recovery_record(within, disruption_end, recovered);
        if disruption_end.is_some() && !recovery.passed {
            self.fail(&match recovery.measured_ms {
                Some(ms) => format!(
                    "recovery took {}, more than the expected {}",
                    humanize(Duration::from_millis(ms)),
                    humanize(within)
                ),
                None => format!(
                    "the environment did not recover within {}",
                    humanize(within)
                ),
            });
        }
        if recovered.is_some() {
            // One more window of traffic, all of it after the recovery.
            self.pause(drill.hypothesis.window.get()).await;
        }
        let after = self.steady_state("steady state after").await;
        let during = match first_chaos_at {
            Some(from) => {
                let to = recovered.map_or(method_end, |at| at.max(method_end));
                self.judge_during(Window { from, to }).await
            }
            None => Vec::new(),
        };
        self.stop_load().await;
        let census = if drill
            .hypothesis
            .probes
            .contains(&SteadyProbe::TasksTerminal)
        {
            self.await_tasks(within).await
        } else {
            None
        };
        Findings {
            before,
            during,
            after,
            recovery,
            census,
        }
    }

    /// Stops what still runs, judges, and assembles the report.
    async fn finish(
        &mut self,
        findings: Findings,
        prober: Prober,
        monitor: Monitor,
    ) -> DrillReport {
        self.stop_load().await;
        prober.stop().await;
        monitor.stop().await;
        let probes = self
            .probes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        self.traffic.probe_requests = probes.len() as u64;
        self.traffic.probe_failures = probes
            .iter()
            .filter(|sample| sample.server_failure())
            .count() as u64;

        let mut after = findings.after;
        let mut tasks = None;
        if self
            .drill
            .hypothesis
            .probes
            .contains(&SteadyProbe::TasksTerminal)
        {
            let (result, tally) = evaluate::tasks_terminal(findings.census.as_ref());
            after.push(result);
            tasks = tally;
        } else if let Some(census) = &findings.census {
            tasks = evaluate::tasks_terminal(Some(census)).1;
        }
        for (phase, results) in [
            ("before", findings.before.as_deref().unwrap_or_default()),
            ("during the disruption", &findings.during),
            ("after", &after),
        ] {
            for result in results.iter().filter(|result| !result.passed) {
                self.failures.push(format!(
                    "{phase}: {} failed ({})",
                    result.probe, result.observed
                ));
            }
        }
        let passed = self.failures.is_empty();
        // `recovered` is recorded when it is found, which can be after later steps.
        self.steps.sort_by_key(|step| step.at);
        DrillReport {
            drill: self.drill.name.clone(),
            description: self.drill.description.clone(),
            runbook: self.drill.runbook.clone(),
            source: self.source.to_owned(),
            started_at: self.started_at,
            finished_at: Utc::now(),
            passed,
            failures: std::mem::take(&mut self.failures),
            steps: std::mem::take(&mut self.steps),
            before: findings.before,
            during: findings.during,
            after,
            recovery: findings.recovery,
            tasks,
            traffic: self.traffic,
        }
    }

    async fn act(&mut self, action: &Action) -> anyhow::Result<(String, Option<EffectEnd>)> {
        match action {
            Action::StartLoad(load) => {
                anyhow::ensure!(
                    self.load.is_none(),
                    "a load is already running; stop-load first"
                );
                self.load_runs += 1;
                self.load = Some(BackgroundLoad::start(
                    &self.router_url,
                    load,
                    self.load_runs,
                    &self.gauge,
                )?);
                Ok((format!("through {}", self.router_url), None))
            }
            Action::StopLoad => {
                anyhow::ensure!(self.load.is_some(), "no load is running");
                Ok((self.stop_load().await, None))
            }
            Action::Wait(duration) => {
                self.pause(duration.get()).await;
                Ok((String::new(), None))
            }
            Action::WaitUntil(wait) => self.wait_until(wait).await.map(|detail| (detail, None)),
            Action::Kill(kill) => {
                let killed = self
                    .environment
                    .kill(&KillRequest {
                        instance: kill.instance.clone(),
                        workload: kill.workload.clone(),
                        track: kill.track,
                    })
                    .await?;
                Ok((
                    match killed.pid {
                        Some(pid) => format!("killed {} (pid {pid})", killed.instance),
                        None => format!("killed {}", killed.instance),
                    },
                    Some(EffectEnd::At(killed.at)),
                ))
            }
            Action::Outage(outage) => {
                let began = self
                    .environment
                    .outage(&OutageRequest {
                        dependency: outage.dependency,
                        mode: outage.mode,
                        duration_ms: millis(outage.duration.get()),
                    })
                    .await?;
                Ok((
                    format!(
                        "{} down until {}",
                        began.dependency,
                        began.ends_at.format("%H:%M:%S")
                    ),
                    Some(EffectEnd::Outage {
                        dependency: began.dependency,
                        started_at: began.started_at,
                        planned: began.ends_at,
                    }),
                ))
            }
            Action::Fault(fault) => {
                let report = self
                    .environment
                    .fault(&FaultRequest {
                        error_rate: fault.error_rate,
                        latency_ms: millis(fault.latency.get()),
                        duration_ms: millis(fault.duration.get()),
                        track: fault.track,
                    })
                    .await?;
                Ok((
                    format!(
                        "on {} until {}",
                        report.fault.instances.join(", "),
                        report.fault.ends_at.format("%H:%M:%S")
                    ),
                    Some(EffectEnd::At(report.fault.ends_at)),
                ))
            }
            Action::RolloutStart(rollout) => {
                let started = self
                    .environment
                    .start_rollout(&rollout.revision, &rollout.set)
                    .await?;
                Ok((
                    format!(
                        "{}, weight {}%",
                        started.phase.as_str(),
                        started.canary_weight
                    ),
                    Some(EffectEnd::MethodEnd),
                ))
            }
        }
    }

    async fn wait_until(&self, wait: &WaitUntil) -> anyhow::Result<String> {
        let started = tokio::time::Instant::now();
        let timeout = wait.timeout.get();
        loop {
            let last_seen = match self.condition_holds(wait.condition).await {
                Ok((true, _)) => {
                    return Ok(format!("after {}", humanize(started.elapsed())));
                }
                Ok((false, seen)) => seen,
                Err(error) => format!("{error:#}"),
            };
            anyhow::ensure!(
                !self.interrupt.is_cancelled(),
                "interrupted by the operator"
            );
            anyhow::ensure!(
                started.elapsed() < timeout,
                "{} did not hold within {} (last seen: {last_seen})",
                wait.condition,
                humanize(timeout)
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Whether the condition holds, and what was seen when it does not.
    async fn condition_holds(&self, condition: Condition) -> anyhow::Result<(bool, String)> {
        Ok(match condition {
            Condition::AllRunning => {
                let now = environment_now(self.environment).await;
                match now.not_running {
                    Some(names) if names.is_empty() => (true, String::new()),
                    Some(names) => (false, format!("not running: {}", names.join(", "))),
                    None => (false, "status unreadable".to_owned()),
                }
            }
            Condition::OutageOver => {
                let status = self.environment.chaos_status().await?;
                let names: Vec<String> = status
                    .outages
                    .iter()
                    .map(|o| o.dependency.to_string())
                    .collect();
                (names.is_empty(), format!("outage of {}", names.join(", ")))
            }
            Condition::FaultOver => {
                let status = self.environment.chaos_status().await?;
                (
                    status.faults.is_empty(),
                    format!("{} fault(s) in force", status.faults.len()),
                )
            }
            Condition::RolloutAborted => {
                let rollout = self.environment.rollout().await?;
                (
                    rollout.phase == RolloutPhase::Degraded && rollout.canary_weight == 0,
                    format!(
                        "{} at weight {}%",
                        rollout.phase.as_str(),
                        rollout.canary_weight
                    ),
                )
            }
        })
    }

    /// When the last effect ended: an outage's restore as the daemon reported it.
    async fn disruption_end(
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
    async fn outage_end(
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
    async fn await_recovery(
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
    async fn steady_state(&mut self, label: &str) -> Vec<ProbeResult> {
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

    async fn judge_during(&self, window: Window) -> Vec<ProbeResult> {
        let rollout = if self
            .drill
            .during
            .iter()
            .any(|probe| matches!(probe, super::spec::DuringProbe::RolloutAborted(_)))
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
    async fn await_tasks(&mut self, within: Duration) -> Option<TaskCensus> {
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

    /// Stops the background load, if one runs, and adds its figures; returns a summary.
    async fn stop_load(&mut self) -> String {
        let Some(load) = self.load.take() else {
            return String::new();
        };
        match load.stop().await {
            Ok(report) => {
                self.traffic.load_requests += report.requests;
                self.traffic.load_failures += report.server_errors() + report.transport_errors;
                self.traffic.load_tasks_created += report.tasks_created;
                let summary = format!(
                    "{} requests, {} failed, {} tasks created",
                    report.requests,
                    report.server_errors() + report.transport_errors,
                    report.tasks_created
                );
                self.step(Utc::now(), "load stopped", true, summary.clone());
                summary
            }
            Err(error) => {
                let message = format!("{error:#}");
                self.step(Utc::now(), "load stopped", false, message.clone());
                message
            }
        }
    }

    /// Sleeps, or returns early when interrupted.
    async fn pause(&self, duration: Duration) {
        tokio::select! {
            () = tokio::time::sleep(duration) => {}
            () = self.interrupt.cancelled() => {}
        }
    }

    fn observations(&self) -> (VecDeque<MonitorSample>, VecDeque<ProbeSample>) {
        (snapshot(&self.monitor), snapshot(&self.probes))
    }

    fn step(&mut self, at: DateTime<Utc>, action: &str, ok: bool, detail: String) {
        let offset_ms = u64::try_from((at - self.started_at).num_milliseconds()).unwrap_or(0);
        let record = StepRecord {
            at,
            offset_ms,
            action: action.to_owned(),
            ok,
            detail,
        };
        if let Some(live) = &self.live {
            // A watcher that falls behind misses a line; the drill never waits for it.
            let _ = live.try_send(record.clone());
        }
        self.steps.push(record);
    }

    fn fail(&mut self, reason: &str) {
        self.failures.push(reason.to_owned());
    }
}

fn snapshot<T: Clone>(samples: &Mutex<VecDeque<T>>) -> VecDeque<T> {
    samples
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

fn recovery_record(
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

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_passes_within_the_bound_and_without_a_disruption() {
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
