//! The job queue protocol on Redis: a reliable queue with per-worker
//! processing lists, delayed retries, a dead letter, worker heartbeats and a
//! reaper. A job is only a delivery of a task; the task row is the truth.
//!
//! Keys under a prefix (default `opsbox`):
//! - `P:queue:ready` list: producers LPUSH, consumers BLMOVE from the right;
//! - `P:queue:processing:W` list: jobs worker W holds;
//! - `P:queue:delayed` sorted set: retries waiting for their backoff (score: due ms);
//! - `P:queue:dead` list: jobs that used up their attempts;
//! - `P:workers` sorted set: worker heartbeats (score: last beat ms);
//! - `P:jobs:live` hash: task id → its current delivery, so the reconciler
//!   can tell a task whose job was lost (a Redis wipe) from one still queued.

mod admin_view;
mod dead_letter;
mod job;
mod keys;
mod requeue;
mod scripts;
mod workers;

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{FromRedisValue, Script};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::redis_conn::{Redis, RedisError};
use scripts::{ACK, ENQUEUE, PROMOTE_DUE, RELEASE, RETRY_LATER};

pub use admin_view::{
    DeadLetter, DeadLetters, DiscardedLetter, QueueSnapshot, RequeueReport, RequeueRequest,
};
pub use job::{now_ms, Job};
pub use keys::QueueKeys;
pub use requeue::{requeue, RequeueError, RequeueTarget, MAX_REQUEUE_ALL};

/// Depth of each part of the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueDepth {
    pub ready: u64,
    /// Retries waiting for their backoff to end.
    pub delayed: u64,
    /// Held by workers.
    pub processing: u64,
    /// Dead-lettered: used up their attempts.
    pub dead: u64,
}

/// The queue operations, each bounded by the Redis timeout.
#[derive(Clone)]
pub struct JobQueue {
    keys: QueueKeys,
    redis: Redis,
}

impl JobQueue {
    pub fn new(redis: Redis, keys: QueueKeys) -> Self {
        Self { keys, redis }
    }

    pub fn keys(&self) -> &QueueKeys {
        &self.keys
    }

    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    /// Makes a job ready and records it as the task's live delivery.
    pub async fn enqueue(&self, job: &Job) -> Result<(), RedisError> {
        let keys = vec![self.keys.ready(), self.keys.live()];
        let args = vec![job.task_id.to_string(), job.encode()];
        self.eval::<i64>(ENQUEUE, keys, args).await.map(|_| ())
    }

    /// Waits up to `wait` for a job and moves it atomically into the worker's
    /// processing list. Runs on the worker's own connection because a
    /// blocking command would stall every other user of a shared one.
    pub async fn take(
        &self,
        connection: &mut MultiplexedConnection,
        worker: &str,
        wait: Duration,
    ) -> Result<Option<String>, RedisError> {
        let command = redis::cmd("BLMOVE")
            .arg(self.keys.ready())
            .arg(self.keys.processing(worker))
            .arg("RIGHT")
            .arg("LEFT")
            .arg(wait.as_secs_f64())
            .to_owned();
        let deadline = wait + crate::redis_conn::REDIS_TIMEOUT;
        tokio::time::timeout(deadline, command.query_async::<Option<String>>(connection))
            .await
            .map_err(|_| RedisError::Timeout(deadline))?
            .map_err(RedisError::from)
    }

    /// The job is finished (done, or dropped as stale): forget it.
    pub async fn ack(&self, worker: &str, raw: &str, task_id: Uuid) -> Result<(), RedisError> {
        let keys = vec![self.keys.processing(worker), self.keys.live()];
        let args = vec![raw.to_owned(), task_id.to_string()];
        self.eval::<i64>(ACK, keys, args).await.map(|_| ())
    }

