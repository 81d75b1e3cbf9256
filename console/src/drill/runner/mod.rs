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
use super::evaluate::{self};
use super::monitor::{Monitor, MonitorSamples};
use super::prober::{ProbeSamples, Prober};
use super::report::{DrillReport, ProbeResult, RecoveryRecord, StepRecord, TrafficTally};
use super::spec::{Drill, SteadyProbe};
use super::timeline::{MonitorSample, ProbeSample, Window};
use crate::chaos::{humanize, Dependency, TaskCensus};
use crate::env::{AnyEnvironment, Environment};

mod actions;
mod checks;

use checks::recovery_record;

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

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
