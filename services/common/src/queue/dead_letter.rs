//! The dead letter: jobs that used up their attempts, and how they are read,
//! requeued or discarded.

use uuid::Uuid;

use super::scripts::{DEAD_LETTER, REQUEUE_DEAD};
use super::{now_ms, Job, JobQueue};
use crate::redis_conn::RedisError;

impl JobQueue {
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

    /// The newest `limit` dead-lettered jobs.
    pub async fn dead_jobs(&self, limit: usize) -> Result<Vec<Job>, RedisError> {
        let raw = self.dead_entries(limit).await?;
        Ok(raw.iter().filter_map(|r| Job::decode(r).ok()).collect())
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
}
