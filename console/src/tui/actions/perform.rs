//! Carries out a confirmed action on the environment and says what came back; and what
//! the audit log records about it.

use tokio_util::sync::CancellationToken;

use super::super::view::Action;
use crate::drill::{runner, DrillCatalog};
use crate::env::{AnyEnvironment, Environment, Verb};
use crate::model::{RequeueReport, RequeueRequest, RolloutStatus};
use crate::operations::{AuditRecord, Operation, Performed, Via};

/// What an action is: an operation on the environment, or a drill the console runs.
pub enum Task<'a> {
    Operation(Operation),
    Drill(&'a str),
}

/// What `action` asks for.
pub fn task(action: &Action) -> Task<'_> {
    Task::Operation(match action {
        Action::Promote => Operation::Promote { full: false },
        Action::PromoteFull => Operation::Promote { full: true },
        Action::Abort => Operation::Abort,
        Action::Retry => Operation::Retry,
        Action::Undo => Operation::Undo { to: None },
        Action::KillInstance(name) => Operation::Kill(crate::chaos::KillRequest {
            instance: Some(name.clone()),
            ..crate::chaos::KillRequest::default()
        }),
        Action::RestartInstance(name) => Operation::Restart {
            instance: name.clone(),
        },
        Action::RequeueDead(task) => Operation::Requeue(RequeueRequest::one(task)),
        Action::RequeueAllDead => Operation::Requeue(RequeueRequest::all()),
        Action::RunDrill(name) => return Task::Drill(name),
    })
}

/// The permission an action needs.
pub fn verb(action: &Action) -> Verb {
    match task(action) {
        Task::Operation(operation) => operation.verb(),
        Task::Drill(_) => Verb::RunDrill,
    }
}

/// What the audit log records about an action (the outcome is added once known).
pub fn audit_record(action: &Action) -> AuditRecord {
    match task(action) {
        Task::Operation(operation) => operation.audit_record(),
        Task::Drill(name) => AuditRecord::drill(name, serde_json::json!({})),
    }
    .via(Via::Console)
}

/// Drill steps buffered between the runner and the app.
const LIVE_STEPS: usize = 64;

/// What an action needs besides its own parameters.
#[derive(Debug, Clone)]
pub struct ActionContext {
    pub environment: AnyEnvironment,
    /// Cancelled when the console quits: a running drill stops early (its chaos ends by itself).
    pub interrupt: CancellationToken,
    /// Where a running drill's steps go as they happen, when someone watches.
    pub updates: Option<tokio::sync::mpsc::Sender<crate::tui::collect::Update>>,
}

/// Runs the action; `Ok` carries what the environment answered, in words.
pub async fn perform(context: &ActionContext, action: &Action) -> anyhow::Result<String> {
    let operation = match task(action) {
        Task::Operation(operation) => operation,
        Task::Drill(name) => return run_drill(context, name).await,
    };
    Ok(match operation.perform(&context.environment).await? {
        Performed::Rollout(rollout) => rollout_summary(&rollout),
        Performed::Killed(killed) => match killed.pid {
            Some(pid) => format!(
                "{} (pid {pid}) got SIGKILL; the supervisor restarts it",
                killed.instance
            ),
            None => format!("{} killed; it is replaced like any crash", killed.instance),
        },
        Performed::Restarted(name) => format!("{name} stopped and started again"),
        Performed::Requeued(report) => requeue_summary(&report),
        Performed::Outage(outage) => {
            format!("{} is down until {}", outage.dependency, outage.ends_at)
        }
        Performed::Fault(report) => format!("fault on {}", report.fault.instances.join(", ")),
    })
}

/// `Paused at step 2/7 (pause), canary v2 at 20%`.
pub fn rollout_summary(rollout: &RolloutStatus) -> String {
    let step = match rollout.current_step_index {
        Some(index) if index < rollout.steps.len() => {
            format!(
                " at step {}/{} ({})",
                index + 1,
                rollout.steps.len(),
                rollout.steps[index]
            )
        }
        Some(_) => " after the last step".to_owned(),
        None => String::new(),
    };
    let canary = rollout
        .canary_revision
        .as_deref()
        .map_or(String::new(), |canary| {
            format!(", canary {canary} at {}%", rollout.canary_weight)
        });
    format!(
        "rollout {}{step}{canary}; stable {}",
        rollout.phase.as_str(),
        rollout.stable_revision
    )
}

fn requeue_summary(report: &RequeueReport) -> String {
    let mut summary = format!("{} requeued", report.requeued.len());
    if !report.discarded.is_empty() {
        summary.push_str(&format!(", {} discarded", report.discarded.len()));
    }
    if report.remaining > 0 {
        summary.push_str(&format!(", {} still dead", report.remaining));
    }
    summary
}

/// Runs a drill in this process, as `opsbox drill run` does, and keeps its report. A
/// failed verdict is an error, so the audit entry and the result say it failed.
async fn run_drill(context: &ActionContext, name: &str) -> anyhow::Result<String> {
    let catalog = tokio::task::spawn_blocking(|| DrillCatalog::load(None)).await??;
    let drill = catalog.get(name)?.clone();
    let source = catalog.source.to_string();
    let live = context.updates.clone().map(|updates| {
        let (steps, mut incoming) = tokio::sync::mpsc::channel(LIVE_STEPS);
        tokio::spawn(async move {
            while let Some(step) = incoming.recv().await {
                if updates
                    .send(crate::tui::collect::Update::DrillStep(step))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        steps
    });
    let report = runner::run_reporting(
        &drill,
        &source,
        &context.environment,
        context.interrupt.clone(),
        live,
    )
    .await?;
    let reports = context.environment.records().drill_reports().to_path_buf();
    let saved = {
        let report = report.clone();
        tokio::task::spawn_blocking(move || report.save(&reports)).await?
    };
    let kept = match &saved {
        Ok(path) => format!("report {}", path.display()),
        Err(error) => format!("the report could not be saved: {error:#}"),
    };
    let took = crate::chaos::humanize(
        (report.finished_at - report.started_at)
            .to_std()
            .unwrap_or_default(),
    );
    anyhow::ensure!(
        report.passed,
        "drill {name} FAILED after {took}: {}; {kept}",
        report.failures.join("; ")
    );
    Ok(format!("PASSED in {took}; {kept}"))
}
