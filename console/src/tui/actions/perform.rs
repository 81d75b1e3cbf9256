//! Carries out a confirmed action on the environment and says what came back; and what
//! the audit log records about it.

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::super::view::Action;
use crate::drill::{runner, DrillCatalog};
use crate::env::local::{ControlClient, LocalEnvironment, StateDir};
use crate::env::Environment;
use crate::model::{RequeueReport, RequeueRequest, RolloutStatus};

/// What the audit log records about an action (the outcome is added once known).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// `rollout.promote`, `chaos.kill`, ...
    pub action: &'static str,
    pub target: String,
    pub parameters: serde_json::Value,
}

pub fn audit_record(action: &Action) -> AuditRecord {
    let record = |action, target: &str, parameters| AuditRecord {
        action,
        target: target.to_owned(),
        parameters,
    };
    let with_source = |extra: serde_json::Value| {
        let mut parameters = json!({ "via": "console" });
        if let (Some(all), Some(extra)) = (parameters.as_object_mut(), extra.as_object()) {
            all.extend(extra.clone());
        }
        parameters
    };
    match action {
        Action::Promote => record(
            "rollout.promote",
            "api",
            with_source(json!({ "full": false })),
        ),
        Action::PromoteFull => record(
            "rollout.promote",
            "api",
            with_source(json!({ "full": true })),
        ),
        Action::Abort => record("rollout.abort", "api", with_source(json!({}))),
        Action::Retry => record("rollout.retry", "api", with_source(json!({}))),
        Action::Undo => record("rollout.undo", "api", with_source(json!({}))),
        Action::KillInstance(name) => record(
            "chaos.kill",
            name,
            with_source(json!({ "signal": "SIGKILL" })),
        ),
        Action::RestartInstance(name) => record("instance.restart", name, with_source(json!({}))),
        Action::RequeueDead(task) => {
            record("queue.requeue", task, with_source(json!({ "all": false })))
        }
        Action::RequeueAllDead => record(
            "queue.requeue",
            "dead-letter",
            with_source(json!({ "all": true })),
        ),
        Action::RunDrill(name) => record("drill.run", name, with_source(json!({}))),
    }
}

/// Drill steps buffered between the runner and the app.
const LIVE_STEPS: usize = 64;

/// What an action needs besides its own parameters.
#[derive(Debug, Clone)]
pub struct ActionContext {
    pub client: ControlClient,
    pub state: StateDir,
    /// Cancelled when the console quits: a running drill stops early (its chaos ends by itself).
    pub interrupt: CancellationToken,
    /// Where a running drill's steps go as they happen, when someone watches.
    pub updates: Option<tokio::sync::mpsc::Sender<crate::tui::collect::Update>>,
}

/// Runs the action; `Ok` carries what the environment answered, in words.
pub async fn perform(context: &ActionContext, action: &Action) -> anyhow::Result<String> {
    let client = &context.client;
    // The verbs every environment has go through the trait; requeues and drills are
    // the local environment's own so far.
    let environment = LocalEnvironment::new(client.clone());
    match action {
        Action::Promote => Ok(rollout_summary(&environment.promote(false).await?)),
        Action::PromoteFull => Ok(rollout_summary(&environment.promote(true).await?)),
        Action::Abort => Ok(rollout_summary(&environment.abort().await?)),
        Action::Retry => Ok(rollout_summary(&environment.retry().await?)),
        Action::Undo => Ok(rollout_summary(&environment.undo(None).await?)),
        Action::KillInstance(name) => {
            let killed = environment.kill_instance(name).await?;
            Ok(format!(
                "{} (pid {}) got SIGKILL; the supervisor restarts it",
                killed.instance, killed.pid
            ))
        }
        Action::RestartInstance(name) => {
            environment.restart_instance(name).await?;
            Ok(format!("{name} stopped and started again"))
        }
        Action::RequeueDead(task) => requeue(client, &RequeueRequest::one(task)).await,
        Action::RequeueAllDead => requeue(client, &RequeueRequest::all()).await,
        Action::RunDrill(name) => run_drill(context, name).await,
    }
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

async fn requeue(client: &ControlClient, request: &RequeueRequest) -> anyhow::Result<String> {
    let report: RequeueReport = client.post("/queue/dead/requeue", request, None).await?;
    let mut summary = format!("{} requeued", report.requeued.len());
    if !report.discarded.is_empty() {
        summary.push_str(&format!(", {} discarded", report.discarded.len()));
    }
    if report.remaining > 0 {
        summary.push_str(&format!(", {} still dead", report.remaining));
    }
    Ok(summary)
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
        &context.client,
        context.interrupt.clone(),
        live,
    )
    .await?;
    let reports = context.state.drill_reports();
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
