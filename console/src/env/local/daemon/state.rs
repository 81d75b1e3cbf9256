//! What the daemon's tasks share: phase, supervisor, router, queue, and the shutdown signal.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use chrono::{DateTime, Utc};
use opsbox_common::queue::JobQueue;
use opsbox_harness::Dependencies;
use tokio_util::sync::CancellationToken;

use super::super::router::RouterControl;
use super::super::state_dir::StateDir;
use super::super::supervisor::Supervisor;
use super::stack::StackTemplate;
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
    /// Where each instance serves (API address, worker metrics address). Instances
    /// added later (canaries) register here too.
    pub addresses: Mutex<BTreeMap<String, SocketAddr>>,
    /// PostgreSQL and Redis, shared so chaos can stop and restart them.
    pub deps: OnceLock<Arc<Dependencies>>,
    /// The bearer token of the API instances' `/admin` endpoints.
    pub admin_token: OnceLock<String>,
    /// How to start more instances of the stack (canaries).
    pub stack: OnceLock<StackTemplate>,
    /// The API's canary rollouts; set once instances are planned.
    pub rollout: OnceLock<super::rollout::RolloutController>,
    /// The local Prometheus, when one runs (`prometheus` on PATH).
    pub prometheus: OnceLock<super::prometheus::PrometheusHandle>,
    /// The embedded SLO engine and its scrape targets.
    pub slo: OnceLock<Arc<super::slo::EmbeddedSlo>>,
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
            addresses: Mutex::new(BTreeMap::new()),
            deps: OnceLock::new(),
            admin_token: OnceLock::new(),
            stack: OnceLock::new(),
            rollout: OnceLock::new(),
            prometheus: OnceLock::new(),
            slo: OnceLock::new(),
        })
    }

    pub fn phase(&self) -> EnvironmentPhase {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn set_phase(&self, phase: EnvironmentPhase) {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner) = phase;
    }

    /// Where an instance serves, if it has an address.
    pub fn address(&self, instance: &str) -> Option<SocketAddr> {
        self.addresses_now().get(instance).copied()
    }

    pub fn addresses_now(&self) -> BTreeMap<String, SocketAddr> {
        self.addresses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn register_address(&self, instance: &str, addr: SocketAddr) {
        self.addresses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(instance.to_owned(), addr);
    }

    /// The supervisor, or an error saying the environment is still starting.
    pub fn running_supervisor(&self) -> Result<&Arc<Supervisor>, NotReady> {
        self.supervisor.get().ok_or(NotReady("the supervisor"))
    }

    pub fn running_deps(&self) -> Result<&Arc<Dependencies>, NotReady> {
        self.deps.get().ok_or(NotReady("PostgreSQL and Redis"))
    }

    pub fn running_router(&self) -> Result<&RouterHandle, NotReady> {
        self.router.get().ok_or(NotReady("the router"))
    }
}

/// A verb arrived before the part it needs was started.
#[derive(Debug, thiserror::Error)]
#[error("the environment is still starting: {0} is not up yet")]
pub struct NotReady(pub &'static str);

impl From<NotReady> for super::control_error::ControlError {
    fn from(error: NotReady) -> Self {
        super::control_error::ControlError::conflict(error.to_string())
    }
}
