//! A status snapshot of one environment, serializable for `opsbox status --json`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use opsbox_common::config::Track;

/// Where the environment as a whole is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnvironmentPhase {
    /// Dependencies, migrations or first instance starts are under way.
    Starting,
    /// Everything reached Running once; instances may restart since.
    Ready,
    /// Shutting down on request.
    Stopping,
}

/// Where an instance is in its life, as Kubernetes shows a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceState {
    /// Spawned (or about to be), readiness not yet passed.
    Starting,
    /// Spawned and ready.
    Running,
    /// Exited; waiting out the restart delay (CrashLoopBackOff).
    Backoff,
    /// Stopped on request; starts again only when asked.
    Stopped,
    /// Could not be spawned (missing program, unwritable log); see `last_error`.
    Failed,
}

impl InstanceState {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Starting => "starting",
            InstanceState::Running => "running",
            InstanceState::Backoff => "backoff",
            InstanceState::Stopped => "stopped",
            InstanceState::Failed => "failed",
        }
    }
}

/// One process (local) or pod (kubernetes) of a workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStatus {
    pub name: String,
    /// `api`, `worker`, ...
    pub workload: String,
    pub track: Track,
    pub revision: String,
    pub pid: Option<u32>,
    pub state: InstanceState,
    pub restarts: u32,
    /// Seconds the current process has been up, when one is.
    pub uptime_secs: Option<u64>,
    /// Where the instance serves (API port, worker metrics), when it has an address.
    pub address: Option<String>,
    pub log_file: Option<PathBuf>,
    pub last_exit: Option<String>,
    pub last_error: Option<String>,
}

/// Jobs in the queue by where they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStatus {
    pub ready: u64,
    /// Waiting for a retry's backoff to end.
    pub delayed: u64,
    pub processing: u64,
    pub dead: u64,
}

/// The ingress: where it listens and how it splits traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterStatus {
    pub url: String,
    pub metrics_url: Option<String>,
    /// Percentage of requests sent to the canary track.
    pub canary_weight: u8,
    /// Instance names currently routable, per track.
    pub stable_upstreams: Vec<String>,
    pub canary_upstreams: Vec<String>,
}

/// Everything `opsbox status` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentStatus {
    /// `local` or `kubernetes`.
    pub environment: String,
    pub phase: EnvironmentPhase,
    pub started_at: DateTime<Utc>,
    /// The local environment's state directory.
    pub state_dir: Option<PathBuf>,
    pub instances: Vec<InstanceStatus>,
    /// `None` when the queue could not be read just now.
    pub queue: Option<QueueStatus>,
    /// `None` until the router is listening.
    pub router: Option<RouterStatus>,
    /// The API's rollout; `None` until the environment has loaded it.
    #[serde(default)]
    pub rollout: Option<super::RolloutStatus>,
    /// The Prometheus the environment runs (local: when `prometheus` is on PATH).
    #[serde(default)]
    pub prometheus_url: Option<String>,
    /// Autoscalers of the workloads (a cluster's HPAs and KEDA ScaledObjects).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scalers: Vec<ScalerStatus>,
}

/// An autoscaler of a workload, as the Instances view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalerStatus {
    /// `api`, `worker`, ...
    pub workload: String,
    /// `HPA` or `KEDA`.
    pub kind: String,
    pub name: String,
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// From the HorizontalPodAutoscaler (KEDA's own for a ScaledObject); `None`
    /// before it has a status.
    pub current_replicas: Option<u32>,
    pub desired_replicas: Option<u32>,
    /// What it scales on, in words: `cpu 70%`, `redis list opsbox:queue:ready per 5`.
    pub trigger: String,
    pub last_scale: Option<DateTime<Utc>>,
    /// Why it is not scaling, when a condition says so.
    pub problem: Option<String>,
}

impl ScalerStatus {
    /// One line for the Instances view and `opsbox status`: bounds, replicas now and
    /// wanted, trigger, last scale, and the problem if one.
    pub fn summary(&self, now: DateTime<Utc>) -> String {
        let replicas = match (self.current_replicas, self.desired_replicas) {
            (Some(current), Some(desired)) if current != desired => {
                format!("now {current} → {desired}")
            }
            (Some(current), _) => format!("now {current}"),
            _ => "no figures yet".to_owned(),
        };
        let scaled = self
            .last_scale
            .and_then(|at| (now - at).to_std().ok())
            .map(|ago| format!(", scaled {} ago", crate::durations::compact(ago)))
            .unwrap_or_default();
        let problem = self
            .problem
            .as_ref()
            .map(|problem| format!(" — {problem}"))
            .unwrap_or_default();
        format!(
            "{} {} {}: {}–{} replicas, {replicas}, on {}{scaled}{problem}",
            self.workload, self.kind, self.name, self.min_replicas, self.max_replicas, self.trigger
        )
    }
}
