//! Private PostgreSQL and Redis for tests and `opsbox up`, or the ones DATABASE_URL / REDIS_URL name.
//!
//! Tests call [`Dependencies::start`]: under `opsbox-harness exec -- cargo nextest run`
//! every test process shares the servers `exec` started (through the URLs in
//! its environment) and takes a database of its own; run alone, a test starts
//! private servers (about a second). Chaos tests that stop or pause a server
//! use [`Dependencies::private`], so they never disturb the shared ones.
//!
//! ```no_run
//! # async fn example() -> opsbox_harness::Result<()> {
//! let deps = opsbox_harness::Dependencies::start().await?;
//! let database_url = deps.create_unique_database("api_test").await?;
//! # let _ = (database_url, deps.redis_url());
//! # Ok(())
//! # }
//! ```

mod dependencies;
mod error;
mod parent_death;
mod ports;
mod postgres_server;
mod process;
mod programs;
mod redis_server;
mod server_process;
mod startup;
mod state_dir;
mod urls;

pub use dependencies::{
    Dependencies, DependenciesBuilder, ADMIN_URL_ENV, DATABASE_URL_ENV, REDIS_URL_ENV,
};
pub use error::{HarnessError, Result};
pub use parent_death::die_with_parent;
pub use ports::free_port;
pub use postgres_server::{PostgresServer, APP_DATABASE};
pub use process::LaunchOptions;
pub use programs::PG_BIN_ENV;
pub use redis_server::RedisServer;
pub use state_dir::StateDir;
pub use urls::redact;
