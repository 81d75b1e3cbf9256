//! `opsbox-api`: serve the task API, migrate its database, or check its health.

use std::net::SocketAddr;

use clap::{Parser, Subcommand};
use opsbox_api::config::Config;
use opsbox_api::healthcheck::{self, Target};
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
    /// GET this instance's /health (2 s timeout); exit 0 when it answers 200, else 1.
    /// Needs no database or Redis settings: a container HEALTHCHECK runs it.
    Healthcheck(HealthcheckArgs),
}

#[derive(clap::Args)]
struct HealthcheckArgs {
    /// The address the API listens on; a wildcard address is probed on loopback.
    #[arg(long, env = "OPSBOX_API_ADDR", default_value = "0.0.0.0:8080")]
    addr: SocketAddr,
    /// Probe this URL instead, e.g. a Service's `/ready` from `helm test`.
    #[arg(long)]
    url: Option<String>,
}

impl HealthcheckArgs {
    fn run(&self) -> u8 {
        let target = match &self.url {
            Some(url) => match Target::parse(url) {
                Ok(target) => target,
                Err(why) => {
                    eprintln!("unhealthy: {why}");
                    return 1;
                }
            },
            None => Target::own(self.addr, "/health"),
        };
        healthcheck::run(&target)
    }
}

/// `opsbox-api healthcheck ...` alone: the full command line would demand DATABASE_URL.
#[derive(Parser)]
#[command(name = "opsbox-api healthcheck")]
struct HealthcheckCli {
    #[command(flatten)]
    args: HealthcheckArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Direction {
    Up,
    Down,
}

fn main() -> anyhow::Result<()> {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == "healthcheck")
    {
        let cli = HealthcheckCli::parse_from(std::env::args_os().skip(1));
        std::process::exit(i32::from(cli.args.run()));
    }
    serve_or_migrate()
}

#[tokio::main]
async fn serve_or_migrate() -> anyhow::Result<()> {
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
        Command::Healthcheck(args) => std::process::exit(i32::from(args.run())),
    }
    Ok(())
}
