//! Delivery metrics from the audit log: how often a release reaches full, how often a
//! rollout fails, how long a failure lasts, how long a canary takes to reach full.
//!
//! Only what the log records counts, and [`BASIS`] says what that is: a number that the
//! log cannot give is `None` ("no data"), never a zero that reads like a measurement.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{AuditEntry, Outcome};

/// What the figures are computed from, printed with them.
pub const BASIS: &str =
    "audit log only: a rollout is an ok `rollout.start`, or an `opsbox deploy` \
(`release.deploy`) whose rollout completed, paused or was aborted; it failed when an \
abort (the operator's or the automatic one) or an undo followed it before the next start; it \
reached full at `rollout.promote --full`, the local daemon's `rollout.complete` or a deploy that \
followed its rollout to the end (a cluster's \
Argo Rollouts completes steps by itself without an audit entry, so there only `--full` \
promotions count); time to restore runs from the failed canary's start (or retry) to its abort, \
or from a release reaching full to the end of its undo. Paging alerts are not in the audit log, \
so they are not in the time to restore.";

/// The delivery metrics over one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryMetrics {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Audit entries with a time inside the period.
    pub entries: usize,
    pub rollouts_started: u32,
    /// Rollouts that reached full (100% on the new revision).
    pub deployments: u32,
    /// Deployments a day; `None` when the log holds nothing for the period.
    pub deployments_per_day: Option<f64>,
    /// Started rollouts aborted or undone.
    pub failed_rollouts: u32,
    /// `failed_rollouts / rollouts_started`; `None` without a started rollout.
    pub change_failure_rate: Option<f64>,
    /// Failures whose start and end the log records.
    pub restores: u32,
    pub mean_time_to_restore_secs: Option<u64>,
    /// Rollouts whose start and arrival at full the log records.
    pub canary_to_full_count: u32,
    pub mean_canary_to_full_secs: Option<u64>,
    /// Ok `rollout.undo` entries.
    pub rollbacks: u32,
    pub rollbacks_per_week: Option<f64>,
    /// Ok `rollout.abort` entries, the automatic ones included.
    pub aborts: u32,
    pub basis: &'static str,
}

