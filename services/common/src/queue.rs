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

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use redis::aio::MultiplexedConnection;
use redis::{FromRedisValue, Script};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::TaskKind;
use crate::redis_conn::{Redis, RedisError};

/// One delivery of a task run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub task_id: Uuid,
    /// The run this delivery belongs to; a stale run's job is dropped.
    pub run_id: Uuid,
    pub kind: TaskKind,
    /// Attempts already made for this run.
    pub attempt: u32,
    /// When the job became ready (ms since the epoch): queue wait starts here.
    pub ready_at_ms: i64,
    /// W3C trace context of the request that queued the run, so the worker's
    /// span continues the API's trace.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub trace: HashMap<String, String>,
    /// The last attempt's error, kept for the dead-letter browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the job was dead-lettered (ms since the epoch), stamped by
    /// [`JobQueue::dead_letter`] for the dead-letter browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_at_ms: Option<i64>,
}

impl Job {
    pub fn new(
        task_id: Uuid,
        run_id: Uuid,
        kind: TaskKind,
        trace: HashMap<String, String>,
    ) -> Self {
        Self {
            task_id,
            run_id,
            kind,
            attempt: 0,
            ready_at_ms: now_ms(),
            trace,
            last_error: None,
            dead_at_ms: None,
        }
    }

    pub fn encode(&self) -> String {
        // Serialising plain fields cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn decode(raw: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(raw)
    }
}

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Where the queue's keys live.
#[derive(Debug, Clone)]
pub struct QueueKeys {
    prefix: String,
}

impl QueueKeys {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
    pub fn ready(&self) -> String {
        format!("{}:queue:ready", self.prefix)
    }
    pub fn delayed(&self) -> String {
        format!("{}:queue:delayed", self.prefix)
    }
    pub fn dead(&self) -> String {
        format!("{}:queue:dead", self.prefix)
    }
    pub fn processing(&self, worker: &str) -> String {
        format!("{}:queue:processing:{worker}", self.prefix)
    }
    pub fn workers(&self) -> String {
        format!("{}:workers", self.prefix)
    }
    pub fn live(&self) -> String {
        format!("{}:jobs:live", self.prefix)
    }
    pub fn lock(&self, name: &str) -> String {
        format!("{}:lock:{name}", self.prefix)
    }
}

/// Depth of each part of the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueDepth {
    pub ready: u64,
    pub delayed: u64,
    pub processing: u64,
    pub dead: u64,
}

const ENQUEUE: &str = r"
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return redis.call('LPUSH', KEYS[1], ARGV[2])
";

// Removes the held job and forgets the live delivery only if it is still this
// one: a newer delivery of the same task must stay visible to the reconciler.
const ACK: &str = r"
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
if redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[1] then
  redis.call('HDEL', KEYS[2], ARGV[2])
end
return removed
";

const RETRY_LATER: &str = r"
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[4], ARGV[2])
return removed
";

const DEAD_LETTER: &str = r"
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
redis.call('LPUSH', KEYS[2], ARGV[2])
if redis.call('HGET', KEYS[3], ARGV[3]) == ARGV[1] then
  redis.call('HDEL', KEYS[3], ARGV[3])
end
return removed
";

// The dead entry goes away and the fresh delivery becomes ready in one step,
// so a requeue can neither lose the job nor run it twice. The fresh job is
// enqueued even when the dead entry was already gone: the caller owns the new
// run (its guarded database update won), and that run needs a delivery.
const REQUEUE_DEAD: &str = r"
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('LPUSH', KEYS[2], ARGV[3])
return removed
";

// Pushed on the consumer's end so a released job is the next one taken.
const RELEASE: &str = r"
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
if removed > 0 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
end
return removed
";

const PROMOTE_DUE: &str = r"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, job in ipairs(due) do
  redis.call('ZREM', KEYS[1], job)
  redis.call('LPUSH', KEYS[2], job)
end
return #due
";

// Processing-list names are derived inside the script from the worker ids it
// finds: the set of dead workers is only known at run time. Fine on a single
// Redis, which is what OpsBox runs.
const REAP_DEAD_WORKERS: &str = r"
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local moved = 0
for _, worker in ipairs(dead) do
  local held = ARGV[2] .. ':queue:processing:' .. worker
  while redis.call('LMOVE', held, KEYS[2], 'LEFT', 'RIGHT') do
    moved = moved + 1
  end
  redis.call('ZREM', KEYS[1], worker)
