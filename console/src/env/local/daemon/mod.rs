//! The daemon behind `opsbox up`: runs the stack, serves the control endpoint, stops on request.
//!
//! It is the `opsbox` binary re-executed with a hidden subcommand, detached from the
//! terminal. It writes `daemon.json` as soon as its control endpoint listens, so `up`
//! can watch it start and a second `up` can see it; it removes the file when it stops.

mod chaos;
mod control;
mod control_error;
mod instances;
mod prometheus;
mod queue;
mod rollout;
mod router_sync;
mod slo;
mod stack;
mod state;
mod status;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use opsbox_common::queue::{JobQueue, QueueKeys};
use opsbox_common::redis_conn::Redis;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

use super::binaries::Binaries;
use super::daemon_record::{self, DaemonRecord};
use super::router::{Router, RouterConfig};
use super::secret;
use super::state_dir::StateDir;
use super::supervisor::{InstanceState, Supervisor, SupervisorConfig};
use crate::model::EnvironmentPhase;

pub use stack::MAX_REPLICAS;
use state::{DaemonState, RouterHandle};

/// How long every instance may take to be Running for the first time.
const FIRST_READY_TIMEOUT: Duration = Duration::from_secs(90);

/// The queue's key prefix, shared with the services (they read the same variable).
const QUEUE_PREFIX_ENV: &str = "OPSBOX_QUEUE_PREFIX";

/// What `opsbox up` asked for.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub state_dir: StateDir,
    pub api_replicas: u16,
    pub workers: u16,
    pub port: u16,
}

/// Runs the daemon until it is asked to stop; blocks the calling (main) thread.
pub fn run(config: DaemonConfig) -> anyhow::Result<()> {
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // block_on runs this future on the main thread, which outlives every process the
    // daemon starts: their parent-death signal is tied to the thread that spawned them.
    let result = runtime.block_on(serve(config));
    if let Err(error) = &result {
        tracing::error!(error = %format!("{error:#}"), "daemon failed");
    }
    result
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Err only if a subscriber is already set, which leaves logging as it is.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn serve(config: DaemonConfig) -> anyhow::Result<()> {
    let state_dir = config.state_dir.clone();
    state_dir.create()?;
    let control_token = secret::generate_token();
    secret::write_token(&state_dir.control_token(), &control_token)?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .context("cannot bind the control endpoint")?;
    let control_addr = listener.local_addr().context("control endpoint address")?;
    let record = DaemonRecord {
        pid: std::process::id(),
        control_addr,
        token_path: state_dir.control_token(),
        started_at: chrono::Utc::now(),
    };
    daemon_record::create_exclusive(&state_dir.daemon_record(), &record).with_context(|| {
        format!(
            "another daemon owns {} (see opsbox status / opsbox down)",
            state_dir.root().display()
        )
    })?;

    let state = DaemonState::new(state_dir.clone(), control_token);
    let control_stop = CancellationToken::new();
    let control = tokio::spawn(control::serve(
        listener,
        state.clone(),
        control_stop.clone(),
    ));
    tracing::info!(%control_addr, pid = record.pid, "daemon control endpoint listening");
    watch_signals(state.shutdown.clone())?;

    let outcome = run_stack(&config, &state).await;
    state.set_phase(EnvironmentPhase::Stopping);
    control_stop.cancel();
    if let Err(error) = control.await {
        tracing::warn!(%error, "control endpoint task ended abnormally");
    }
    daemon_record::remove(&state_dir.instance_pids())?;
    daemon_record::remove(&state_dir.daemon_record())?;
    tracing::info!("daemon stopped");
    outcome
}

/// Starts everything, waits for the shutdown request, stops everything (also after a
/// failed start).
async fn run_stack(config: &DaemonConfig, state: &Arc<DaemonState>) -> anyhow::Result<()> {
    let binaries = Binaries::locate()?;
    let router = Router::bind(RouterConfig {
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, config.port)),
        ..RouterConfig::default()
    })
    .await
    .context("cannot start the router (is the port taken? pass --port)")?;
    let _ = state.router.set(RouterHandle {
        control: router.control(),
        public_addr: router.public_addr(),
        metrics_addr: router.metrics_addr(),
    });

    let deps = tokio::select! {
        deps = stack::start_dependencies(&config.state_dir) => Arc::new(deps?),
        () = state.shutdown.cancelled() => anyhow::bail!("stopped while starting PostgreSQL and Redis"),
    };
    let _ = state.deps.set(deps.clone());
    let started = start_instances(config, state, &binaries, &deps, &router).await;
    if started.is_ok() {
        state.set_phase(EnvironmentPhase::Ready);
        tracing::info!("environment ready");
        state.shutdown.cancelled().await;
    }
    state.set_phase(EnvironmentPhase::Stopping);
    tracing::info!("stopping instances");
    if let Some(supervisor) = state.supervisor.get() {
        supervisor.stop_all().await;
    }
    router.shutdown().await;
    stop_dependencies(deps).await;
    started
}

