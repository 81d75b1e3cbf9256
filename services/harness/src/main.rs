//! `opsbox-harness`: run a command against private PostgreSQL and Redis, or keep them up in the foreground.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitCode, ExitStatus};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use opsbox_harness::{Dependencies, DependenciesBuilder};
use tokio::signal::unix::{signal, SignalKind};

/// How often `up` checks that the servers are still running.
const HEALTH_INTERVAL: Duration = Duration::from_millis(500);

/// Our own log filter, so `RUST_LOG=debug` meant for a test run does not flood it with ours.
const LOG_ENV: &str = "OPSBOX_HARNESS_LOG";

#[derive(Parser)]
#[command(
    name = "opsbox-harness",
    version,
    about = "Private PostgreSQL and Redis for OpsBox tests and local runs",
    long_about = "Starts a private PostgreSQL and Redis on free loopback ports, or uses \
                  DATABASE_URL / REDIS_URL when they are set.\n\
                  Set OPSBOX_PG_BIN to choose the PostgreSQL programs, OPSBOX_HARNESS_LOG \
                  (e.g. debug) for more output."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a command with DATABASE_URL, OPSBOX_TEST_ADMIN_URL and REDIS_URL set, then stop the servers.
    ///
    /// Exits with the command's exit code (128 + N when it died of signal N).
    /// SIGINT and SIGTERM are forwarded to the command.
    Exec {
        /// Keep data and logs here instead of a temporary directory.
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<OsString>,
    },
    /// Start the servers in the foreground, print DATABASE_URL=... and REDIS_URL=..., stop on Ctrl-C or SIGTERM.
    Up {
        /// Keep data and logs here (the database survives restarts); a temporary directory if absent.
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_filter = match cli.command {
        Command::Exec { .. } => "warn",
        Command::Up { .. } => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env(LOG_ENV)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    // One thread: the servers' death signal (PR_SET_PDEATHSIG) is tied to the
    // thread that spawned them, and the main thread lives exactly as long as we do.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("opsbox-harness: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Exec { state_dir, command } => exec(builder(state_dir), command).await,
            Command::Up { state_dir } => up(builder(state_dir)).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("opsbox-harness: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn builder(state_dir: Option<PathBuf>) -> DependenciesBuilder {
    let builder = Dependencies::builder().urls_from_env();
    match state_dir {
        Some(dir) => builder.state_dir(dir),
        None => builder,
    }
}

/// Ctrl-C and SIGTERM, caught so that we can clean up instead of dying.
struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> anyhow::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
        })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.interrupt.recv() => Signal::SIGINT,
            _ = self.terminate.recv() => Signal::SIGTERM,
        }
    }
}

/// Starts the servers unless a stop signal comes first (then exits like a killed process).
async fn start_or_interrupted(
    builder: DependenciesBuilder,
    signals: &mut StopSignals,
) -> anyhow::Result<Result<Dependencies, ExitCode>> {
    tokio::select! {
        dependencies = builder.start() => Ok(Ok(dependencies?)),
        // Dropping the start future stops whatever had started.
        received = signals.next() => Ok(Err(signal_exit_code(received as i32))),
    }
}

async fn exec(builder: DependenciesBuilder, command: Vec<OsString>) -> anyhow::Result<ExitCode> {
    let mut signals = StopSignals::install()?;
    let dependencies = match start_or_interrupted(builder, &mut signals).await? {
        Ok(dependencies) => dependencies,
        Err(code) => return Ok(code),
    };
    let code = run_command(&dependencies, &command, &mut signals).await;
    if let Err(error) = dependencies.shutdown().await {
        // The command's result matters more than a slow teardown; still say so.
        eprintln!("opsbox-harness: stopping the servers: {error}");
    }
    code
}

/// Runs the command in our process group (so it keeps the terminal for job
/// control and input) and forwards the stop signals sent to us alone, by
/// `timeout`, CI or a supervisor. Returns the exit code to pass on.
async fn run_command(
    dependencies: &Dependencies,
    command: &[OsString],
    signals: &mut StopSignals,
) -> anyhow::Result<ExitCode> {
    let (program, args) = command.split_first().context("no command given after --")?;
    let spawned = tokio::process::Command::new(program)
        .args(args)
        .envs(dependencies.env_vars())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => {
            eprintln!(
                "opsbox-harness: cannot run {}: {error}",
                program.to_string_lossy()
            );
            // The shell's codes: 127 for not found, 126 for found but not runnable.
            let code = if error.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            return Ok(ExitCode::from(code));
        }
    };
    let pid = child
        .id()
        .and_then(|pid| i32::try_from(pid).ok())
        .map(Pid::from_raw);
    loop {
        tokio::select! {
            status = child.wait() => {
                return Ok(command_exit_code(status.context("cannot wait for the command")?));
            }
            received = signals.next() => {
                // A terminal's Ctrl-C already went to the command too; a second one
                // would tell test runners to stop at once instead of cleanly.
                let already_delivered = received == Signal::SIGINT && in_terminal_foreground();
                if let (Some(pid), false) = (pid, already_delivered) {
                    // ESRCH: it exited meanwhile; the wait above will report it.
                    let _ = kill(pid, received);
                }
            }
        }
    }
}

async fn up(builder: DependenciesBuilder) -> anyhow::Result<ExitCode> {
    let mut signals = StopSignals::install()?;
    let dependencies = match start_or_interrupted(builder, &mut signals).await? {
        Ok(dependencies) => dependencies,
        Err(code) => return Ok(code),
    };
    let mut stdout = std::io::stdout().lock();
    for (name, value) in dependencies.env_vars() {
        // The admin URL is for tests; `make run` wants just these two.
        if name != opsbox_harness::ADMIN_URL_ENV {
            writeln!(stdout, "{name}={value}").context("cannot write to stdout")?;
        }
    }
    stdout.flush().context("cannot write to stdout")?;
    drop(stdout);
    tracing::info!(
        admin_url = %opsbox_harness::redact(dependencies.admin_url()),
        state_dir = %dependencies.state_dir().display(),
        "up; Ctrl-C or SIGTERM stops"
    );
    let mut health = tokio::time::interval(HEALTH_INTERVAL);
    let outcome = loop {
        tokio::select! {
            received = signals.next() => {
                tracing::info!(signal = %received, "stopping");
                break Ok(());
            }
            _ = health.tick() => {
                if let Err(error) = dependencies.check_running().await {
                    break Err(error);
                }
            }
        }
    };
    let stopped = dependencies.shutdown().await;
    outcome.context("a server died")?;
    stopped.context("stopping the servers")?;
    Ok(ExitCode::SUCCESS)
}

/// True when we (and so the command) are the terminal's foreground process group,
/// which is where the terminal sends Ctrl-C.
fn in_terminal_foreground() -> bool {
    nix::unistd::tcgetpgrp(std::io::stdin()).is_ok_and(|group| group == nix::unistd::getpgrp())
}

fn command_exit_code(status: ExitStatus) -> ExitCode {
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        (None, Some(signal)) => signal_exit_code(signal),
        (None, None) => ExitCode::FAILURE,
    }
}

/// The shell's convention for "killed by signal N".
fn signal_exit_code(signal: i32) -> ExitCode {
    ExitCode::from(u8::try_from(128 + signal).unwrap_or(255))
}
