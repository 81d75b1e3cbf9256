//! The rollout as a state machine with no I/O: operator verbs and finished work go in,
//! the next piece of work comes out. The driver runs the work; this decides what it is.
//!
//! Semantics follow `kubectl argo rollouts`: `promote` ends a pause (or skips the
//! current step), `promote --full` skips to 100%, `abort` sends all traffic back to
//! stable and stops the canary, `retry` restarts an aborted rollout from its first
//! step, `undo` makes the previous stable revision the stable one again.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::strategy::Strategy;
use crate::model::{
    AnalysisPhase, AnalysisRun, Revision, RolloutEvent, RolloutPhase, RolloutStatus, RolloutStep,
    MAX_REVISIONS, MAX_ROLLOUT_EVENTS,
};

/// Environment variables the environment sets itself; a revision cannot override them.
const RESERVED_KEYS: [&str; 6] = [
    "OPSBOX_API_ADDR",
    "OPSBOX_TRACK",
    "OPSBOX_RELEASE",
    "OPSBOX_ADMIN_TOKEN",
    "DATABASE_URL",
    "REDIS_URL",
];

/// The longest revision name accepted (it ends up in metric labels).
const MAX_REVISION_NAME: usize = 40;

/// Something for the driver to do; it answers with a [`Finished`].
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    /// Start the canary instances of this revision (replacing leftovers) and wait until ready.
    StartCanary { revision: Revision, replicas: u16 },
    /// Send this percentage to the canary, and start measuring it from here.
    SetWeight(u8),
    /// Wait until then, or until promoted when `None`.
    Pause { until: Option<DateTime<Utc>> },
    /// Judge the canary since the last `SetWeight`.
    Analysis { step_index: usize },
    /// Make `revision` the stable one: its canary takes all traffic while every stable
    /// instance is replaced, then the canary is stopped. Starts the canary first when
    /// it is not running (undo).
    ReplaceStable {
        revision: Revision,
        canary_running: bool,
        replicas: u16,
    },
    /// All traffic to stable, canary instances stopped.
    StopCanary,
}

/// How a piece of [`Work`] ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Finished {
    CanaryStarted,
    WeightSet(u8),
    PauseEnded,
    Analysis(AnalysisRun),
    StableReplaced,
    CanaryStopped,
    /// The work could not be done; the message says why.
    Failed(String),
}

/// A verb refused in the rollout's current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RolloutError {
    #[error("no rollout in progress (stable is {stable}); start one with `opsbox rollout start --revision NAME`")]
    NoRollout { stable: String },
    #[error("the rollout of {revision} is in progress ({phase}); promote it to the end or abort it first")]
    InProgress {
        revision: String,
        phase: &'static str,
    },
    #[error("{0}")]
    Busy(String),
    #[error("{0} is already the stable revision")]
    AlreadyStable(String),
    #[error("revision {name} exists with other settings ({existing}); revisions do not change, choose a new name")]
    RevisionConflict { name: String, existing: String },
    #[error("no revision {name} in the history (known: {known})")]
    UnknownRevision { name: String, known: String },
    #[error("no previous revision to go back to (the history holds only {0})")]
    NoPreviousRevision(String),
    #[error("the rollout is not aborted; only an aborted rollout can be retried")]
    NotAborted,
    #[error("invalid revision: {0}")]
    InvalidRevision(String),
}

impl RolloutError {
    /// Whether the request named something that does not exist (404) rather than
    /// asking at the wrong time (409) or with bad values (422).
    pub fn kind(&self) -> ErrorKind {
        match self {
            RolloutError::UnknownRevision { .. } => ErrorKind::NotFound,
            RolloutError::InvalidRevision(_) => ErrorKind::Invalid,
            _ => ErrorKind::Conflict,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Conflict,
    Invalid,
}

/// What `rollout start` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartRequest {
    pub revision: String,
    /// Empty: reuse the revision's recorded settings, or none for a new revision.
    pub overrides: BTreeMap<String, String>,
}

/// The work in flight that verbs must not interrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Busy {
    Idle,
    /// The canary instances are starting.
    StartingCanary,
    /// Stable instances are being replaced (promotion or undo).
    ReplacingStable,
}

/// The rollout state and the strategy it walks.
#[derive(Debug, Clone)]
pub struct RolloutMachine {
    strategy: Strategy,
    status: RolloutStatus,
    busy: Busy,
}

