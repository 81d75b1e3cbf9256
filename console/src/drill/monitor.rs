//! Watches the environment while a drill runs: instances, queue depth, and the
//! background load's totals, twice a second, into a bounded timeline.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::background_load::LoadGauge;
use super::evaluate::EnvironmentNow;
use super::timeline::{push_bounded, MonitorSample};
use crate::env::{AnyEnvironment, Environment};
use crate::model::{EnvironmentStatus, InstanceState};

/// How often the environment is looked at.
const MONITOR_INTERVAL: Duration = Duration::from_millis(500);

pub type MonitorSamples = Arc<Mutex<VecDeque<MonitorSample>>>;

pub struct Monitor {
    samples: MonitorSamples,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Monitor {
    pub fn start(environment: AnyEnvironment, gauge: LoadGauge) -> Self {
        let samples: MonitorSamples = Arc::default();
        let stop = CancellationToken::new();
        let task = tokio::spawn(watch(environment, gauge, samples.clone(), stop.clone()));
        Self {
            samples,
            stop,
            task,
        }
    }

    pub fn samples(&self) -> MonitorSamples {
        self.samples.clone()
    }

    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "the drill's monitor ended abnormally");
        }
    }
}

async fn watch(
    environment: AnyEnvironment,
    gauge: LoadGauge,
    samples: MonitorSamples,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(MONITOR_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let now = environment_now(&environment).await;
        let sample = MonitorSample {
            at: Utc::now(),
            all_running: now.not_running.as_ref().map(Vec::is_empty),
            queue_depth: now.queue_depth,
            load: gauge.counts(),
        };
        push_bounded(
            &mut samples.lock().unwrap_or_else(PoisonError::into_inner),
            sample,
        );
    }
}

/// Reads the status once; unreadable parts are `None`.
pub async fn environment_now(environment: &AnyEnvironment) -> EnvironmentNow {
    match environment.status().await {
        Ok(status) => from_status(&status),
        Err(error) => {
            tracing::debug!(error = %format!("{error:#}"), "status unreadable during a drill");
            EnvironmentNow::default()
        }
    }
}

/// Instances stopped on purpose (an aborted canary) are not expected to run.
pub fn from_status(status: &EnvironmentStatus) -> EnvironmentNow {
    let not_running = status
        .instances
        .iter()
        .filter(|instance| {
            !matches!(
                instance.state,
                InstanceState::Running | InstanceState::Stopped
            )
        })
        .map(|instance| format!("{} ({})", instance.name, instance.state.as_str()))
        .collect();
    EnvironmentNow {
        not_running: Some(not_running),
        queue_depth: status
            .queue
            .map(|queue| queue.ready + queue.delayed + queue.processing),
    }
}