/// Stops PostgreSQL and Redis. A chaos outage in progress gives up restoring them,
/// as it watches the same shutdown token.
async fn stop_dependencies(deps: Arc<opsbox_harness::Dependencies>) {
    if let Err(error) = deps.shutdown().await {
        tracing::warn!(%error, "stopping PostgreSQL and Redis failed");
    }
}

async fn start_instances(
    config: &DaemonConfig,
    state: &Arc<DaemonState>,
    binaries: &Binaries,
    deps: &opsbox_harness::Dependencies,
    router: &Router,
) -> anyhow::Result<()> {
    tokio::select! {
        migrated = stack::migrate(binaries, deps, &config.state_dir) => migrated?,
        () = state.shutdown.cancelled() => anyhow::bail!("stopped while migrating"),
    }
    let prefix = std::env::var(QUEUE_PREFIX_ENV).unwrap_or_else(|_| "opsbox".to_owned());
    let redis = Redis::new(deps.redis_url()).context("invalid Redis URL")?;
    let _ = state
        .queue
        .set(JobQueue::new(redis, QueueKeys::new(prefix)));

    let admin_token = secret::generate_token();
    secret::write_token(&config.state_dir.admin_token(), &admin_token)?;
    let _ = state.admin_token.set(admin_token.clone());
    let stack = stack::StackTemplate {
        binaries: binaries.clone(),
        dependency_env: deps
            .env_vars()
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect(),
        state_dir: config.state_dir.clone(),
        admin_token,
    };
    // The saved rollout state says which revision is stable (after a rollout, not v1).
    let rollout = rollout::prepare(&config.state_dir)?;
    let stable = rollout
        .stable()
        .cloned()
        .context("the rollout state has no stable revision")?;
    let plan = stack.plan(&stable, config.api_replicas, config.workers)?;
    let _ = state.stack.set(stack);
    let supervisor = Arc::new(Supervisor::new(SupervisorConfig::default())?);
    let _ = state.supervisor.set(supervisor.clone());
    for (name, addr) in &plan.addresses {
        state.register_address(name, *addr);
    }
    tokio::spawn(router_sync::follow(
        supervisor.subscribe(),
        router.control(),
        state.clone(),
    ));
    for spec in plan.specs {
        supervisor.add(spec)?;
    }
    let spec = crate::slo::SloSpec::builtin().context("the built-in SLO spec")?;
    let _ = state.rollout.set(rollout::RolloutController::spawn(
        rollout,
        state.clone(),
        &spec,
    )?);
    prometheus::start(state, &supervisor)?;
    slo::start(state)?;
    let mut instances = supervisor.subscribe();
    let all_running = instances.wait_for(|all| {
        all.values()
            .all(|instance| instance.state == InstanceState::Running)
    });
    tokio::select! {
        ready = tokio::time::timeout(FIRST_READY_TIMEOUT, all_running) => {
            ready
                .with_context(|| format!("not every instance was ready within {FIRST_READY_TIMEOUT:?}; see the logs in {}", config.state_dir.logs().display()))?
                .context("the supervisor stopped")?;
        }
        () = state.shutdown.cancelled() => anyhow::bail!("stopped while instances were starting"),
    }
    Ok(())
}

/// SIGTERM and SIGINT stop the daemon like `POST /shutdown`.
fn watch_signals(shutdown: CancellationToken) -> anyhow::Result<()> {
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM received"),
            _ = interrupt.recv() => tracing::info!("SIGINT received"),
        }
        shutdown.cancel();
    });
    Ok(())
}