impl RolloutMachine {
    /// A fresh environment whose stable revision is `stable`.
    pub fn new(strategy: Strategy, stable: Revision, now: DateTime<Utc>) -> Self {
        let status = RolloutStatus {
            name: None,
            choices: Vec::new(),
            stable_revision: stable.name.clone(),
            canary_revision: None,
            phase: RolloutPhase::Healthy,
            aborted: false,
            message: None,
            steps: strategy.steps.clone(),
            current_step_index: None,
            canary_weight: 0,
            set_weight: None,
            pause_until: None,
            analysis_runs: Vec::new(),
            revisions: vec![Revision {
                last_stable_at: Some(now),
                ..stable
            }],
            events: Vec::new(),
            canary_ready: 0,
            canary_replicas: strategy.canary_replicas,
            updated_at: now,
        };
        Self {
            strategy,
            status,
            busy: Busy::Idle,
        }
    }

    /// Resumes from a saved status. A rollout that was under way when the daemon stopped
    /// cannot be: its canary instances are gone. It is shown as aborted, ready to retry.
    pub fn resume(strategy: Strategy, mut saved: RolloutStatus, now: DateTime<Utc>) -> Self {
        saved.steps = strategy.steps.clone();
        saved.canary_replicas = strategy.canary_replicas;
        saved.canary_weight = 0;
        saved.canary_ready = 0;
        saved.pause_until = None;
        if matches!(
            saved.phase,
            RolloutPhase::Progressing | RolloutPhase::Paused
        ) {
            saved.phase = RolloutPhase::Degraded;
            saved.aborted = saved.canary_revision.is_some();
            saved.message = Some(
                "the environment stopped during the rollout; `opsbox rollout retry` starts it again"
                    .to_owned(),
            );
        }
        let mut machine = Self {
            strategy,
            status: saved,
            busy: Busy::Idle,
        };
        machine.event(now, "resume", "rollout state loaded after a restart");
        machine
    }

    pub fn status(&self) -> &RolloutStatus {
        &self.status
    }

    /// The stable revision with its settings.
    pub fn stable(&self) -> Option<&Revision> {
        self.revision(&self.status.stable_revision)
    }

    pub fn revision(&self, name: &str) -> Option<&Revision> {
        self.status
            .revisions
            .iter()
            .find(|revision| revision.name == name)
    }

    fn in_progress(&self) -> bool {
        matches!(
            self.status.phase,
            RolloutPhase::Progressing | RolloutPhase::Paused
        )
    }

    fn refuse_if_in_progress(&self) -> Result<(), RolloutError> {
        if self.busy == Busy::ReplacingStable {
            return Err(RolloutError::Busy(
                "stable instances are being replaced; wait for it to finish".to_owned(),
            ));
        }
        if self.in_progress() {
            return Err(RolloutError::InProgress {
                revision: self.status.canary_revision.clone().unwrap_or_default(),
                phase: self.status.phase.as_str(),
            });
        }
        Ok(())
    }

    /// A verb that acts on a running canary: refused without one, or mid-replacement.
    fn require_canary(&self) -> Result<(), RolloutError> {
        if self.busy == Busy::ReplacingStable {
            return Err(RolloutError::Busy(
                "the canary is being promoted to stable; wait for it to finish".to_owned(),
            ));
        }
        if !self.in_progress() {
            return Err(RolloutError::NoRollout {
                stable: self.status.stable_revision.clone(),
            });
        }
        Ok(())
    }

    pub fn start(
        &mut self,
        request: StartRequest,
        now: DateTime<Utc>,
    ) -> Result<Work, RolloutError> {
        validate_revision(&request)?;
        self.refuse_if_in_progress()?;
        if request.revision == self.status.stable_revision {
            return Err(RolloutError::AlreadyStable(request.revision));
        }
        let revision = match self.revision(&request.revision) {
            Some(existing)
                if !request.overrides.is_empty() && existing.overrides != request.overrides =>
            {
                return Err(RolloutError::RevisionConflict {
                    name: request.revision,
                    existing: describe_overrides(&existing.overrides),
                });
            }
            Some(existing) => existing.clone(),
            None => {
                let revision = Revision {
                    name: request.revision.clone(),
                    overrides: request.overrides,
                    created_at: now,
                    last_stable_at: None,
                };
                self.remember(revision.clone());
                revision
            }
        };
        self.status.canary_revision = Some(revision.name.clone());
        self.begin_canary(now);
        self.event(
            now,
            "start",
            &format!(
                "rollout of {} ({}) started",
                revision.name,
                describe_overrides(&revision.overrides)
            ),
        );
        Ok(self.start_canary_work(revision))
    }

