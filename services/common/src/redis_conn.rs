//! A Redis connection that fails fast while Redis is down and heals itself.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::Mutex;

/// Every Redis call made on behalf of a request gets at most this long:
/// a stopped or frozen Redis must turn into a 503, not a hung request.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// A shared, lazily connected multiplexed connection. The first use connects;
/// the connection manager then reconnects by itself after Redis comes back.
#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    manager: Arc<Mutex<Option<ConnectionManager>>>,
}

impl Redis {
    pub fn new(url: &str) -> Result<Self, RedisError> {
        Ok(Self {
            client: redis::Client::open(url)?,
            manager: Arc::new(Mutex::new(None)),
        })
    }

    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The shared connection, connecting on first use within the timeout.
    pub async fn connection(&self) -> Result<ConnectionManager, RedisError> {
        let mut slot = self.manager.lock().await;
        if let Some(manager) = slot.as_ref() {
            return Ok(manager.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1);
        let manager = tokio::time::timeout(
            REDIS_TIMEOUT,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await
        .map_err(|_| RedisError::Timeout(REDIS_TIMEOUT))??;
        *slot = Some(manager.clone());
        Ok(manager)
    }

    /// Runs one operation with the timeout applied.
    pub async fn run<T, F, Fut>(&self, op: F) -> Result<T, RedisError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let connection = self.connection().await?;
        tokio::time::timeout(REDIS_TIMEOUT, op(connection))
            .await
            .map_err(|_| RedisError::Timeout(REDIS_TIMEOUT))?
            .map_err(RedisError::from)
    }

    /// Readiness: Redis answers PING in time.
    pub async fn ping(&self) -> Result<(), RedisError> {
        self.run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(|_| ())
    }
}
