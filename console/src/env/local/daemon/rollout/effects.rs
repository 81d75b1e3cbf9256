//! Carries out the rollout's [`Work`] on the local environment: canary instances through
//! the supervisor, weights through the router, measurements through the analysis.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;

use super::super::stack::ApiInstance;
use super::super::state::DaemonState;
use super::analysis::{CanaryAnalysis, CanaryCounters, CanaryTarget};
use super::machine::{Finished, Work};
use crate::env::local::router::CanaryWeight;
use crate::env::local::supervisor::{InstanceSnapshot, InstanceState, Workload};
use crate::model::Revision;
use opsbox_common::config::Track;

/// How long new instances may take to be ready before the step fails.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The name of the `index`th canary instance (from 1).
fn canary_name(index: u16) -> String {
    format!("api-canary-{index}")
}

/// What the work needs, shared by every piece of it.
pub struct Effects {
    state: Arc<DaemonState>,
    analysis: CanaryAnalysis,
    /// The canary's counters when its weight was last set: what analysis compares with.
    baseline: Mutex<Option<(chrono::DateTime<Utc>, CanaryCounters)>>,
}

impl Effects {
    pub fn new(state: Arc<DaemonState>, analysis: CanaryAnalysis) -> Self {
        Self {
            state,
            analysis,
            baseline: Mutex::new(None),
        }
    }

    /// Does the work; an error becomes [`Finished::Failed`] with its message.
    pub async fn run(self: Arc<Self>, work: Work) -> Finished {
        let outcome = match work {
            Work::StartCanary { revision, replicas } => self
                .start_canary(&revision, replicas)
                .await
                .map(|()| Finished::CanaryStarted),
            Work::SetWeight(weight) => self
                .set_weight(weight)
                .await
                .map(|()| Finished::WeightSet(weight)),
            Work::Pause { until } => {
                match until {
                    Some(until) => {
                        let left = (until - Utc::now()).to_std().unwrap_or_default();
                        tokio::time::sleep(left).await;
                    }
                    // Until promoted: the driver drops this future when a verb arrives.
                    None => std::future::pending::<()>().await,
                }
                Ok(Finished::PauseEnded)
            }
            Work::Analysis { step_index } => Ok(Finished::Analysis(self.analyse(step_index).await)),
            Work::ReplaceStable {
                revision,
                canary_running,
                replicas,
            } => self
                .replace_stable(&revision, canary_running, replicas)
                .await
                .map(|()| Finished::StableReplaced),
            Work::StopCanary => self.stop_canary().await.map(|()| Finished::CanaryStopped),
        };
        outcome.unwrap_or_else(|error| Finished::Failed(format!("{error:#}")))
    }

    /// Starts `replicas` canary instances of `revision`, replacing any left from before.
    async fn start_canary(&self, revision: &Revision, replicas: u16) -> anyhow::Result<()> {
        self.remove_canaries().await?;
        let mut names = Vec::new();
        for index in 1..=replicas {
            let name = canary_name(index);
            self.add_api(&name, Track::Canary, revision)?;
            names.push(name);
        }
        self.wait_running(&names).await
    }