    pub fn retry(&mut self, now: DateTime<Utc>) -> Result<Work, RolloutError> {
        if self.busy == Busy::ReplacingStable || !self.status.aborted {
            return Err(RolloutError::NotAborted);
        }
        let Some(revision) = self
            .status
            .canary_revision
            .as_deref()
            .and_then(|name| self.revision(name))
            .cloned()
        else {
            return Err(RolloutError::NotAborted);
        };
        self.begin_canary(now);
        self.event(
            now,
            "retry",
            &format!("rollout of {} retried", revision.name),
        );
        Ok(self.start_canary_work(revision))
    }

    fn begin_canary(&mut self, now: DateTime<Utc>) {
        let status = &mut self.status;
        status.phase = RolloutPhase::Progressing;
        status.aborted = false;
        status.message = None;
        status.current_step_index = None;
        status.pause_until = None;
        status.analysis_runs.clear();
        status.updated_at = now;
        self.busy = Busy::StartingCanary;
    }

    fn start_canary_work(&self, revision: Revision) -> Work {
        Work::StartCanary {
            revision,
            replicas: self.strategy.canary_replicas,
        }
    }

    /// Ends the current pause, or skips the current step; `full` skips to 100%.
    pub fn promote(&mut self, full: bool, now: DateTime<Utc>) -> Result<Work, RolloutError> {
        self.require_canary()?;
        let Some(index) = self.status.current_step_index else {
            return Err(RolloutError::Busy(
                "the canary instances are still starting; promote once they are ready".to_owned(),
            ));
        };
        self.close_running_analysis(now, "skipped by promote");
        self.status.phase = RolloutPhase::Progressing;
        self.status.pause_until = None;
        self.status.message = None;
        let next = if full {
            self.strategy.steps.len()
        } else {
            index + 1
        };
        let what = if full {
            "promoted to 100%".to_owned()
        } else {
            format!("promoted past step {}", index + 1)
        };
        self.event(now, "promote", &what);
        Ok(self.enter_step(next, now))
    }

    /// Sends all traffic back to stable and stops the canary; `reason` is shown as the message.
    pub fn abort(&mut self, reason: &str, now: DateTime<Utc>) -> Result<Work, RolloutError> {
        self.require_canary()?;
        self.close_running_analysis(now, "rollout aborted");
        self.degrade(reason, now);
        Ok(Work::StopCanary)
    }

    fn degrade(&mut self, reason: &str, now: DateTime<Utc>) {
        self.status.phase = RolloutPhase::Degraded;
        self.status.aborted = true;
        self.status.message = Some(reason.to_owned());
        self.status.pause_until = None;
        self.status.updated_at = now;
        self.busy = Busy::Idle;
        self.event(now, "abort", reason);
    }

    /// Makes the previous stable revision (or `to`) the stable one again.
    pub fn undo(&mut self, to: Option<&str>, now: DateTime<Utc>) -> Result<Work, RolloutError> {
        self.refuse_if_in_progress()?;
        let target = match to {
            Some(name) => {
                self.revision(name)
                    .cloned()
                    .ok_or_else(|| RolloutError::UnknownRevision {
                        name: name.to_owned(),
                        known: self.known_revisions(),
                    })?
            }
            None => self
                .status
                .revisions
                .iter()
                .filter(|revision| revision.name != self.status.stable_revision)
                .filter(|revision| revision.last_stable_at.is_some())
                .max_by_key(|revision| revision.last_stable_at)
                .cloned()
                .ok_or_else(|| RolloutError::NoPreviousRevision(self.known_revisions()))?,
        };
        if target.name == self.status.stable_revision {
            return Err(RolloutError::AlreadyStable(target.name));
        }
        let status = &mut self.status;
        status.phase = RolloutPhase::Progressing;
        status.aborted = false;
        status.canary_revision = Some(target.name.clone());
        status.current_step_index = None;
        status.analysis_runs.clear();
        status.message = Some(format!(
            "rolling back from {} to {}",
            status.stable_revision, target.name
        ));
        status.updated_at = now;
        self.busy = Busy::ReplacingStable;
        let message = format!(
            "undo: {} becomes stable again (was {})",
            target.name, self.status.stable_revision
        );
        self.event(now, "undo", &message);
        Ok(Work::ReplaceStable {
            revision: target,
            canary_running: false,
            replicas: self.strategy.canary_replicas,
        })
    }

