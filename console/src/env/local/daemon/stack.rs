//! The processes of the stack: dependencies, migrations, and the instance specs of API and workers.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use opsbox_harness::Dependencies;

use super::super::binaries::Binaries;
use super::super::state_dir::StateDir;
use super::super::supervisor::{InstanceSpec, Readiness, Workload};
use crate::model::Revision;
use opsbox_common::config::Track;

/// The revision the stack starts with; rollouts introduce the next ones.
pub const INITIAL_REVISION: &str = "v1";

/// How long `opsbox-api migrate` may take.
const MIGRATE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a private PostgreSQL or Redis may take to start.
const DEPENDENCY_STARTUP: Duration = Duration::from_secs(60);

/// How many instances of each workload `up` accepts, so a typo cannot fork-bomb the machine.
pub const MAX_REPLICAS: u16 = 16;

/// Starts private PostgreSQL and Redis under `deps/`, or points at DATABASE_URL / REDIS_URL.
///
/// Call this from the daemon's main thread: private servers die with the thread that
/// started them (PR_SET_PDEATHSIG), which is what we want if the daemon is killed.
pub async fn start_dependencies(state_dir: &StateDir) -> anyhow::Result<Dependencies> {
    Dependencies::builder()
        .state_dir(state_dir.deps())
        .urls_from_env()
        .kill_with_parent(true)
        .startup_timeout(DEPENDENCY_STARTUP)
        .start()
        .await
        .context("cannot start PostgreSQL and Redis")
}

/// Runs `opsbox-api migrate` against the database, bounded in time.
pub async fn migrate(
    binaries: &Binaries,
    deps: &Dependencies,
    state_dir: &StateDir,
) -> anyhow::Result<()> {
    let log_path = state_dir.instance_log("migrate");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let stderr = log.try_clone().context("cannot share the migration log")?;
    let mut child = tokio::process::Command::new(&binaries.api)
        .arg("migrate")
        .envs(deps.env_vars())
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot run {} migrate", binaries.api.display()))?;
    let status = tokio::time::timeout(MIGRATE_TIMEOUT, child.wait())
        .await
        .with_context(|| format!("migrations took longer than {MIGRATE_TIMEOUT:?}"))?
        .context("cannot wait for the migration")?;
    anyhow::ensure!(
        status.success(),
        "migrations failed ({status}); see {}",
        log_path.display()
    );
    Ok(())
}

/// The instances `up` starts, and where each serves.
pub struct StackPlan {
    pub specs: Vec<InstanceSpec>,
    pub addresses: BTreeMap<String, SocketAddr>,
}

/// Everything needed to start one more instance of the stack: `up` plans the initial
/// ones from it, a rollout its canaries.
#[derive(Debug, Clone)]
pub struct StackTemplate {
    pub binaries: Binaries,
    /// DATABASE_URL, REDIS_URL and friends for every instance.
    pub dependency_env: Vec<(String, String)>,
    pub state_dir: StateDir,
    pub admin_token: String,
}

/// One API instance to start: which revision, and the revision's environment overrides.
#[derive(Debug, Clone)]
pub struct ApiInstance<'a> {
    pub name: &'a str,
    pub track: Track,
    pub revision: &'a str,
    pub overrides: &'a BTreeMap<String, String>,
}

impl StackTemplate {
    /// `api_replicas` API instances of the stable revision and `workers` workers.
    pub fn plan(
        &self,
        stable: &Revision,
        api_replicas: u16,
        workers: u16,
    ) -> anyhow::Result<StackPlan> {
        let mut plan = StackPlan {
            specs: Vec::new(),
            addresses: BTreeMap::new(),
        };
        for index in 1..=api_replicas {
            let name = format!("api-{index}");
            let (spec, addr) = self.api(&ApiInstance {
                name: &name,
                track: Track::Stable,
                revision: &stable.name,
                overrides: &stable.overrides,
            })?;
            plan.specs.push(spec);
            plan.addresses.insert(name, addr);
        }
        for index in 1..=workers {
            let name = format!("worker-{index}");
            let addr = free_addr()?;
            let spec = self
                .common(&name, Workload::Worker, Track::Stable, &stable.name)
                .env("OPSBOX_WORKER_METRICS_ADDR", addr.to_string())
                .readiness(Readiness::http_get(&format!("http://{addr}/ready"))?);
            plan.specs.push(spec);
            plan.addresses.insert(name, addr);
        }
        Ok(plan)
    }

    /// An API instance on a port of its own; the revision's overrides come last, so a
    /// release can change any setting (e.g. `OPSBOX_FAULT_ERROR_RATE` for a bad one).
    pub fn api(&self, instance: &ApiInstance<'_>) -> anyhow::Result<(InstanceSpec, SocketAddr)> {
        let addr = free_addr()?;
        let mut spec = self
            .common(
                instance.name,
                Workload::Api,
                instance.track,
                instance.revision,
            )
            .env("OPSBOX_API_ADDR", addr.to_string())
            .env("OPSBOX_ADMIN_TOKEN", &self.admin_token)
            .readiness(Readiness::http_get(&format!("http://{addr}/ready"))?);
        for (key, value) in instance.overrides {
            spec = spec.env(key, value);
        }
        Ok((spec, addr))
    }

    fn common(&self, name: &str, workload: Workload, track: Track, revision: &str) -> InstanceSpec {
        let program = match workload {
            Workload::Worker => &self.binaries.worker,
            _ => &self.binaries.api,
        };
        let mut spec =
            InstanceSpec::new(name, workload, program, self.state_dir.instance_log(name))
                .track(track)
                .revision(revision)
                .env("OPSBOX_TRACK", track.as_str())
                .env("OPSBOX_RELEASE", revision);
        for (key, value) in &self.dependency_env {
            spec = spec.env(key, value);
        }
        spec
    }
}

/// A fixed port per instance, kept across its restarts so the router's table stays valid.
fn free_addr() -> anyhow::Result<SocketAddr> {
    let port = opsbox_harness::free_port().context("cannot find a free port")?;
    Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
}