    async fn set_weight(&self, weight: u8) -> anyhow::Result<()> {
        let weight = CanaryWeight::new(weight).context("invalid weight")?;
        self.state
            .running_router()?
            .control
            .set_canary_weight(weight);
        let counters = self.analysis.scrape(&self.canary_targets()).await;
        *self.baseline.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Utc::now(), counters));
        Ok(())
    }

    async fn analyse(&self, step_index: usize) -> crate::model::AnalysisRun {
        let started_at = Utc::now();
        let now = self.analysis.scrape(&self.canary_targets()).await;
        let baseline = self
            .baseline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| (started_at, CanaryCounters::default()));
        self.analysis
            .judge(step_index, started_at, &baseline.1, &now, Utc::now())
    }

    /// The canary takes all traffic, every stable instance is replaced by one of
    /// `revision` (one at a time, each ready before the next), then stable takes the
    /// traffic back and the canary stops. No request meets an instance that is down.
    async fn replace_stable(
        &self,
        revision: &Revision,
        canary_running: bool,
        replicas: u16,
    ) -> anyhow::Result<()> {
        if !canary_running {
            self.start_canary(revision, replicas).await?;
        }
        let router = &self.state.running_router()?.control;
        self.wait_routable(Track::Canary).await?;
        router.set_canary_weight(CanaryWeight::new(100).context("weight")?);
        let supervisor = self.state.running_supervisor()?;
        let stable: Vec<InstanceSnapshot> = supervisor
            .snapshot()
            .into_iter()
            .filter(|instance| {
                instance.workload == Workload::Api && instance.track == Track::Stable
            })
            .collect();
        for instance in stable {
            self.remove(&instance).await?;
            self.add_api(&instance.name, Track::Stable, revision)?;
            self.wait_running(std::slice::from_ref(&instance.name))
                .await?;
        }
        self.wait_routable(Track::Stable).await?;
        router.set_canary_weight(CanaryWeight::new(0).context("weight")?);
        self.remove_canaries().await
    }

    async fn stop_canary(&self) -> anyhow::Result<()> {
        self.state
            .running_router()?
            .control
            .set_canary_weight(CanaryWeight::new(0).context("weight")?);
        self.remove_canaries().await
    }

    fn add_api(&self, name: &str, track: Track, revision: &Revision) -> anyhow::Result<()> {
        let stack = self
            .state
            .stack
            .get()
            .context("the environment is still starting")?;
        let (spec, addr) = stack.api(&ApiInstance {
            name,
            track,
            revision: &revision.name,
            overrides: &revision.overrides,
        })?;
        // The address first: the router follows the supervisor and looks it up.
        self.state.register_address(name, addr);
        self.state.running_supervisor()?.add(spec)?;
        Ok(())
    }

    async fn remove_canaries(&self) -> anyhow::Result<()> {
        let supervisor = self.state.running_supervisor()?;
        for instance in supervisor.snapshot() {
            if instance.workload == Workload::Api && instance.track == Track::Canary {
                self.remove(&instance).await?;
            }
        }
        Ok(())
    }

    /// Removes an instance after a last scrape, so the SLOs keep what it counted in
    /// its final seconds (a canary aborted between two scrape rounds).
    async fn remove(&self, instance: &InstanceSnapshot) -> anyhow::Result<()> {
        if let (Some(slo), Some(addr)) = (self.state.slo.get(), self.state.address(&instance.name))
        {
            slo.scrape_before_removal(instance, addr).await;
        }
        self.state
            .running_supervisor()?
            .remove(&instance.name)
            .await?;
        Ok(())
    }

    fn canary_targets(&self) -> Vec<CanaryTarget> {
        let Ok(supervisor) = self.state.running_supervisor() else {
            return Vec::new();
        };
        supervisor
            .snapshot()
            .into_iter()
            .filter(|instance| {
                instance.workload == Workload::Api && instance.track == Track::Canary
            })
            .filter_map(|instance| {
                Some(CanaryTarget {
                    addr: self.state.address(&instance.name)?,
                    pid: instance.pid,
                    name: instance.name,
                })
            })
            .collect()
    }

    async fn wait_running(&self, names: &[String]) -> anyhow::Result<()> {
        let mut instances = self.state.running_supervisor()?.subscribe();
        let ready = instances.wait_for(|all| {
            names.iter().all(|name| {
                all.get(name)
                    .is_some_and(|instance| instance.state == InstanceState::Running)
            })
        });
        tokio::time::timeout(READY_TIMEOUT, ready)
            .await
            .with_context(|| {
                format!(
                    "{} not ready within {READY_TIMEOUT:?}; see their logs in {}",
                    names.join(", "),
                    self.state.state_dir.logs().display()
                )
            })?
            .context("the supervisor stopped")?;
        Ok(())
    }

    /// Waits until the router has every Running instance of `track` (it follows the
    /// supervisor a moment later), so moving weight never meets an empty track.
    async fn wait_routable(&self, track: Track) -> anyhow::Result<()> {
        let supervisor = self.state.running_supervisor()?;
        let router = &self.state.running_router()?.control;
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        let mut instances = supervisor.subscribe();
        loop {
            let running = instances
                .borrow_and_update()
                .values()
                .filter(|instance| {
                    instance.workload == Workload::Api
                        && instance.track == track
                        && instance.state == InstanceState::Running
                })
                .count();
            if running > 0 && router.upstreams(track).len() >= running {
                return Ok(());
            }
            // The router is updated right after each supervisor change; recheck on the
            // next change or shortly after this one.
            tokio::select! {
                _ = instances.changed() => {}
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "the router did not pick up the {track} instances within {READY_TIMEOUT:?}"
            );
        }
    }
}