    /// Records how a piece of work ended and returns the next one, if any.
    pub fn finished(&mut self, finished: Finished, now: DateTime<Utc>) -> Option<Work> {
        self.status.updated_at = now;
        match finished {
            Finished::CanaryStarted => {
                self.busy = Busy::Idle;
                self.status.canary_ready = self.strategy.canary_replicas;
                Some(self.enter_step(0, now))
            }
            Finished::WeightSet(weight) => {
                self.status.canary_weight = weight;
                self.event(now, "step", &format!("canary weight set to {weight}%"));
                let next = self.status.current_step_index.map_or(0, |index| index + 1);
                Some(self.enter_step(next, now))
            }
            Finished::PauseEnded => {
                self.status.phase = RolloutPhase::Progressing;
                self.status.pause_until = None;
                self.status.message = None;
                let next = self.status.current_step_index.map_or(0, |index| index + 1);
                Some(self.enter_step(next, now))
            }
            Finished::Analysis(run) => self.analysis_finished(run, now),
            Finished::StableReplaced => {
                self.complete(now);
                None
            }
            Finished::CanaryStopped => {
                self.status.canary_weight = 0;
                self.status.canary_ready = 0;
                None
            }
            Finished::Failed(reason) => self.work_failed(&reason, now),
        }
    }

    fn analysis_finished(&mut self, run: AnalysisRun, now: DateTime<Utc>) -> Option<Work> {
        let step = run.step_index;
        let phase = run.phase;
        let message = run.message.clone().unwrap_or_default();
        match self.status.analysis_runs.last_mut() {
            Some(last) if last.step_index == step && last.phase == AnalysisPhase::Running => {
                *last = run;
            }
            _ => self.status.analysis_runs.push(run),
        }
        match phase {
            AnalysisPhase::Successful | AnalysisPhase::Running => {
                self.event(
                    now,
                    "analysis",
                    &format!("analysis at step {} passed", step + 1),
                );
                Some(self.enter_step(step + 1, now))
            }
            AnalysisPhase::Failed => {
                let reason = format!("analysis failed at step {}: {message}", step + 1);
                self.degrade(&reason, now);
                Some(Work::StopCanary)
            }
            AnalysisPhase::Inconclusive => {
                self.status.phase = RolloutPhase::Paused;
                self.status.message = Some(format!(
                    "analysis inconclusive at step {}: {message}; promote to continue or abort",
                    step + 1
                ));
                self.event(now, "pause", "analysis inconclusive");
                None
            }
        }
    }

    fn work_failed(&mut self, reason: &str, now: DateTime<Utc>) -> Option<Work> {
        match self.busy {
            Busy::ReplacingStable => {
                self.busy = Busy::Idle;
                self.status.phase = RolloutPhase::Degraded;
                self.status.message =
                    Some(format!("replacing the stable instances failed: {reason}"));
                self.event(now, "error", reason);
                None
            }
            Busy::StartingCanary | Busy::Idle if self.in_progress() => {
                self.close_running_analysis(now, reason);
                self.degrade(&format!("rollout aborted: {reason}"), now);
                Some(Work::StopCanary)
            }
            Busy::StartingCanary | Busy::Idle => {
                self.status.message = Some(reason.to_owned());
                self.event(now, "error", reason);
                None
            }
        }
    }

    /// Moves to step `index` and returns its work; past the last step, the promotion.
    fn enter_step(&mut self, index: usize, now: DateTime<Utc>) -> Work {
        self.status.current_step_index = Some(index);
        let Some(step) = self.strategy.steps.get(index).cloned() else {
            return self.promote_to_stable(now);
        };
        match step {
            RolloutStep::SetWeight(weight) => Work::SetWeight(weight),
            RolloutStep::Pause(ref pause) => {
                let until = self
                    .strategy
                    .pause_duration(pause)
                    .map(|duration| now + duration);
                self.status.phase = RolloutPhase::Paused;
                self.status.pause_until = until;
                self.status.message = Some(match until {
                    Some(_) => format!("paused at step {} for {}", index + 1, step),
                    None => format!("paused at step {} until promoted", index + 1),
                });
                Work::Pause { until }
            }
            RolloutStep::Analysis(_) => {
                self.status.analysis_runs.push(AnalysisRun {
                    step_index: index,
                    started_at: now,
                    finished_at: None,
                    phase: AnalysisPhase::Running,
                    measurements: Vec::new(),
                    message: None,
                });
                Work::Analysis { step_index: index }
            }
            // The strategy refuses these when it is read; should one get here, the
            // rollout waits for a person rather than guessing what the step meant.
            RolloutStep::Other(kind) => {
                self.status.phase = RolloutPhase::Paused;
                self.status.pause_until = None;
                self.status.message = Some(format!(
                    "paused at step {}: {kind} is not run here; promote to skip it",
                    index + 1
                ));
                Work::Pause { until: None }
            }
        }
    }

