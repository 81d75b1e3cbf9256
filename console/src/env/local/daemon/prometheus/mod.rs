//! The local environment's Prometheus: when a `prometheus` binary is on PATH, the daemon
//! runs one as a supervised instance with a generated config, the SLO rules generated
//! from the built-in spec, and a target list it keeps equal to the stack's instances.
//!
//! Everything lives under `<state dir>/prometheus/`: `prometheus.yml`, `targets.json`
//! (file-based discovery, rewritten when instances come and go), `rules/`, and the TSDB
//! in `data/` with a short retention.

mod config;
mod targets;

use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::super::supervisor::{InstanceSpec, Readiness, Supervisor, Workload};
use super::state::DaemonState;
use crate::sources::prometheus::PrometheusClient;

pub use config::{SCRAPE_INTERVAL, TSDB_RETENTION};

/// `off` keeps Prometheus from starting; a path names the binary; unset or `auto`
/// looks for `prometheus` on PATH.
pub const PROMETHEUS_ENV: &str = "OPSBOX_PROMETHEUS";

/// The supervised instance's name (and its `instance` label).
pub const INSTANCE_NAME: &str = "prometheus";

/// One query of the SLO report; a report runs a few dozen, a few at a time.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);

/// The running Prometheus: where to read it.
#[derive(Debug, Clone)]
pub struct PrometheusHandle {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    pub client: PrometheusClient,
}

/// Adds the Prometheus instance to the supervisor when a binary is found, after writing
/// its config, rules and first target list; keeps the target list current from then on.
/// Without a binary it logs why and returns: the embedded engine still computes SLOs.
pub fn start(state: &Arc<DaemonState>, supervisor: &Supervisor) -> anyhow::Result<()> {
    let Some(binary) = locate()? else {
        tracing::info!(
            "Prometheus not started (no `prometheus` on PATH, or {PROMETHEUS_ENV}=off); \
             SLOs come from the embedded engine"
        );
        return Ok(());
    };
    let files = config::Files::new(&state.state_dir.prometheus());
    let port = opsbox_harness::free_port().context("cannot find a free port for Prometheus")?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    config::write(&files, addr)?;
    let router_metrics = state.router.get().map(|router| router.metrics_addr);
    let first_targets = targets::render(
        &supervisor.subscribe().borrow(),
        &state.addresses_now(),
        router_metrics,
    )?;
    targets::write(&files.targets, &first_targets)?;

    let url = format!("http://{addr}");
    let client = PrometheusClient::new(&url, QUERY_TIMEOUT)?;
    state.register_address(INSTANCE_NAME, addr);
    let _ = state.prometheus.set(PrometheusHandle {
        url: url.clone(),
        client,
    });
    tokio::spawn(targets::follow(
        supervisor.subscribe(),
        state.clone(),
        files.targets.clone(),
        first_targets,
    ));
    supervisor.add(instance_spec(&binary, &files, addr, state)?)?;
    tracing::info!(%url, binary = %binary.display(), "Prometheus starting");
    Ok(())
}

fn instance_spec(
    binary: &Path,
    files: &config::Files,
    addr: SocketAddr,
    state: &DaemonState,
) -> anyhow::Result<InstanceSpec> {
    let flag = |name: &str, value: &Path| {
        let mut arg = std::ffi::OsString::from(format!("--{name}="));
        arg.push(value);
        arg
    };
    Ok(InstanceSpec::new(
        INSTANCE_NAME,
        Workload::Prometheus,
        binary,
        state.state_dir.instance_log(INSTANCE_NAME),
    )
    .arg(flag("config.file", &files.config))
    .arg(flag("storage.tsdb.path", &files.data))
    .arg(format!("--storage.tsdb.retention.time={TSDB_RETENTION}"))
    .arg(format!(
        "--storage.tsdb.retention.size={}",
        config::TSDB_MAX_SIZE
    ))
    .arg(format!("--web.listen-address={addr}"))
    // JSON lines, like every other instance log.
    .arg("--log.format=json")
    .readiness(Readiness::http_get(&format!("http://{addr}/-/ready"))?))
}

/// The binary to run, or `None` when Prometheus is off or not installed.
fn locate() -> anyhow::Result<Option<PathBuf>> {
    let choice = std::env::var(PROMETHEUS_ENV).unwrap_or_default();
    match choice.as_str() {
        "off" | "false" | "0" | "no" => Ok(None),
        "" | "auto" | "on" => Ok(find_on_path("prometheus")),
        path if path.contains('/') => {
            let path = PathBuf::from(path);
            anyhow::ensure!(
                is_executable(&path),
                "{PROMETHEUS_ENV}={} is not an executable file",
                path.display()
            );
            Ok(Some(path))
        }
        other => anyhow::bail!(
            "{PROMETHEUS_ENV}={other} is not understood: use off, auto, or the path of a \
             prometheus binary"
        ),
    }
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}
