//! What the daemon's tasks share: phase, supervisor, router, queue, and the shutdown signal.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use chrono::{DateTime, Utc};
use opsbox_common::queue::JobQueue;
use tokio_util::sync::CancellationToken;

use super::super::router::RouterControl;
use super::super::state_dir::StateDir;
use super::super::supervisor::Supervisor;
use crate::model::EnvironmentPhase;

/// The router as the status shows it.
#[derive(Clone)]
pub struct RouterHandle {
    pub control: RouterControl,
    pub public_addr: SocketAddr,
    pub metrics_addr: SocketAddr,
}

/// Filled in as start-up progresses; the control endpoint reads whatever is there.
pub struct DaemonState {
    pub state_dir: StateDir,
    pub started_at: DateTime<Utc>,
    pub control_token: String,
    /// Cancelled by `POST /shutdown` or a signal.
    pub shutdown: CancellationToken,
    phase: Mutex<EnvironmentPhase>,
    pub supervisor: OnceLock<Arc<Supervisor>>,
    pub router: OnceLock<RouterHandle>,
    pub queue: OnceLock<JobQueue>,
    /// Where each instance serves (API address, worker metrics address).
    pub addresses: OnceLock<BTreeMap<String, SocketAddr>>,
}

impl DaemonState {
    pub fn new(state_dir: StateDir, control_token: String) -> Arc<Self> {
        Arc::new(Self {
            state_dir,
            started_at: Utc::now(),
            control_token,
            shutdown: CancellationToken::new(),
            phase: Mutex::new(EnvironmentPhase::Starting),
            supervisor: OnceLock::new(),
            router: OnceLock::new(),
            queue: OnceLock::new(),
            addresses: OnceLock::new(),
        })
    }

    pub fn phase(&self) -> EnvironmentPhase {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn set_phase(&self, phase: EnvironmentPhase) {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner) = phase;
    }
}
