//! `opsbox-worker`: execute queued task runs until SIGTERM, then drain.

use clap::Parser;
use opsbox_common::{shutdown, telemetry};
use opsbox_worker::config::Config;
use opsbox_worker::startup::Application;

#[derive(Parser)]
#[command(name = "opsbox-worker", version, about = "The OpsBox job worker")]
struct Cli {
    #[command(flatten)]
    config: Config,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _telemetry = telemetry::init(
        "opsbox-worker",
        &cli.config.stack.release,
        cli.config.stack.track.as_str(),
    )?;
    let app = Application::build(cli.config).await?;
    tracing::info!(addr = %app.metrics_addr()?, worker_id = app.worker_id(), "probes and metrics listening");
    app.run_until_stopped(shutdown::terminate_signal()).await
}
