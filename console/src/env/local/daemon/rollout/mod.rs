//! Canary rollouts of the API in the local environment, as Argo Rollouts does them.
//!
//! [`machine`] decides (no I/O), [`effects`] acts (supervisor, router, analysis), and the
//! driver here connects them: one task owns the machine, takes operator verbs from a
//! bounded channel, runs one piece of work at a time, and publishes every change
//! (watch channel for status, `rollout.json` in the state dir for the next daemon).

mod analysis;
mod effects;
mod machine;
mod routes;
mod strategy;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::super::daemon_record;
use super::super::state_dir::StateDir;
use super::state::DaemonState;
use crate::audit::{AuditEntry, AuditLog, Outcome};
use crate::model::{Revision, RolloutStatus};
use crate::slo::SloSpec;

pub use machine::{RolloutError, StartRequest};
pub use routes::routes;
pub use strategy::Strategy;

use effects::Effects;
use machine::{Finished, RolloutMachine, Work};

/// Verbs waiting for the driver; a caller waits when this many are queued.
const VERB_QUEUE: usize = 16;

/// An operator verb.
#[derive(Debug)]
pub enum Verb {
    Start(StartRequest),
    Promote { full: bool },
    Abort,
    Retry,
    Undo { to: Option<String> },
}

struct Request {
    verb: Verb,
    reply: oneshot::Sender<Result<RolloutStatus, RolloutError>>,
}

/// The handle the control endpoint holds.
pub struct RolloutController {
    verbs: mpsc::Sender<Request>,
    status: watch::Receiver<RolloutStatus>,
}

/// Loads the strategy and the saved rollout state; its stable revision is what `up` starts.
pub fn prepare(state_dir: &StateDir) -> anyhow::Result<RolloutMachine> {
    let strategy = Strategy::load()?;
    let now = Utc::now();
    let saved: Option<RolloutStatus> = match daemon_record::read(&state_dir.rollout_state()) {
        Ok(saved) => saved,
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "ignoring an unreadable rollout state");
            None
        }
    };
    Ok(match saved {
        Some(saved) => RolloutMachine::resume(strategy, saved, now),
        None => RolloutMachine::new(
            strategy,
            Revision {
                name: super::stack::INITIAL_REVISION.to_owned(),
                overrides: Default::default(),
                created_at: now,
                last_stable_at: None,
            },
            now,
        ),
    })
}

impl RolloutController {
    /// Starts the driver on the current runtime; it ends with `shutdown`.
    pub fn spawn(
        machine: RolloutMachine,
        state: Arc<DaemonState>,
        spec: &SloSpec,
    ) -> anyhow::Result<Self> {
        let effects = Arc::new(Effects::new(
            state.clone(),
            analysis::CanaryAnalysis::new(spec)?,
        ));
        let (verbs, incoming) = mpsc::channel(VERB_QUEUE);
        let (publish, status) = watch::channel(machine.status().clone());
        let driver = Driver {
            machine,
            effects,
            publish,
            state_dir: state.state_dir.clone(),
            audit: AuditLog::new(state.state_dir.audit_log()),
        };
        tokio::spawn(driver.run(incoming, state.shutdown.clone()));
        Ok(Self { verbs, status })
    }

    pub fn status(&self) -> RolloutStatus {
        self.status.borrow().clone()
    }

