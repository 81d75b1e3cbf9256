//! PostgreSQL and Redis together, private or given by DATABASE_URL / REDIS_URL, behind one value.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{HarnessError, Result};
use crate::postgres_server::{create_database_at, unique_database_name, PostgresServer};
use crate::process::LaunchOptions;
use crate::redis_server::RedisServer;
use crate::state_dir::StateDir;
use crate::urls::{redact, with_database};

/// The services' database URL (the `opsbox` database).
pub const DATABASE_URL_ENV: &str = "DATABASE_URL";
/// A superuser URL on the same server, for tests that create databases.
pub const ADMIN_URL_ENV: &str = "OPSBOX_TEST_ADMIN_URL";
/// The services' Redis URL.
pub const REDIS_URL_ENV: &str = "REDIS_URL";

/// PostgreSQL and Redis for the services: started privately, or external ones given by URL.
///
/// External servers are only pointed at: nothing is started, stopped or
/// checked. Private ones live under the state directory and stop on drop
/// (fields drop in order: servers first, then a temporary state directory).
pub struct Dependencies {
    postgres: Postgres,
    redis: Redis,
    state_dir: StateDir,
}

// Boxed: a server is large next to a URL, and there is one of each per value.
enum Postgres {
    Private(Box<PostgresServer>),
    External {
        database_url: String,
        admin_url: String,
        /// Where `create_database` connects: the admin URL when one was given,
        /// else `DATABASE_URL`, the one URL we know the user may connect with.
        ddl_url: String,
    },
}

enum Redis {
    Private(Box<RedisServer>),
    External { url: String },
}

impl Dependencies {
    /// Uses `DATABASE_URL` / `REDIS_URL` when set, and starts private servers for the rest.
    pub async fn start() -> Result<Self> {
        Self::builder().urls_from_env().start().await
    }

    /// Always starts private servers, whatever the environment says: for tests that
    /// stop, pause or flush them.
    pub async fn private() -> Result<Self> {
        Self::builder().start().await
    }

    /// Private servers in a temporary state directory unless told otherwise.
    pub fn builder() -> DependenciesBuilder {
        DependenciesBuilder::default()
    }

    /// The `opsbox` database.
    pub fn database_url(&self) -> &str {
        match &self.postgres {
            Postgres::Private(server) => server.database_url(),
            Postgres::External { database_url, .. } => database_url,
        }
    }

    /// A URL on the same PostgreSQL server for administration (the `postgres` database).
    pub fn admin_url(&self) -> &str {
        match &self.postgres {
            Postgres::Private(server) => server.admin_url(),
            Postgres::External { admin_url, .. } => admin_url,
        }
    }

    pub fn redis_url(&self) -> &str {
        match &self.redis {
            Redis::Private(server) => server.url(),
            Redis::External { url } => url,
        }
    }

    /// The environment a service or test process needs: `DATABASE_URL`,
    /// `OPSBOX_TEST_ADMIN_URL` and `REDIS_URL`.
    pub fn env_vars(&self) -> [(&'static str, &str); 3] {
        [
            (DATABASE_URL_ENV, self.database_url()),
            (ADMIN_URL_ENV, self.admin_url()),
            (REDIS_URL_ENV, self.redis_url()),
        ]
    }

    /// The private PostgreSQL server, to stop and start it; `None` when external.
    pub fn postgres(&self) -> Option<&PostgresServer> {
        match &self.postgres {
            Postgres::Private(server) => Some(server),
            Postgres::External { .. } => None,
        }
    }

    /// The private Redis server, to stop, start, pause and resume it; `None` when external.
    pub fn redis(&self) -> Option<&RedisServer> {
        match &self.redis {
            Redis::Private(server) => Some(server),
            Redis::External { .. } => None,
        }
    }

    pub fn state_dir(&self) -> &Path {
        self.state_dir.path()
    }

    /// Creates the empty database `name` on the PostgreSQL server and returns its URL.
    ///
    /// On an external server this connects with `OPSBOX_TEST_ADMIN_URL` when
    /// given, else with `DATABASE_URL`; the URL returned keeps its credentials.
    pub async fn create_database(&self, name: &str) -> Result<String> {
        create_database_at(self.server_url_for_ddl(), name).await
    }

    /// Creates an empty database `<prefix>_<unique suffix>` and returns its URL:
    /// one per test, safe when many test processes share the server.
    pub async fn create_unique_database(&self, prefix: &str) -> Result<String> {
        create_database_at(self.server_url_for_ddl(), &unique_database_name(prefix)?).await
    }

    fn server_url_for_ddl(&self) -> &str {
        match &self.postgres {
            Postgres::Private(server) => server.admin_url(),
            Postgres::External { ddl_url, .. } => ddl_url,
        }
    }

    /// Fails when a private server is no longer running (crashed, killed, or stopped).
    pub async fn check_running(&self) -> Result<()> {
        if let Postgres::Private(server) = &self.postgres {
            if !server.is_running().await? {
                return Err(HarnessError::WrongState {
                    server: "PostgreSQL",
                    state: "not running",
                    hint: "see its log (postgres/postgres.log in the state directory)",
                });
            }
        }
        if let Redis::Private(server) = &self.redis {
            if !server.is_running().await? {
                return Err(HarnessError::WrongState {
                    server: "Redis",
                    state: "not running",
                    hint: "see its log (redis/redis.log in the state directory)",
                });
            }
        }
        Ok(())
    }

    /// Stops the private servers without blocking the runtime (dropping would block).
    pub async fn shutdown(&self) -> Result<()> {
        let postgres = async {
            match &self.postgres {
                Postgres::Private(server) => server.stop().await,
                Postgres::External { .. } => Ok(()),
            }
        };
        let redis = async {
            match &self.redis {
                Redis::Private(server) => server.stop().await,
                Redis::External { .. } => Ok(()),
            }
        };
        let (postgres, redis) = tokio::join!(postgres, redis);
        postgres.and(redis)
    }
}

/// Chooses between private and external servers and where private ones keep their state.
// No Debug: external URLs may carry passwords.
#[derive(Clone, Default)]
pub struct DependenciesBuilder {
    state_dir: Option<PathBuf>,
    database_url: Option<String>,
    admin_url: Option<String>,
    redis_url: Option<String>,
    options: LaunchOptions,
}

impl DependenciesBuilder {
    /// Keep data and logs in `dir` (kept after drop) instead of a temporary directory.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Use this PostgreSQL database instead of starting a server.
    pub fn external_postgres(mut self, database_url: impl Into<String>) -> Self {
        self.database_url = Some(database_url.into());
        self
    }

