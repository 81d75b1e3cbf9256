//! The processes of the stack: dependencies, migrations, and the instance specs of API and workers.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use opsbox_harness::Dependencies;

use super::super::binaries::Binaries;
use super::super::state_dir::StateDir;
use super::super::supervisor::{InstanceSpec, Readiness, Workload};
use crate::env::Track;

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

/// What the API and worker instances need to know.
pub struct StackSettings<'a> {
    pub api_replicas: u16,
    pub workers: u16,
    pub admin_token: &'a str,
}

pub fn plan(
    binaries: &Binaries,
    deps: &Dependencies,
    state_dir: &StateDir,
    settings: &StackSettings<'_>,
) -> anyhow::Result<StackPlan> {
    let mut specs = Vec::new();
    let mut addresses = BTreeMap::new();
    for index in 1..=settings.api_replicas {
        let name = format!("api-{index}");
        let addr = free_addr()?;
        let spec = with_common_env(
            InstanceSpec::new(
                &name,
                Workload::Api,
                &binaries.api,
                state_dir.instance_log(&name),
            ),
            deps,
        )
        .env("OPSBOX_API_ADDR", addr.to_string())
        .env("OPSBOX_ADMIN_TOKEN", settings.admin_token)
        .readiness(Readiness::http_get(&format!("http://{addr}/ready"))?);
        specs.push(spec);
        addresses.insert(name, addr);
    }
    for index in 1..=settings.workers {
        let name = format!("worker-{index}");
        let addr = free_addr()?;
        let spec = with_common_env(
            InstanceSpec::new(
                &name,
                Workload::Worker,
                &binaries.worker,
                state_dir.instance_log(&name),
            ),
            deps,
        )
        .env("OPSBOX_WORKER_METRICS_ADDR", addr.to_string())
        .readiness(Readiness::http_get(&format!("http://{addr}/ready"))?);
        specs.push(spec);
        addresses.insert(name, addr);
    }
    Ok(StackPlan { specs, addresses })
}

fn with_common_env(spec: InstanceSpec, deps: &Dependencies) -> InstanceSpec {
    let track = Track::Stable;
    let mut spec = spec
        .track(track)
        .revision(INITIAL_REVISION)
        .env("OPSBOX_TRACK", track.as_str())
        .env("OPSBOX_RELEASE", INITIAL_REVISION);
    for (key, value) in deps.env_vars() {
        spec = spec.env(key, value);
    }
    spec
}

/// A fixed port per instance, kept across its restarts so the router's table stays valid.
fn free_addr() -> anyhow::Result<SocketAddr> {
    let port = opsbox_harness::free_port().context("cannot find a free port")?;
    Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
}
