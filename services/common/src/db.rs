//! The Postgres pool and the schema migrations.

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

/// The schema, embedded at compile time so a binary migrates its own database.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long a request may wait for a connection before the service answers
/// 503: short, because a database that is down must fail fast, not hang.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(500);

/// How long a pooled connection may sit unused before it is checked.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// Opens a pool lazily: the process starts (and stays live) even while the
/// database is down, and connects as soon as it is back.
pub fn connect_lazy(database_url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    let options: PgConnectOptions = database_url.parse()?;
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // A connection that sat idle may have outlived a database restart:
        // ping it before use. A busy one is not pinged (a round trip per
        // query would halve throughput); if it broke, its query fails once,
        // the request gets a 503, and the pool discards it.
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for > IDLE_BEFORE_PING {
                    sqlx::Connection::ping(connection).await?;
                }
                Ok(true)
            })
        })
        .idle_timeout(Some(Duration::from_secs(60)))
        .connect_lazy_with(options.application_name("opsbox")))
}

/// Runs the pending migrations.
pub async fn migrate_up(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// Reverts every migration (down scripts, newest first).
pub async fn migrate_down(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.undo(pool, 0).await
}

/// Hides the password of a connection URL so it can be logged.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((credentials, host)) => {
                let user = credentials.split(':').next().unwrap_or_default();
                if credentials.contains(':') {
                    format!("{scheme}://{user}:***@{host}")
                } else {
                    format!("{scheme}://{user}@{host}")
                }
            }
            None => url.to_owned(),
        },
        None => "<unparseable url>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_reach_the_logs() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/opsbox"),
            "postgres://app:***@db:5432/opsbox"
        );
        assert_eq!(
            redact_url("redis://:pw@127.0.0.1:6379"),
            "redis://:***@127.0.0.1:6379"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(redact_url("garbage"), "<unparseable url>");
    }
}