end
return moved
";

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

    /// Moves a job that used up its attempts to the dead letter, stamped
    /// with the time it got there.
    pub async fn dead_letter(&self, worker: &str, raw: &str, dead: &Job) -> Result<(), RedisError> {
        let keys = vec![
            self.keys.processing(worker),
            self.keys.dead(),
            self.keys.live(),
        ];
        let stamped = Job {
            dead_at_ms: dead.dead_at_ms.or_else(|| Some(now_ms())),
            ..dead.clone()
        };
        let args = vec![raw.to_owned(), stamped.encode(), dead.task_id.to_string()];
        self.eval::<i64>(DEAD_LETTER, keys, args).await.map(|_| ())
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

    /// The newest `limit` dead-lettered jobs.
    pub async fn dead_jobs(&self, limit: usize) -> Result<Vec<Job>, RedisError> {
        let raw = self.dead_entries(limit).await?;
        Ok(raw.iter().filter_map(|r| Job::decode(r).ok()).collect())
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

    /// The newest `limit` dead entries as stored, newest first: what a
    /// requeue needs to remove exactly the entry it read.
    pub async fn dead_entries(&self, limit: usize) -> Result<Vec<String>, RedisError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let dead = self.keys.dead();
        let stop = i64::try_from(limit).unwrap_or(i64::MAX).saturating_sub(1);
        self.redis
            .run(|mut c| async move {
                redis::cmd("LRANGE")
                    .arg(dead)
                    .arg(0)
                    .arg(stop)
                    .query_async(&mut c)
                    .await
            })
            .await
    }

    /// The dead entry of `task_id` (the newest one, if it died more than
    /// once), read page by page so a long dead letter is never loaded whole.
    pub async fn find_dead(&self, task_id: Uuid) -> Result<Option<(String, Job)>, RedisError> {
        const PAGE: i64 = 500;
        let mut start = 0i64;
        loop {
            let dead = self.keys.dead();
            let page: Vec<String> = self
                .redis
                .run(|mut c| async move {
                    redis::cmd("LRANGE")
                        .arg(dead)
                        .arg(start)
                        .arg(start + PAGE - 1)
                        .query_async(&mut c)
                        .await
                })
                .await?;
            let found = page.iter().find_map(|raw| {
                Job::decode(raw)
                    .ok()
                    .filter(|job| job.task_id == task_id)
                    .map(|job| (raw.clone(), job))
            });
            if found.is_some() || i64::try_from(page.len()).unwrap_or(0) < PAGE {
                return Ok(found);
            }
            start += PAGE;
        }
    }

    /// Replaces the dead entry `dead_raw` with `fresh`, a new delivery of
    /// the task, made ready at once. True when the dead entry was still
    /// there; `fresh` is enqueued either way (see the script).
    pub async fn requeue_dead(&self, dead_raw: &str, fresh: &Job) -> Result<bool, RedisError> {
        let keys = vec![self.keys.dead(), self.keys.ready(), self.keys.live()];
        let args = vec![
            dead_raw.to_owned(),
            fresh.task_id.to_string(),
            fresh.encode(),
        ];
        self.eval::<i64>(REQUEUE_DEAD, keys, args)
            .await
            .map(|removed| removed > 0)
    }

    /// Removes one dead entry that can never run again (its task was
    /// re-run or deleted); true when it was there.
    pub async fn discard_dead(&self, dead_raw: &str) -> Result<bool, RedisError> {
        let (dead, raw) = (self.keys.dead(), dead_raw.to_owned());
        self.redis
            .run(|mut c| async move {
                redis::cmd("LREM")
                    .arg(dead)
                    .arg(1)
                    .arg(raw)
                    .query_async::<i64>(&mut c)
                    .await
            })
            .await
            .map(|removed| removed > 0)
    }

    /// Runs one of the scripts above, bounded like every other call. Keys
    /// and arguments travel as strings, which is all Redis ever receives.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_without_a_dead_time_still_decodes_and_the_stamp_round_trips() {
        let job = Job::new(Uuid::new_v4(), Uuid::new_v4(), TaskKind::Io, HashMap::new());
        let raw = job.encode();
        assert!(
            !raw.contains("dead_at_ms"),
            "absent stamps are not written: {raw}"
        );
        assert_eq!(Job::decode(&raw).expect("decodes"), job);

        let dead = Job {
            dead_at_ms: Some(1_700_000_000_000),
            last_error: Some("boom".to_owned()),
            ..job
        };
        let decoded = Job::decode(&dead.encode()).expect("decodes");
        assert_eq!(decoded.dead_at_ms, Some(1_700_000_000_000));
        assert_eq!(decoded, dead);
    }
}