    /// Use this Redis instead of starting a server.
    pub fn external_redis(mut self, url: impl Into<String>) -> Self {
        self.redis_url = Some(url.into());
        self
    }

    /// Use `DATABASE_URL` (with `OPSBOX_TEST_ADMIN_URL` if set) and `REDIS_URL` when they are set.
    pub fn urls_from_env(mut self) -> Self {
        let read = |name| std::env::var(name).ok().filter(|value| !value.is_empty());
        if let Some(database_url) = read(DATABASE_URL_ENV) {
            self.database_url = Some(database_url);
            self.admin_url = read(ADMIN_URL_ENV);
        }
        if let Some(redis_url) = read(REDIS_URL_ENV) {
            self.redis_url = Some(redis_url);
        }
        self
    }

    /// Whether private servers die with the thread that started them (default: yes).
    /// See [`LaunchOptions::kill_with_parent`].
    pub fn kill_with_parent(mut self, enabled: bool) -> Self {
        self.options.kill_with_parent = enabled;
        self
    }

    /// How long each private server may take to start (default: 30 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.options.startup_timeout = timeout;
        self
    }

    /// Starts the private servers (both at once) and waits until they answer.
    pub async fn start(self) -> Result<Dependencies> {
        let started = Instant::now();
        let state_dir = match &self.state_dir {
            Some(dir) => StateDir::persistent(dir)?,
            None => StateDir::temporary()?,
        };
        let postgres = async {
            match &self.database_url {
                Some(database_url) => external_postgres(database_url, self.admin_url.as_deref()),
                None => {
                    let dir = state_dir.subdir("postgres")?;
                    PostgresServer::launch(dir, self.options.clone())
                        .await
                        .map(|server| Postgres::Private(Box::new(server)))
                }
            }
        };
        let redis = async {
            match &self.redis_url {
                Some(url) => Ok(Redis::External { url: url.clone() }),
                None => {
                    let dir = state_dir.subdir("redis")?;
                    RedisServer::launch(dir, self.options.clone())
                        .await
                        .map(|server| Redis::Private(Box::new(server)))
                }
            }
        };
        // If one fails, the other future is dropped, and with it its server.
        let (postgres, redis) = tokio::try_join!(postgres, redis)?;
        let dependencies = Dependencies {
            postgres,
            redis,
            state_dir,
        };
        tracing::info!(
            database_url = %redact(dependencies.database_url()),
            redis_url = %redact(dependencies.redis_url()),
            state_dir = %dependencies.state_dir().display(),
            elapsed = ?started.elapsed(),
            "dependencies ready"
        );
        Ok(dependencies)
    }
}

fn external_postgres(database_url: &str, admin_url: Option<&str>) -> Result<Postgres> {
    let derived_admin_url = with_database(database_url, "postgres").ok_or_else(|| {
        HarnessError::InvalidPostgresUrl {
            name: DATABASE_URL_ENV,
            url: redact(database_url),
        }
    })?;
    Ok(Postgres::External {
        database_url: database_url.to_string(),
        admin_url: admin_url.map_or(derived_admin_url, str::to_string),
        ddl_url: admin_url.unwrap_or(database_url).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}

    /// A supervisor shares the servers between tasks of a multi-threaded runtime.
    #[test]
    fn servers_and_their_futures_can_cross_threads() {
        send_sync::<Dependencies>();
        send_sync::<PostgresServer>();
        send_sync::<RedisServer>();
        // Futures are only built here, never run: async fns start nothing until polled.
        send(&Dependencies::private());
        let _check = |deps: &Dependencies| {
            send(&deps.create_unique_database("t"));
            send(&deps.check_running());
            if let (Some(postgres), Some(redis)) = (deps.postgres(), deps.redis()) {
                send(&postgres.stop());
                send(&postgres.start());
                send(&redis.pause());
                send(&redis.resume());
            }
        };
    }

    #[test]
    fn external_postgres_derives_the_admin_url_unless_given() {
        let Ok(Postgres::External {
            admin_url, ddl_url, ..
        }) = external_postgres("postgres://app:pw@db:5432/opsbox?sslmode=disable", None)
        else {
            panic!("expected an external PostgreSQL");
        };
        assert_eq!(
            admin_url,
            "postgres://app:pw@db:5432/postgres?sslmode=disable"
        );
        assert_eq!(ddl_url, "postgres://app:pw@db:5432/opsbox?sslmode=disable");

        let Ok(Postgres::External {
            admin_url, ddl_url, ..
        }) = external_postgres(
            "postgres://app@db/opsbox",
            Some("postgres://root@db/postgres"),
        )
        else {
            panic!("expected an external PostgreSQL");
        };
        assert_eq!(admin_url, "postgres://root@db/postgres");
        assert_eq!(ddl_url, "postgres://root@db/postgres");
    }
}
