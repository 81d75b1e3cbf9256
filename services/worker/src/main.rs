//! `opsbox-worker`: execute queued task runs until SIGTERM, then drain; or
//! check the health of a running worker.

use std::net::SocketAddr;

use clap::{Parser, Subcommand};
use opsbox_common::{shutdown, telemetry};
use opsbox_worker::config::Config;
use opsbox_worker::startup::Application;

// One implementation for both services' `healthcheck` (see its module doc).
#[path = "../../api/src/healthcheck.rs"]
mod healthcheck;

#[derive(Parser)]
#[command(name = "opsbox-worker", version, about = "The OpsBox job worker")]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// GET this worker's /health (2 s timeout); exit 0 when it answers 200, else 1.
    /// Needs no database or Redis settings: a container HEALTHCHECK runs it.
    Healthcheck(HealthcheckArgs),
}

#[derive(clap::Args)]
struct HealthcheckArgs {
    /// The address of the worker's probes; a wildcard address is probed on loopback.
    #[arg(
        long,
        env = "OPSBOX_WORKER_METRICS_ADDR",
        default_value = "0.0.0.0:9091"
    )]
    metrics_addr: SocketAddr,
    /// Probe this URL instead (`http://host:port/path`).
    #[arg(long)]
    url: Option<String>,
}

/// `opsbox-worker healthcheck ...` alone: the full command line would demand DATABASE_URL.
#[derive(Parser)]
#[command(name = "opsbox-worker healthcheck")]
struct HealthcheckCli {
    #[command(flatten)]
    args: HealthcheckArgs,
}

fn healthcheck(args: &HealthcheckArgs) -> ! {
    let target = match &args.url {
        Some(url) => healthcheck::Target::parse(url),
        None => Ok(healthcheck::Target::own(args.metrics_addr, "/health")),
    };
    let code = match target {
        Ok(target) => healthcheck::run(&target),
        Err(why) => {
            eprintln!("unhealthy: {why}");
            1
        }
    };
    std::process::exit(i32::from(code))
}

fn main() -> anyhow::Result<()> {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == "healthcheck")
    {
        healthcheck(&HealthcheckCli::parse_from(std::env::args_os().skip(1)).args);
    }
    work()
}

#[tokio::main]
async fn work() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Healthcheck(args)) = &cli.command {
        healthcheck(args);
    }
    let _telemetry = telemetry::init(
        "opsbox-worker",
        &cli.config.stack.release,
        cli.config.stack.track.as_str(),
    )?;
    let app = Application::build(cli.config).await?;
    tracing::info!(addr = %app.metrics_addr()?, worker_id = app.worker_id(), "probes and metrics listening");
    app.run_until_stopped(shutdown::terminate_signal()).await
}
