//! A private Redis server without persistence: start, stop, restart, and pause it like a hung dependency.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use redis::AsyncConnectionConfig;

use crate::error::{HarnessError, Result};
use crate::process::{Launch, LaunchOptions, ManagedProcess};
use crate::programs::redis_server_program;
use crate::server_process::{Freeze, ServerKind, ServerProcess};
use crate::startup::{wait_until_ready, StartError};

const SERVER: &str = "Redis";

/// Without persistence, SIGTERM makes Redis exit at once; this only bounds a stuck one.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Between readiness probes: Redis is usually up within a few milliseconds.
const READY_POLL: Duration = Duration::from_millis(10);
/// One probe may not hang longer than this.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

static KIND: ServerKind = ServerKind {
    name: SERVER,
    // `ManagedProcess::stop` continues a paused server so it can act on SIGTERM.
    stop_signal: Signal::SIGTERM,
    stop_grace: STOP_GRACE,
    freeze: Freeze::Process,
};

/// A Redis server owned by this process, on 127.0.0.1 with no persistence.
///
/// Dropping it SIGKILLs the server (its data is disposable) and reaps it.
pub struct RedisServer {
    setup: Setup,
    url: String,
    server: ServerProcess,
}

impl RedisServer {
    /// Starts `redis-server` on a free port with `dir` as its working directory and
    /// waits until it answers PING.
    pub async fn launch(dir: impl Into<PathBuf>, options: LaunchOptions) -> Result<Self> {
        let started = Instant::now();
        let program = redis_server_program()?;
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(HarnessError::io(format!("create {}", dir.display())))?;
        let dir = dir
            .canonicalize()
            .map_err(HarnessError::io(format!("resolve {}", dir.display())))?;
        let setup = Setup {
            program,
            log_path: dir.join("redis.log"),
            dir,
            options,
        };
        let server = ServerProcess::launch(&KIND, |port| setup.run(port)).await?;
        let port = server.port();
        tracing::info!(port, pid = server.pid(), elapsed = ?started.elapsed(), "Redis ready");
        Ok(Self {
            setup,
            url: format!("redis://127.0.0.1:{port}"),
            server,
        })
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The server's pid, or `None` while stopped.
    pub fn pid(&self) -> Option<u32> {
        self.server.pid()
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn log_path(&self) -> &Path {
        &self.setup.log_path
    }

    /// True while paused with [`RedisServer::pause`].
    pub fn is_paused(&self) -> bool {
        self.server.is_paused()
    }

    /// Stops the server (its data is lost) and waits until it has exited; a no-op when stopped.
    pub async fn stop(&self) -> Result<()> {
        self.server.stop().await
    }

    /// Starts an empty server again on the same port; a no-op when it is running.
    pub async fn start(&self) -> Result<()> {
        self.server.start(|port| self.setup.run(port)).await
    }

    /// Freezes the server with SIGSTOP: connections stay open but nothing is answered,
    /// like a hung dependency. New connections are accepted by the kernel and then stall.
    pub async fn pause(&self) -> Result<()> {
        self.server.pause().await
    }

    /// Undoes [`RedisServer::pause`] with SIGCONT.
    pub async fn resume(&self) -> Result<()> {
        self.server.resume().await
    }

    /// True while the server runs (paused counts as running; false after `stop()` or a crash).
    pub async fn is_running(&self) -> Result<bool> {
        self.server.is_running().await
    }
}

/// Everything about the server except its port and process: program, paths, options.
struct Setup {
    program: PathBuf,
    dir: PathBuf,
    log_path: PathBuf,
    options: LaunchOptions,
}

impl Setup {
    /// Starts `redis-server` on `port` and waits until it answers.
    async fn run(&self, port: u16) -> Result<ManagedProcess, StartError> {
        let mut command = std::process::Command::new(&self.program);
        command
            .current_dir(&self.dir)
            // English messages, so "Address already in use" can be recognised.
            .env("LC_ALL", "C")
            .arg("--port")
            .arg(port.to_string())
            .args(["--bind", "127.0.0.1"])
            // No persistence: nothing to load on restart, nothing written while tests run.
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--daemonize", "no"])
            // An empty logfile means standard output, which goes to our log file.
            .args(["--logfile", ""]);
        let launch = Launch {
            name: SERVER,
            command,
            log_path: &self.log_path,
            run_as: None,
            kill_with_parent: self.options.kill_with_parent,
            drop_signal: Signal::SIGKILL,
            drop_grace: Duration::ZERO,
        };
        let mut process = ManagedProcess::spawn(launch)?;
        self.wait_for_answer(&mut process, port).await?;
        Ok(process)
    }

    async fn wait_for_answer(
        &self,
        process: &mut ManagedProcess,
        port: u16,
    ) -> Result<(), StartError> {
        let url = format!("redis://127.0.0.1:{port}");
        let our_pid = process.pid();
        let probe = || async {
            match answering_pid(&url).await {
                Ok(pid) if pid == our_pid => Ok(()),
                Ok(pid) => Err(format!("another Redis (pid {pid}) answers on port {port}")),
                Err(error) => Err(error.to_string()),
            }
        };
        wait_until_ready(
            SERVER,
            process,
            self.options.startup_timeout,
            READY_POLL,
            probe,
        )
        .await
    }
}

/// PINGs the server at `url` and returns its pid, to tell our server from a parallel test's.
async fn answering_pid(url: &str) -> redis::RedisResult<u32> {
    let client = redis::Client::open(url)?;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(PROBE_TIMEOUT))
        .set_response_timeout(Some(PROBE_TIMEOUT));
    let mut connection = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    redis::cmd("PING")
        .query_async::<String>(&mut connection)
        .await?;
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut connection)
        .await?;
    info.lines()
        .find_map(|line| line.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
        .ok_or_else(|| {
            redis::RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "INFO server has no process_id",
            ))
        })
}