/// One rollout, from its `rollout.start` to the next.
#[derive(Debug, Default)]
struct Episode {
    /// When the canary last began taking traffic: the start, or the last retry.
    canary_since: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    full_at: Option<DateTime<Utc>>,
    failed: bool,
    /// An undo in progress: the time the failed release reached full, if known.
    undoing: Option<Option<DateTime<Utc>>>,
    undo_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
struct Tally {
    started: u32,
    deployments: u32,
    failed: u32,
    rollbacks: u32,
    aborts: u32,
    restore_secs: Vec<u64>,
    canary_to_full_secs: Vec<u64>,
}

impl Tally {
    /// Closes an episode: an undo never seen to finish ends at the undo itself.
    fn close(&mut self, episode: &mut Episode) {
        if let (Some(Some(full_at)), Some(undo_at)) = (episode.undoing, episode.undo_at) {
            self.restore_secs.push(secs_between(full_at, undo_at));
        }
        *episode = Episode::default();
    }
}

fn secs_between(from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    u64::try_from((to - from).num_seconds()).unwrap_or(0)
}

fn mean(values: &[u64]) -> Option<u64> {
    let count = u64::try_from(values.len()).ok().filter(|&n| n > 0)?;
    Some(values.iter().sum::<u64>() / count)
}

fn is_full_promotion(entry: &AuditEntry) -> bool {
    entry
        .parameters
        .get("full")
        .and_then(serde_json::Value::as_bool)
        == Some(true)
}

/// The metrics of the entries (oldest first) whose time lies in `[since, until]`.
pub fn compute(
    entries: &[AuditEntry],
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> DeliveryMetrics {
    let in_period: Vec<&AuditEntry> = entries
        .iter()
        .filter(|entry| entry.time >= since && entry.time <= until)
        .collect();
    let mut tally = Tally::default();
    let mut episode = Episode::default();
    // A refused verb changed nothing: only what succeeded shapes a rollout. A deploy
    // whose rollout was aborted failed as a command, and is a failed change.
    for entry in in_period
        .iter()
        .filter(|entry| entry.outcome == Outcome::Ok || entry.action == "release.deploy")
    {
        let at = entry.time;
        match entry.action.as_str() {
            "release.deploy" => deploy(&mut tally, &mut episode, entry),
            "rollout.start" => {
                tally.close(&mut episode);
                tally.started += 1;
                episode.started_at = Some(at);
                episode.canary_since = Some(at);
            }
            "rollout.retry" => episode.canary_since = Some(at),
            "rollout.promote" if is_full_promotion(entry) => {
                reach_full(&mut tally, &mut episode, at)
            }
            "rollout.complete" => match episode.undoing.take() {
                Some(failure_began) => {
                    if let Some(full_at) = failure_began {
                        tally.restore_secs.push(secs_between(full_at, at));
                    }
                    episode.undo_at = None;
                }
                None => reach_full(&mut tally, &mut episode, at),
            },
            "rollout.abort" => {
                tally.aborts += 1;
                if let Some(canary_since) = episode.canary_since.take() {
                    mark_failed(&mut tally, &mut episode);
                    tally.restore_secs.push(secs_between(canary_since, at));
                }
            }
            "rollout.undo" => {
                tally.rollbacks += 1;
                if episode.started_at.is_some() {
                    mark_failed(&mut tally, &mut episode);
                }
                episode.undoing = Some(episode.full_at);
                episode.undo_at = Some(at);
                episode.canary_since = None;
            }
            _ => {}
        }
    }
    tally.close(&mut episode);

    let days = (until - since).num_seconds().max(1) as f64 / 86_400.0;
    let any_data = !in_period.is_empty();
    DeliveryMetrics {
        since,
        until,
        entries: in_period.len(),
        rollouts_started: tally.started,
        deployments: tally.deployments,
        deployments_per_day: any_data.then(|| f64::from(tally.deployments) / days),
        failed_rollouts: tally.failed,
        change_failure_rate: (tally.started > 0)
            .then(|| f64::from(tally.failed) / f64::from(tally.started)),
        restores: u32::try_from(tally.restore_secs.len()).unwrap_or(u32::MAX),
        mean_time_to_restore_secs: mean(&tally.restore_secs),
        canary_to_full_count: u32::try_from(tally.canary_to_full_secs.len()).unwrap_or(u32::MAX),
        mean_canary_to_full_secs: mean(&tally.canary_to_full_secs),
        rollbacks: tally.rollbacks,
        rollbacks_per_week: any_data.then(|| f64::from(tally.rollbacks) / days * 7.0),
        aborts: tally.aborts,
        basis: BASIS,
    }
}

/// `opsbox deploy` on a cluster: helm started a rollout, and the deploy followed it
/// until it completed (a deployment), paused at a step (a canary in progress) or was
/// aborted (a failed change, restored at the abort). A deploy that timed out or whose
/// helm failed tells nothing about the rollout.
fn deploy(tally: &mut Tally, episode: &mut Episode, entry: &AuditEntry) {
    let settled = entry
        .parameters
        .get("settled")
        .and_then(serde_json::Value::as_str);
    if !matches!(settled, Some("completed" | "paused" | "degraded")) {
        return;
    }
    let took = entry
        .parameters
        .get("took_secs")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0);
    let began = entry.time - chrono::Duration::seconds(took.max(0));
    tally.close(episode);
    tally.started += 1;
    episode.started_at = Some(began);
    episode.canary_since = Some(began);
    match settled {
        Some("completed") => reach_full(tally, episode, entry.time),
        Some("degraded") => {
            tally.aborts += 1;
            mark_failed(tally, episode);
            episode.canary_since = None;
            tally.restore_secs.push(secs_between(began, entry.time));
        }
        _ => {}
    }
}

fn reach_full(tally: &mut Tally, episode: &mut Episode, at: DateTime<Utc>) {
    let Some(started_at) = episode.started_at else {
        return;
    };
    if episode.full_at.is_some() {
        return;
    }
    episode.full_at = Some(at);
    // The canary is the stable revision now: a later abort has no canary to stop.
    episode.canary_since = None;
    tally.deployments += 1;
    tally.canary_to_full_secs.push(secs_between(started_at, at));
}

/// A rollout counts once as failed, however many aborts and undos it saw.
fn mark_failed(tally: &mut Tally, episode: &mut Episode) {
    if !episode.failed {
        episode.failed = true;
        tally.failed += 1;
    }
}

/// A duration of seconds as the tables print it, or "no data".
pub fn seconds_or_no_data(secs: Option<u64>) -> String {
    secs.map_or_else(
        || "no data".to_owned(),
        |secs| crate::durations::precise(Duration::from_secs(secs)),
    )
}

/// A fraction as a percentage with one decimal, or "no data".
pub fn percent_or_no_data(ratio: Option<f64>) -> String {
    ratio.map_or_else(
        || "no data".to_owned(),
        |ratio| format!("{:.1}%", ratio * 100.0),
    )
}

#[cfg(test)]
mod tests;
