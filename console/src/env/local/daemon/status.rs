//! Builds the status model from the supervisor's snapshot, the routing table and the queue.

use std::time::Duration;

use chrono::Utc;

use super::super::supervisor::InstanceSnapshot;
use super::state::DaemonState;
use crate::model::{EnvironmentStatus, InstanceStatus, QueueStatus, RouterStatus};
use opsbox_common::config::Track;

/// A status must come back quickly even when Redis hangs.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(1);

pub async fn environment_status(state: &DaemonState) -> EnvironmentStatus {
    let now = Utc::now();
    let instances = state
        .supervisor
        .get()
        .map(|supervisor| supervisor.snapshot())
        .unwrap_or_default()
        .iter()
        .map(|snapshot| {
            let address = state.address(&snapshot.name).map(|addr| addr.to_string());
            instance_status(snapshot, address, now)
        })
        .collect();
    let router = state.router.get().map(|router| RouterStatus {
        url: format!("http://{}", router.public_addr),
        metrics_url: Some(format!("http://{}/metrics", router.metrics_addr)),
        canary_weight: router.control.canary_weight().percent(),
        stable_upstreams: names(router.control.upstreams(Track::Stable)),
        canary_upstreams: names(router.control.upstreams(Track::Canary)),
    });
    EnvironmentStatus {
        environment: "local".to_owned(),
        phase: state.phase(),
        started_at: state.started_at,
        state_dir: Some(state.state_dir.root().to_path_buf()),
        instances,
        queue: queue_status(state).await,
        router,
        rollout: rollout_status(state),
        prometheus_url: state
            .prometheus
            .get()
            .map(|prometheus| prometheus.url.clone()),
        // Local processes have no autoscaler.
        scalers: Vec::new(),
    }
}

async fn queue_status(state: &DaemonState) -> Option<QueueStatus> {
    let queue = state.queue.get()?;
    match tokio::time::timeout(QUEUE_TIMEOUT, queue.depth()).await {
        Ok(Ok(depth)) => Some(QueueStatus {
            ready: depth.ready,
            delayed: depth.delayed,
            processing: depth.processing,
            dead: depth.dead,
        }),
        Ok(Err(error)) => {
            tracing::debug!(%error, "cannot read the queue depth");
            None
        }
        Err(_) => None,
    }
}

fn names(targets: Vec<super::super::router::UpstreamTarget>) -> Vec<String> {
    targets.into_iter().map(|target| target.name).collect()
}

fn instance_status(
    snapshot: &InstanceSnapshot,
    address: Option<String>,
    now: chrono::DateTime<Utc>,
) -> InstanceStatus {
    InstanceStatus {
        name: snapshot.name.clone(),
        workload: snapshot.workload.as_str().to_owned(),
        track: snapshot.track,
        revision: snapshot.revision.clone(),
        pid: snapshot.pid,
        state: snapshot.state,
        restarts: snapshot.restarts,
        uptime_secs: snapshot.uptime(now).map(|uptime| uptime.as_secs()),
        address,
        log_file: Some(snapshot.log_file.clone()),
        last_exit: snapshot.last_exit.as_ref().map(|exit| exit.summary.clone()),
        last_error: snapshot.last_error.clone(),
    }
}

/// The rollout, with the canary instances that are ready right now.
fn rollout_status(state: &DaemonState) -> Option<crate::model::RolloutStatus> {
    let mut rollout = state.rollout.get()?.status();
    let ready = state
        .supervisor
        .get()
        .map(|supervisor| {
            supervisor
                .snapshot()
                .iter()
                .filter(|instance| {
                    instance.workload == super::super::supervisor::Workload::Api
                        && instance.track == Track::Canary
                        && instance.state == crate::model::InstanceState::Running
                })
                .count()
        })
        .unwrap_or_default();
    rollout.canary_ready = u16::try_from(ready).unwrap_or(u16::MAX);
    // The router's weight is the truth; the rollout records it a moment later.
    if let Some(router) = state.router.get() {
        rollout.canary_weight = router.control.canary_weight().percent();
    }
    Some(rollout)
}
