//! The local environment's lifecycle verbs, `up` and `down`: with the daemon's entry
//! point, the only code outside `env` that names the local environment.

use super::runtime;
use std::fmt::Write as _;

use super::UpArgs;
use crate::audit::{AuditEntry, AuditLog, Outcome};
use crate::env::local::lifecycle::{self, DownOutcome, UpRequest};
use crate::env::local::StateDir;
use crate::model::EnvironmentStatus;

pub fn up(state: &StateDir, args: &UpArgs) -> anyhow::Result<()> {
    let request = UpRequest {
        api_replicas: args.api_replicas,
        workers: args.workers,
        port: args.port,
    };
    let result = runtime()?.block_on(lifecycle::up(state, request));
    audit(
        state,
        "up",
        serde_json::json!({
            "api_replicas": args.api_replicas,
            "workers": args.workers,
            "port": args.port,
        }),
        &result,
    );
    print!("{}", ready_summary(&result?, state));
    Ok(())
}

/// Records a lifecycle verb; `up` and `down` change the environment like any other verb.
fn audit<T>(
    state: &StateDir,
    action: &str,
    parameters: serde_json::Value,
    result: &anyhow::Result<T>,
) {
    AuditLog::new(state.audit_log()).record(&AuditEntry::by_current_user(
        "local",
        action,
        &state.root().display().to_string(),
        parameters,
        Outcome::from_result(result),
    ));
}

pub fn down(state: &StateDir) -> anyhow::Result<()> {
    let result = runtime()?.block_on(lifecycle::down(state));
    // A `down` with nothing to stop changed nothing; it is not worth a line.
    if !matches!(result, Ok(DownOutcome::NothingRunning)) {
        audit(state, "down", serde_json::json!({}), &result);
    }
    match result? {
        DownOutcome::Stopped { daemon_pid } => println!(
            "stopped the local environment in {} (daemon pid {daemon_pid}); no process of it is left",
            state.root().display()
        ),
        DownOutcome::CleanedStale { daemon_pid } => println!(
            "the daemon (pid {daemon_pid}) had crashed; cleaned up what it left in {}",
            state.root().display()
        ),
        DownOutcome::NothingRunning => println!(
            "no local environment is running in {}; nothing to stop",
            state.root().display()
        ),
    }
    Ok(())
}

/// What `opsbox up` prints once the stack is ready: where everything is.
pub fn ready_summary(status: &EnvironmentStatus, state: &StateDir) -> String {
    let mut out = String::from("the local environment is ready\n");
    if let Some(router) = &status.router {
        let _ = writeln!(out, "  router        {}", router.url);
        if let Some(metrics) = &router.metrics_url {
            let _ = writeln!(out, "  router metrics {metrics}");
        }
    }
    for instance in &status.instances {
        let what = match instance.workload.as_str() {
            "worker" => "metrics ",
            _ => "",
        };
        let _ = writeln!(
            out,
            "  {:<13} {what}http://{}  log {}",
            instance.name,
            instance.address.as_deref().unwrap_or("-"),
            instance
                .log_file
                .as_ref()
                .map_or_else(|| "-".to_owned(), |path| path.display().to_string())
        );
    }
    let slo_source = status.prometheus_url.as_ref().map_or_else(
        || "the embedded engine; no Prometheus runs".to_owned(),
        |url| format!("Prometheus at {url}"),
    );
    let _ = writeln!(out, "  SLOs          `opsbox slo` ({slo_source})");
    let _ = writeln!(out, "  state dir     {}", state.root().display());
    let _ = writeln!(out, "  daemon log    {}", state.daemon_log().display());
    out.push_str("see `opsbox status`; stop with `opsbox down`\n");
    out
}
