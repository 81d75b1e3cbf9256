//! The method's actions on the environment: load, waits, chaos, rollouts.

use std::time::Duration;

use chrono::Utc;

use super::{millis, DrillRun, EffectEnd, POLL};
use crate::chaos::{humanize, FaultRequest, KillRequest, OutageRequest};
use crate::drill::background_load::BackgroundLoad;
use crate::drill::monitor::environment_now;
use crate::drill::spec::{Action, Condition, WaitUntil};
use crate::env::Environment;
use crate::model::RolloutPhase;

impl DrillRun<'_> {
    pub(super) async fn act(
        &mut self,
        action: &Action,
    ) -> anyhow::Result<(String, Option<EffectEnd>)> {
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

    pub(super) async fn wait_until(&self, wait: &WaitUntil) -> anyhow::Result<String> {
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
    pub(super) async fn condition_holds(
        &self,
        condition: Condition,
    ) -> anyhow::Result<(bool, String)> {
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

    /// Stops the background load, if one runs, and adds its figures; returns a summary.
    pub(super) async fn stop_load(&mut self) -> String {
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
    pub(super) async fn pause(&self, duration: Duration) {
        tokio::select! {
            () = tokio::time::sleep(duration) => {}
            () = self.interrupt.cancelled() => {}
        }
    }
}
