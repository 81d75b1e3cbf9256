//! The harness's one error type; each message says what went wrong and what to do about it.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Everything that can go wrong while starting, using or stopping the dependencies.
///
/// Messages include their cause (there is no `source()` chain to print twice),
/// and `Debug` shows the message too, so a test's `.expect()` prints advice and
/// log lines rather than a struct dump.
#[derive(thiserror::Error)]
pub enum HarnessError {
    #[error(
        "PostgreSQL server programs (initdb, postgres) not found on PATH, in \
         /usr/lib/postgresql/*/bin or in $OPSBOX_PG_BIN: install them with \
         `apt-get install postgresql`, or point OPSBOX_PG_BIN at their directory, \
         or set DATABASE_URL to use a server you run yourself"
    )]
    PostgresNotInstalled,

    #[error("OPSBOX_PG_BIN={dir} does not contain `{program}`: point it at the directory holding initdb and postgres")]
    PostgresBinDirInvalid { dir: PathBuf, program: &'static str },

    #[error(
        "redis-server not found on PATH or in /usr/bin: install it with \
         `apt-get install redis-server`, or set REDIS_URL to use a server you run yourself"
    )]
    RedisNotInstalled,

    #[error(
        "running as root, but there is no `postgres` system user to run PostgreSQL as \
         (initdb and postgres refuse to run as root): install the Debian package with \
         `apt-get install postgresql`, create the user with `useradd --system postgres`, \
         or run as a normal user"
    )]
    NoPostgresUser,

    #[error(
        "PostgreSQL runs as the `postgres` user (it refuses root), which cannot enter {dir}: \
         make it traversable (`chmod o+x {dir}`) or use a state directory elsewhere, such as under /tmp"
    )]
    DirNotAccessible { dir: PathBuf },

    #[error("could not {action}: {cause}")]
    Io {
        action: String,
        cause: std::io::Error,
    },

    #[error("{program} failed ({status}); its output is in {log}:\n{log_tail}")]
    SetupFailed {
        program: &'static str,
        status: ExitStatus,
        log: PathBuf,
        log_tail: String,
    },

    #[error("{server} exited while starting ({status}); its log is {log}:\n{log_tail}")]
    ExitedDuringStartup {
        server: &'static str,
        status: ExitStatus,
        log: PathBuf,
        log_tail: String,
    },

    #[error(
        "{server} did not accept connections within {timeout:?} (last error: {last_error}); \
         its log is {log}:\n{log_tail}"
    )]
    StartupTimedOut {
        server: &'static str,
        timeout: Duration,
        last_error: String,
        log: PathBuf,
        log_tail: String,
    },

    #[error(
        "{server} cannot restart on port {port}: another process listens there now; \
         stop it (`ss -ltnp 'sport = :{port}'` shows which) and call start() again"
    )]
    PortTaken { server: &'static str, port: u16 },

    #[error("{server} kept losing its port to other processes ({attempts} attempts); retry, or run fewer servers at once")]
    NoFreePort { server: &'static str, attempts: u32 },

    #[error("{server} is {state}; {hint}")]
    WrongState {
        server: &'static str,
        state: &'static str,
        hint: &'static str,
    },

    #[error(
        "invalid database name {name:?}: use 1 to {max_len} lowercase ASCII letters, \
         digits and underscores, starting with a letter"
    )]
    InvalidDatabaseName { name: String, max_len: usize },

    #[error("{name} is not a PostgreSQL URL ({url}): expected postgres://user@host:port/database")]
    InvalidPostgresUrl { name: &'static str, url: String },

    #[error("PostgreSQL at {url} failed to {action}: {cause}")]
    Postgres {
        action: String,
        url: String,
        cause: sqlx::Error,
    },
}

/// The harness's result type.
pub type Result<T, E = HarnessError> = std::result::Result<T, E>;

impl HarnessError {
    /// Wraps an I/O error with the action that failed, so the message names the file or program.
    pub(crate) fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let action = action.into();
        move |cause| Self::Io { action, cause }
    }
}

impl std::fmt::Debug for HarnessError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, formatter)
    }
}
