//! `opsbox-api`: serve the task API, or migrate its database.

use clap::{Parser, Subcommand};
use opsbox_api::config::Config;
use opsbox_api::startup::Application;
use opsbox_common::{db, shutdown, telemetry};

#[derive(Parser)]
#[command(name = "opsbox-api", version, about = "The OpsBox task API")]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Apply or revert the schema migrations, then exit.
    Migrate {
        #[arg(value_enum, default_value_t = Direction::Up)]
        direction: Direction,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Direction {
    Up,
    Down,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _telemetry = telemetry::init(
        "opsbox-api",
        &cli.config.stack.release,
        cli.config.stack.track.as_str(),
    )?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(cli.config).await?;
            tracing::info!(addr = %app.local_addr(), "opsbox-api listening");
            app.run_until_stopped(shutdown::terminate_signal()).await?;
        }
        Command::Migrate { direction } => {
            let pool = db::connect_lazy(cli.config.stack.database_url.expose(), 1)?;
            match direction {
                Direction::Up => db::migrate_up(&pool).await?,
                Direction::Down => db::migrate_down(&pool).await?,
            }
            tracing::info!("migrations applied");
        }
    }
    Ok(())
}
