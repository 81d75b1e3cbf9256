//! A private PostgreSQL server: initdb into a state dir, run `postgres` as our child, stop and restart it.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::Signal;
use nix::unistd::User;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Executor};

use crate::error::{HarnessError, Result};
use crate::process::{run_to_completion, Account, Launch, LaunchOptions, ManagedProcess};
use crate::programs::postgres_bin_dir;
use crate::server_process::{Freeze, ServerKind, ServerProcess};
use crate::startup::{wait_until_ready, StartError};
use crate::urls::{is_valid_database_name, redact, with_database, MAX_DATABASE_NAME_LEN};

/// The database the services use; created on first start.
pub const APP_DATABASE: &str = "opsbox";

const SERVER: &str = "PostgreSQL";
const SUPERUSER: &str = "postgres";
const ADMIN_DATABASE: &str = "postgres";

/// SIGINT is PostgreSQL's "fast shutdown": abort transactions, checkpoint, exit.
const SHUTDOWN_SIGNAL: Signal = Signal::SIGINT;
/// With fsync off the shutdown checkpoint is quick; this only bounds a stuck server.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

static KIND: ServerKind = ServerKind {
    name: SERVER,
    stop_signal: SHUTDOWN_SIGNAL,
    stop_grace: SHUTDOWN_GRACE,
    freeze: Freeze::WithChildren,
};
/// Between readiness probes: short, since start-up usually takes well under a second.
const READY_POLL: Duration = Duration::from_millis(20);
/// One probe may not hang longer than this (a half-started server can stall a handshake).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Bounds connecting for `create_database`, so a paused or wedged server gives an error, not a hang.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A PostgreSQL server owned by this process, on 127.0.0.1 with trust authentication.
///
/// Dropping it shuts the server down (SIGINT, then SIGKILL after 10 s), blocking
/// the current thread meanwhile; call [`PostgresServer::stop`] first to do that
/// without blocking an async runtime.
pub struct PostgresServer {
    install: Installation,
    admin_url: String,
    database_url: String,
    /// The running postmaster.
    server: ServerProcess,
}