    /// Hands a verb to the driver and returns the status right after it took effect.
    pub async fn request(&self, verb: Verb) -> Result<RolloutStatus, RolloutError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || RolloutError::Busy("the environment is stopping".to_owned());
        self.verbs
            .send(Request { verb, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

type WorkFuture = Pin<Box<dyn Future<Output = Finished> + Send>>;

struct Driver {
    machine: RolloutMachine,
    effects: Arc<Effects>,
    publish: watch::Sender<RolloutStatus>,
    state_dir: StateDir,
    audit: AuditLog,
}

enum Event {
    Verb(Request),
    Finished(Finished),
    Stop,
}

impl Driver {
    async fn run(mut self, mut verbs: mpsc::Receiver<Request>, shutdown: CancellationToken) {
        let mut work: Option<WorkFuture> = None;
        self.save();
        loop {
            let event = tokio::select! {
                request = verbs.recv() => request.map_or(Event::Stop, Event::Verb),
                finished = in_flight(&mut work) => Event::Finished(finished),
                () = shutdown.cancelled() => Event::Stop,
            };
            match event {
                Event::Stop => return,
                Event::Verb(Request { verb, reply }) => {
                    let outcome = self.apply(verb);
                    match outcome {
                        Ok(next) => {
                            // A verb's work replaces whatever was in flight (a pause, a
                            // measurement): that is what promote and abort mean.
                            work = Some(self.start(next));
                            self.save();
                            let _ = reply.send(Ok(self.machine.status().clone()));
                        }
                        Err(error) => {
                            let _ = reply.send(Err(error));
                        }
                    }
                }
                Event::Finished(finished) => {
                    work = None;
                    let was_aborted = self.machine.status().aborted;
                    let stable_before = self.machine.status().stable_revision.clone();
                    if let Some(next) = self.machine.finished(finished, Utc::now()) {
                        work = Some(self.start(next));
                    }
                    if !was_aborted && self.machine.status().aborted {
                        self.audit_automatic_abort();
                    }
                    if self.machine.status().stable_revision != stable_before {
                        self.audit_completion(&stable_before);
                    }
                    self.save();
                }
            }
        }
    }

    fn apply(&mut self, verb: Verb) -> Result<Work, RolloutError> {
        let now = Utc::now();
        match verb {
            Verb::Start(request) => self.machine.start(request, now),
            Verb::Promote { full } => self.machine.promote(full, now),
            Verb::Abort => self.machine.abort(
                "rollout aborted by the operator; all traffic is back on stable",
                now,
            ),
            Verb::Retry => self.machine.retry(now),
            Verb::Undo { to } => self.machine.undo(to.as_deref(), now),
        }
    }

    fn start(&self, work: Work) -> WorkFuture {
        tracing::info!(?work, "rollout work");
        Box::pin(self.effects.clone().run(work))
    }

    /// The daemon decided this one itself; the audit log says so.
    fn audit_automatic_abort(&self) {
        let status = self.machine.status();
        self.audit_by_daemon(
            "rollout.abort",
            status.canary_revision.clone().unwrap_or_default(),
            serde_json::json!({ "automatic": true }),
        );
        tracing::warn!(message = ?status.message, "rollout aborted automatically");
    }

    /// A new stable revision (a rollout reached full, or an undo ended): the moment the
    /// delivery metrics measure canary-to-full and time to restore by.
    fn audit_completion(&self, previous: &str) {
        self.audit_by_daemon(
            "rollout.complete",
            self.machine.status().stable_revision.clone(),
            serde_json::json!({ "automatic": true, "previous": previous }),
        );
    }

    fn audit_by_daemon(&self, action: &str, target: String, parameters: serde_json::Value) {
        self.audit.record(&AuditEntry {
            time: Utc::now(),
            user: "opsbox".to_owned(),
            environment: "local".to_owned(),
            action: action.to_owned(),
            target,
            parameters,
            outcome: Outcome::Ok,
        });
    }

    fn save(&self) {
        let status = self.machine.status().clone();
        if let Err(error) = daemon_record::write_atomic(&self.state_dir.rollout_state(), &status) {
            tracing::warn!(error = %format!("{error:#}"), "cannot save the rollout state");
        }
        self.publish.send_replace(status);
    }
}

/// The work in flight, or never when there is none.
async fn in_flight(work: &mut Option<WorkFuture>) -> Finished {
    match work {
        Some(work) => work.await,
        None => std::future::pending().await,
    }
}