    fn promote_to_stable(&mut self, now: DateTime<Utc>) -> Work {
        self.status.current_step_index = Some(self.strategy.steps.len());
        self.status.phase = RolloutPhase::Progressing;
        self.status.message =
            Some("the canary takes all traffic while stable instances are replaced".to_owned());
        self.busy = Busy::ReplacingStable;
        let revision = self
            .status
            .canary_revision
            .as_deref()
            .and_then(|name| self.revision(name))
            .cloned()
            .unwrap_or_else(|| Revision {
                name: self.status.canary_revision.clone().unwrap_or_default(),
                overrides: BTreeMap::new(),
                created_at: now,
                last_stable_at: None,
            });
        self.event(
            now,
            "step",
            &format!("promoting {} to stable", revision.name),
        );
        Work::ReplaceStable {
            revision,
            canary_running: true,
            replicas: self.strategy.canary_replicas,
        }
    }

    fn complete(&mut self, now: DateTime<Utc>) {
        self.busy = Busy::Idle;
        let Some(new_stable) = self.status.canary_revision.take() else {
            return;
        };
        let previous = std::mem::replace(&mut self.status.stable_revision, new_stable.clone());
        if let Some(revision) = self
            .status
            .revisions
            .iter_mut()
            .find(|revision| revision.name == new_stable)
        {
            revision.last_stable_at = Some(now);
        }
        let status = &mut self.status;
        status.phase = RolloutPhase::Healthy;
        status.aborted = false;
        status.message = None;
        status.canary_weight = 0;
        status.canary_ready = 0;
        status.pause_until = None;
        self.event(
            now,
            "complete",
            &format!("{new_stable} is stable (was {previous})"),
        );
    }

    fn close_running_analysis(&mut self, now: DateTime<Utc>, why: &str) {
        if let Some(run) = self
            .status
            .analysis_runs
            .last_mut()
            .filter(|run| run.phase == AnalysisPhase::Running)
        {
            run.phase = AnalysisPhase::Inconclusive;
            run.finished_at = Some(now);
            run.message = Some(why.to_owned());
        }
    }

    /// Adds a revision, dropping the oldest ones beyond [`MAX_REVISIONS`] (never the stable one).
    fn remember(&mut self, revision: Revision) {
        let revisions = &mut self.status.revisions;
        revisions.push(revision);
        while revisions.len() > MAX_REVISIONS {
            let stable = &self.status.stable_revision;
            match revisions.iter().position(|old| &old.name != stable) {
                Some(oldest) => {
                    revisions.remove(oldest);
                }
                None => break,
            }
        }
    }

    fn known_revisions(&self) -> String {
        self.status
            .revisions
            .iter()
            .map(|revision| revision.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn event(&mut self, now: DateTime<Utc>, kind: &str, message: &str) {
        let events = &mut self.status.events;
        if events.len() == MAX_ROLLOUT_EVENTS {
            events.remove(0);
        }
        events.push(RolloutEvent {
            at: now,
            kind: kind.to_owned(),
            message: message.to_owned(),
        });
    }
}

fn validate_revision(request: &StartRequest) -> Result<(), RolloutError> {
    let name = &request.revision;
    let valid_name = !name.is_empty()
        && name.len() <= MAX_REVISION_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !valid_name {
        return Err(RolloutError::InvalidRevision(format!(
            "name {name:?} must be 1-{MAX_REVISION_NAME} letters, digits, '.', '-' or '_'"
        )));
    }
    for key in request.overrides.keys() {
        let valid_key = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
            && key
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !valid_key {
            return Err(RolloutError::InvalidRevision(format!(
                "{key:?} is not an environment variable name (A-Z, 0-9, _)"
            )));
        }
        if RESERVED_KEYS.contains(&key.as_str()) {
            return Err(RolloutError::InvalidRevision(format!(
                "{key} is set by the environment itself and cannot be overridden"
            )));
        }
    }
    Ok(())
}

fn describe_overrides(overrides: &BTreeMap<String, String>) -> String {
    if overrides.is_empty() {
        return "no overrides".to_owned();
    }
    overrides
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