impl PostgresServer {
    /// Initialises a cluster in `dir/data` (unless one is there already), starts it on a
    /// free port, waits until it accepts connections and creates the `opsbox` database.
    pub async fn launch(dir: impl Into<PathBuf>, options: LaunchOptions) -> Result<Self> {
        let started = Instant::now();
        let install = Installation::prepare(dir.into(), options).await?;
        let server = ServerProcess::launch(&KIND, |port| install.run(port)).await?;
        let port = server.port();
        let admin_url = server_url(port, ADMIN_DATABASE);
        let database_url = server_url(port, APP_DATABASE);
        ensure_database(&admin_url, APP_DATABASE).await?;
        tracing::info!(port, pid = server.pid(), elapsed = ?started.elapsed(), "PostgreSQL ready");
        Ok(Self {
            install,
            admin_url,
            database_url,
            server,
        })
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The postmaster's pid, or `None` while stopped.
    pub fn pid(&self) -> Option<u32> {
        self.server.pid()
    }

    /// `postgres://postgres@127.0.0.1:PORT/opsbox`
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`, for creating and dropping databases.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    pub fn data_dir(&self) -> &Path {
        &self.install.data_dir
    }

    pub fn log_path(&self) -> &Path {
        &self.install.log_path
    }

    /// Shuts the server down (fast shutdown) and waits until it has exited; a no-op when stopped.
    ///
    /// Connections then fail at once with "connection refused", like a crashed database.
    pub async fn stop(&self) -> Result<()> {
        self.server.stop().await
    }

    /// True while paused with [`PostgresServer::pause`].
    pub fn is_paused(&self) -> bool {
        self.server.is_paused()
    }

    /// Freezes the postmaster and every backend and auxiliary process with SIGSTOP,
    /// like a hung database: open connections stay open and nothing is answered; new
    /// connections are accepted by the kernel and then stall.
    pub async fn pause(&self) -> Result<()> {
        self.server.pause().await
    }

    /// Undoes [`PostgresServer::pause`] with SIGCONT.
    pub async fn resume(&self) -> Result<()> {
        self.server.resume().await
    }

    /// Starts the server again on the same port and data; a no-op when it is running.
    pub async fn start(&self) -> Result<()> {
        self.server.start(|port| self.install.run(port)).await
    }

    /// True while the postmaster runs (false after `stop()` or a crash).
    pub async fn is_running(&self) -> Result<bool> {
        self.server.is_running().await
    }

    /// Creates the empty database `name` and returns its URL.
    pub async fn create_database(&self, name: &str) -> Result<String> {
        create_database_at(&self.admin_url, name).await
    }

    /// Creates an empty database named `<prefix>_<unique suffix>` and returns its URL.
    pub async fn create_unique_database(&self, prefix: &str) -> Result<String> {
        create_database_at(&self.admin_url, &unique_database_name(prefix)?).await
    }
}

/// Creates database `name` on the server `server_url` points at, and returns its URL.
///
/// Connects with `server_url` itself, so any database the user may connect to
/// works; the returned URL keeps its credentials and parameters.
pub(crate) async fn create_database_at(server_url: &str, name: &str) -> Result<String> {
    if !is_valid_database_name(name) {
        return Err(HarnessError::InvalidDatabaseName {
            name: name.to_string(),
            max_len: MAX_DATABASE_NAME_LEN,
        });
    }
    let database_url =
        with_database(server_url, name).ok_or_else(|| HarnessError::InvalidPostgresUrl {
            name: "server URL",
            url: redact(server_url),
        })?;
    let mut connection = connect(server_url).await?;
    // Validated above to [a-z][a-z0-9_]*, so quoting cannot be escaped. A plain
    // string runs as a simple query (CREATE DATABASE takes no parameters), and
    // unlike `sqlx::raw_sql` its future is Send, so supervisors can spawn it.
    let statement = format!("CREATE DATABASE \"{name}\"");
    let created = connection.execute(statement.as_str()).await;
    close_quietly(connection).await;
    created.map_err(|cause| HarnessError::Postgres {
        action: format!("create database {name}"),
        url: redact(server_url),
        cause,
    })?;
    Ok(database_url)
}

/// `<prefix>_<ms since epoch>_<pid>_<counter>`: unique across processes sharing one server.
pub(crate) fn unique_database_name(prefix: &str) -> Result<String> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!("{prefix}_{millis}_{}_{count}", std::process::id());
    if !is_valid_database_name(&name) {
        return Err(HarnessError::InvalidDatabaseName {
            name,
            max_len: MAX_DATABASE_NAME_LEN,
        });
    }
    Ok(name)
}

/// Creates `name` unless it exists (a persistent state dir keeps it across runs).
async fn ensure_database(admin_url: &str, name: &str) -> Result<()> {
    let mut connection = connect(admin_url).await?;
    let exists = sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
    )
    .bind(name)
    .fetch_one(&mut connection)
    .await;
    close_quietly(connection).await;
    let exists = exists.map_err(|cause| HarnessError::Postgres {
        action: format!("look up database {name}"),
        url: redact(admin_url),
        cause,
    })?;
    if exists {
        return Ok(());
    }
    create_database_at(admin_url, name).await.map(drop)
}

async fn connect(url: &str) -> Result<PgConnection> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|cause| HarnessError::Postgres {
            action: "parse its URL".to_string(),
            url: redact(url),
            cause,
        })?
        .disable_statement_logging();
    let attempt = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options));
    match attempt.await {
        Ok(connection) => connection.map_err(|cause| HarnessError::Postgres {
            action: "accept a connection".to_string(),
            url: redact(url),
            cause,
        }),
        Err(_elapsed) => Err(HarnessError::Postgres {
            action: format!("accept a connection within {CONNECT_TIMEOUT:?}"),
            url: redact(url),
            cause: sqlx::Error::Io(std::io::ErrorKind::TimedOut.into()),
        }),
    }
}

async fn close_quietly(connection: PgConnection) {
    if let Err(error) = connection.close().await {
        tracing::debug!(%error, "closing a PostgreSQL connection failed");
    }
}

fn server_url(port: u16, database: &str) -> String {
    format!("postgres://{SUPERUSER}@127.0.0.1:{port}/{database}")
}

/// Everything about the server except its port and process: programs, paths, account.
struct Installation {
    bin_dir: PathBuf,
    dir: PathBuf,
    data_dir: PathBuf,
    log_path: PathBuf,
    run_as: Option<Account>,
    options: LaunchOptions,
}

impl Installation {
    /// Finds the programs, lays out the directory and runs initdb if there is no cluster yet.
    async fn prepare(dir: PathBuf, options: LaunchOptions) -> Result<Self> {
        let bin_dir = postgres_bin_dir()?;
        let run_as = server_account()?;
        std::fs::create_dir_all(&dir)
            .map_err(HarnessError::io(format!("create {}", dir.display())))?;
        let dir = dir
            .canonicalize()
            .map_err(HarnessError::io(format!("resolve {}", dir.display())))?;
        let data_dir = dir.join("data");
        let install = Self {
            log_path: dir.join("postgres.log"),
            bin_dir,
            data_dir,
            dir,
            run_as,
            options,
        };
        install.prepare_data_dir()?;
        if !install.data_dir.join("PG_VERSION").exists() {
            install.initdb().await?;
        }
        Ok(install)
    }

    /// Creates the data dir owned by the server's account with the 0700 mode PostgreSQL demands.
    fn prepare_data_dir(&self) -> Result<()> {
        if let Some(account) = self.run_as {
            // The account must be able to walk down to its data dir; the log is
            // written through an inherited descriptor, so it needs no access.
            set_mode(&self.dir, 0o711)?;
            check_traversable(&self.dir, account)?;
        }
        std::fs::create_dir_all(&self.data_dir).map_err(HarnessError::io(format!(
            "create {}",
            self.data_dir.display()
        )))?;
        if let Some(account) = self.run_as {
            nix::unistd::chown(&self.data_dir, Some(account.uid), Some(account.gid)).map_err(
                |errno| HarnessError::Io {
                    action: format!("give {} to the postgres user", self.data_dir.display()),
                    cause: errno.into(),
                },
            )?;
        }
        set_mode(&self.data_dir, 0o700)
    }

    async fn initdb(&self) -> Result<()> {
        let started = Instant::now();
        let initdb = self.bin_dir.join("initdb");
        let mut command = self.command(&initdb);
        command
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-U", SUPERUSER, "-A", "trust", "--no-sync", "-E", "UTF8"])
            // C: the same collation everywhere, whatever locales the machine has.
            .arg("--locale=C");
        if supports_no_instructions(&initdb).await {
            command.arg("--no-instructions");
        }
        let launch = self.launch("initdb", command, Signal::SIGKILL);
        run_to_completion(launch, self.options.startup_timeout).await?;
        tracing::debug!(elapsed = ?started.elapsed(), data_dir = %self.data_dir.display(), "initdb done");
        Ok(())
    }

    /// Starts `postgres` on `port` and waits until it accepts connections.
    async fn run(&self, port: u16) -> Result<ManagedProcess, StartError> {
        let mut command = self.command(&self.bin_dir.join("postgres"));
        command
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-p")
            .arg(port.to_string());
        for setting in [
            "listen_addresses=127.0.0.1",
            // No socket file: nothing to clean up, no clash on /var/run/postgresql.
            "unix_socket_directories=",
            // Test and demo data are disposable: trade durability for speed.
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
            // Many test processes each hold a pool against this one server.
            "max_connections=200",
        ] {
            command.arg("-c").arg(setting);
        }
        let launch = self.launch(SERVER, command, SHUTDOWN_SIGNAL);
        let mut process = ManagedProcess::spawn(launch)?;
        self.wait_for_answer(&mut process, port).await?;
        Ok(process)
    }

    /// Polls with real connections until our postmaster answers, it exits, or the deadline passes.
    async fn wait_for_answer(
        &self,
        process: &mut ManagedProcess,
        port: u16,
    ) -> Result<(), StartError> {
        let options = PgConnectOptions::new()
            .host("127.0.0.1")
            .port(port)
            .username(SUPERUSER)
            .database(ADMIN_DATABASE)
            .disable_statement_logging();
        let probe = || async {
            match tokio::time::timeout(PROBE_TIMEOUT, self.probe(&options)).await {
                Ok(Ok(true)) => Ok(()),
                Ok(Ok(false)) => Err(format!("another PostgreSQL answers on port {port}")),
                Ok(Err(error)) => Err(error.to_string()),
                Err(_elapsed) => Err(format!("no answer within {PROBE_TIMEOUT:?}")),
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

    /// Connects and checks the server is ours: a port can be taken over by a parallel test's server.
    async fn probe(&self, options: &PgConnectOptions) -> Result<bool, sqlx::Error> {
        let mut connection = PgConnection::connect_with(options).await?;
        let data_dir: String = sqlx::query_scalar("SHOW data_directory")
            .fetch_one(&mut connection)
            .await?;
        close_quietly(connection).await;
        Ok(Path::new(&data_dir) == self.data_dir)
    }

    fn command(&self, program: &Path) -> std::process::Command {
        let mut command = std::process::Command::new(program);
        command
            // A directory the server's account can enter: started from an
            // unreadable cwd (such as /root), PostgreSQL warns on every start.
            .current_dir(&self.dir)
            // English messages, so "Address already in use" can be recognised.
            .env("LC_ALL", "C")
            .env_remove("PGDATA");
        command
    }

    fn launch<'a>(
        &'a self,
        name: &'static str,
        command: std::process::Command,
        drop_signal: Signal,
    ) -> Launch<'a> {
        Launch {
            name,
            command,
            log_path: &self.log_path,
            run_as: self.run_as,
            kill_with_parent: self.options.kill_with_parent,
            drop_signal,
            drop_grace: SHUTDOWN_GRACE,
        }
    }
}

/// The account to run PostgreSQL as: `postgres` when we are root (it refuses root), else ourselves.
fn server_account() -> Result<Option<Account>> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let user = User::from_name(SUPERUSER)
        .map_err(|errno| HarnessError::Io {
            action: "look up the postgres user".to_string(),
            cause: errno.into(),
        })?
        .ok_or(HarnessError::NoPostgresUser)?;
    Ok(Some(Account {
        uid: user.uid,
        gid: user.gid,
    }))
}

/// `--no-instructions` exists since PostgreSQL 14; older initdb rejects unknown options.
async fn supports_no_instructions(initdb: &Path) -> bool {
    match tokio::process::Command::new(initdb)
        .arg("--help")
        .output()
        .await
    {
        Ok(output) => String::from_utf8_lossy(&output.stdout).contains("--no-instructions"),
        Err(_) => false,
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(HarnessError::io(
        format!("set the mode of {}", path.display()),
    ))
}

/// Fails with a clear message when `account` cannot enter `dir` or one of its parents.
///
/// Checked up front because initdb's own error ("could not change permissions
/// of directory") does not say which parent is the problem. std's spawn drops
/// supplementary groups, so only the primary group counts.
fn check_traversable(dir: &Path, account: Account) -> Result<()> {
    for ancestor in dir.ancestors() {
        let Ok(meta) = ancestor.metadata() else {
            continue;
        };
        let mode = meta.mode();
        let can_enter = if meta.uid() == account.uid.as_raw() {
            mode & 0o100 != 0
        } else if meta.gid() == account.gid.as_raw() {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !can_enter {
            return Err(HarnessError::DirNotAccessible {
                dir: ancestor.to_path_buf(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_are_valid_and_distinct() {
        let first = unique_database_name("t").expect("name");
        let second = unique_database_name("t").expect("name");
        assert_ne!(first, second);
        assert!(is_valid_database_name(&first));
        assert!(unique_database_name(&"x".repeat(60)).is_err());
        assert!(unique_database_name("Bad-Prefix").is_err());
    }
}
