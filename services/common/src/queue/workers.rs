//! Worker liveness on the queue: heartbeats, reaping the jobs of silent
//! workers, and the lock that lets one worker of many run a chore.

use std::time::Duration;

use super::scripts::REAP_DEAD_WORKERS;
use super::{now_ms, JobQueue};
use crate::redis_conn::RedisError;

impl JobQueue {
    /// Records that `worker` is alive.
    pub async fn heartbeat(&self, worker: &str) -> Result<(), RedisError> {
        let (workers, worker) = (self.keys.workers(), worker.to_owned());
        self.redis
            .run(|mut c| async move {
                redis::cmd("ZADD")
                    .arg(workers)
                    .arg(now_ms())
                    .arg(worker)
                    .query_async::<i64>(&mut c)
                    .await
            })
            .await
            .map(|_| ())
    }

    /// Removes `worker` from the heartbeat set (clean exit).
    pub async fn deregister(&self, worker: &str) -> Result<(), RedisError> {
        let (workers, worker) = (self.keys.workers(), worker.to_owned());
        self.redis
            .run(|mut c| async move {
                redis::cmd("ZREM")
                    .arg(workers)
                    .arg(worker)
                    .query_async::<i64>(&mut c)
                    .await
            })
            .await
            .map(|_| ())
    }

    /// Returns the jobs of workers silent for longer than `timeout` to the
    /// ready list; the count of jobs moved.
    pub async fn reap_dead_workers(&self, timeout: Duration) -> Result<u64, RedisError> {
        let cutoff = now_ms() - i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        let keys = vec![self.keys.workers(), self.keys.ready()];
        let args = vec![cutoff.to_string(), self.keys.prefix().to_owned()];
        self.eval(REAP_DEAD_WORKERS, keys, args).await
    }

    /// Takes a short-lived lock so that one worker of many runs a periodic
    /// chore (reaping, reconciling); true when this caller holds it.
    pub async fn try_lock(
        &self,
        name: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, RedisError> {
        let (key, owner) = (self.keys.lock(name), owner.to_owned());
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.redis
            .run(|mut c| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(owner)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async::<Option<String>>(&mut c)
                    .await
            })
            .await
            .map(|reply| reply.is_some())
    }
}
