//! Keeps the router's upstreams equal to the Running API instances, and records every pid.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;

use super::super::daemon_record::{self, RecordedPids};
use super::super::router::{RouterControl, UpstreamTarget};
use super::super::state_dir::StateDir;
use super::super::supervisor::{InstanceState, Instances, Workload};
use super::state::DaemonState;
use opsbox_common::config::Track;

/// Follows the supervisor's snapshots until it is dropped.
pub async fn follow(
    mut instances: watch::Receiver<Instances>,
    router: RouterControl,
    state: Arc<DaemonState>,
) {
    loop {
        let current = instances.borrow_and_update().clone();
        apply(&current, &router, &state.addresses_now());
        record_pids(&current, &state.state_dir);
        if instances.changed().await.is_err() {
            return;
        }
    }
}

fn apply(instances: &Instances, router: &RouterControl, addresses: &BTreeMap<String, SocketAddr>) {
    for track in [Track::Stable, Track::Canary] {
        let targets: Vec<UpstreamTarget> = instances
            .values()
            .filter(|instance| {
                instance.workload == Workload::Api
                    && instance.track == track
                    && instance.state == InstanceState::Running
            })
            .filter_map(|instance| {
                addresses
                    .get(&instance.name)
                    .map(|addr| UpstreamTarget::new(instance.name.clone(), *addr))
            })
            .collect();
        if router.upstreams(track) != targets {
            if let Err(error) = router.set_upstreams(track, targets) {
                tracing::error!(%error, %track, "cannot update the router's upstreams");
            }
        }
    }
}

fn record_pids(instances: &Instances, state_dir: &StateDir) {
    let pids = RecordedPids {
        pids: instances
            .values()
            .filter_map(|instance| instance.pid)
            .collect(),
    };
    if let Err(error) = daemon_record::write_atomic(&state_dir.instance_pids(), &pids) {
        tracing::warn!(error = %format!("{error:#}"), "cannot record instance pids");
    }
}