    /// Schedules the next attempt after `backoff`.
    pub async fn retry_later(
        &self,
        worker: &str,
        raw: &str,
        next: &Job,
        due_ms: i64,
    ) -> Result<(), RedisError> {
        let keys = vec![
            self.keys.processing(worker),
            self.keys.delayed(),
            self.keys.live(),
        ];
        let args = vec![
            raw.to_owned(),
            next.encode(),
            due_ms.to_string(),
            next.task_id.to_string(),
        ];
        self.eval::<i64>(RETRY_LATER, keys, args).await.map(|_| ())
    }

    /// Gives a held job back to the queue (graceful shutdown).
    pub async fn release(&self, worker: &str, raw: &str) -> Result<bool, RedisError> {
        let keys = vec![self.keys.processing(worker), self.keys.ready()];
        self.eval::<i64>(RELEASE, keys, vec![raw.to_owned()])
            .await
            .map(|n| n > 0)
    }

    /// Moves retries whose backoff has elapsed to the ready list.
    pub async fn promote_due(&self, limit: u32) -> Result<u64, RedisError> {
        let keys = vec![self.keys.delayed(), self.keys.ready()];
        let args = vec![now_ms().to_string(), limit.to_string()];
        self.eval(PROMOTE_DUE, keys, args).await
    }

    /// Which of `task_ids` have no live delivery (queued, delayed or held).
    pub async fn without_live_job(&self, task_ids: &[Uuid]) -> Result<Vec<Uuid>, RedisError> {
        if task_ids.is_empty() {
            return Ok(Vec::new());
        }
        let live = self.keys.live();
        let fields: Vec<String> = task_ids.iter().map(Uuid::to_string).collect();
        let present: Vec<bool> = self
            .redis
            .run(|mut c| async move {
                let mut pipe = redis::pipe();
                for field in &fields {
                    pipe.cmd("HEXISTS").arg(&live).arg(field);
                }
                pipe.query_async::<Vec<bool>>(&mut c).await
            })
            .await?;
        Ok(task_ids
            .iter()
            .zip(present)
            .filter(|(_, live)| !live)
            .map(|(id, _)| *id)
            .collect())
    }

    /// Depth of every part of the queue.
    pub async fn depth(&self) -> Result<QueueDepth, RedisError> {
        let keys = self.keys.clone();
        self.redis
            .run(|mut c| async move {
                let workers: Vec<String> = redis::cmd("ZRANGE")
                    .arg(keys.workers())
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut c)
                    .await?;
                let mut pipe = redis::pipe();
                pipe.cmd("LLEN").arg(keys.ready());
                pipe.cmd("ZCARD").arg(keys.delayed());
                pipe.cmd("LLEN").arg(keys.dead());
                for worker in &workers {
                    pipe.cmd("LLEN").arg(keys.processing(worker));
                }
                let counts: Vec<u64> = pipe.query_async(&mut c).await?;
                Ok(QueueDepth {
                    ready: counts.first().copied().unwrap_or(0),
                    delayed: counts.get(1).copied().unwrap_or(0),
                    dead: counts.get(2).copied().unwrap_or(0),
                    processing: counts.iter().skip(3).sum(),
                })
            })
            .await
    }

    /// The job a consumer takes next: the oldest ready one (consumers take
    /// from the right end of the ready list).
    pub async fn oldest_ready(&self) -> Result<Option<Job>, RedisError> {
        let ready = self.keys.ready();
        let raw: Option<String> = self
            .redis
            .run(|mut c| async move {
                redis::cmd("LINDEX")
                    .arg(ready)
                    .arg(-1)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(raw.and_then(|raw| Job::decode(&raw).ok()))
    }

    /// Runs one of the Lua scripts of `scripts.rs`, bounded like every other
    /// call. Keys and arguments travel as strings, which is all Redis ever
    /// receives.
    async fn eval<T: FromRedisValue>(
        &self,
        script: &'static str,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<T, RedisError> {
        self.redis
            .run(|mut c| async move {
                let script = Script::new(script);
                script.key(keys).arg(args).invoke_async(&mut c).await
            })
            .await
    }
}
