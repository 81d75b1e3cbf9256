//! `opsbox smoke`: the post-deploy check (health, readiness, a task run to DONE) with
//! each step's latency, and an exit code a pipeline can act on.

use std::time::Duration;

use clap::Args;

use super::{runtime, ExitWith};
use crate::env::{EnvArgs, EnvKind};
use crate::smoke::{SmokeCheck, SmokeReport, StepReport, Verdict};

/// Exit code when the API answered but a step failed (or the task was not DONE in time).
pub const FAILED_EXIT_CODE: u8 = 1;
/// Exit code of a command line that cannot be run as given (clap's own).
pub const USAGE_EXIT_CODE: u8 = 2;
/// Exit code when nothing accepted a connection at the URL.
pub const UNREACHABLE_EXIT_CODE: u8 = 4;

/// The longest bound accepted for the task: a smoke check is quick or it is a failure.
const MAX_TASK_BOUND: Duration = Duration::from_secs(600);

#[derive(Debug, Args)]
pub struct SmokeArgs {
    /// Base URL of the API [default: the running local environment's router; required
    /// on a cluster, e.g. after scripts/port-forward.sh].
    #[arg(long, value_parser = crate::load::check_base_url)]
    pub url: Option<String>,
    /// How long the synthetic task may take to reach DONE, e.g. 10s (at most 10m).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_task_bound)]
    pub timeout: Duration,
    /// Print the report as JSON (on failure too; the exit code tells the verdict).
    #[arg(long)]
    pub json: bool,
}

fn parse_task_bound(text: &str) -> Result<Duration, String> {
    let bound = opsbox_common::duration::parse(text)?;
    if bound.is_zero() || bound > MAX_TASK_BOUND {
        return Err(format!(
            "the bound is above 0 and at most {}",
            crate::durations::spoken(MAX_TASK_BOUND)
        ));
    }
    Ok(bound)
}

pub fn run(env: &EnvArgs, args: &SmokeArgs) -> anyhow::Result<()> {
    let runtime = runtime()?;
    let report = runtime.block_on(async {
        let url = match &args.url {
            Some(url) => url.clone(),
            None => default_url(env).await?,
        };
        let check = SmokeCheck::new(&url, args.timeout)?;
        let json = args.json;
        anyhow::Ok(
            check
                .run(|step| {
                    if !json {
                        println!("{}", step_line(step));
                    }
                })
                .await,
        )
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if report.verdict == Verdict::Passed {
        println!(
            "smoke: passed against {} in {} ms (task {})",
            report.url,
            report.total_ms,
            report.task_id.as_deref().unwrap_or("-")
        );
    }
    verdict(&report)
}

/// The local environment's router when it runs; a cluster has no address this
/// machine can reach without a port-forward, so there `--url` is required.
async fn default_url(env: &EnvArgs) -> anyhow::Result<String> {
    let usage = |message: String| ExitWith {
        code: USAGE_EXIT_CODE,
        message,
    };
    if env.kind == EnvKind::Kubernetes {
        return Err(usage(
            "on a cluster, pass --url (e.g. `scripts/port-forward.sh --service opsbox-api \
             --port 8080:80 --background`, then --url http://127.0.0.1:8080)"
                .to_owned(),
        )
        .into());
    }
    super::load::router_url(env)
        .await
        .map_err(|error| usage(format!("{error:#}; or pass --url")).into())
}

/// `ok    GET /health      3 ms`, and the reason under a failed step.
fn step_line(step: &StepReport) -> String {
    let mark = if step.passed { "ok" } else { "FAIL" };
    let mut line = format!("{mark:<5} {:<28} {:>6} ms", step.name, step.latency_ms);
    if let (false, Some(detail)) = (step.passed, &step.detail) {
        line.push_str("\n      ");
        line.push_str(detail);
    }
    line
}

fn verdict(report: &SmokeReport) -> anyhow::Result<()> {
    let code = match report.verdict {
        Verdict::Passed => return Ok(()),
        Verdict::Failed => FAILED_EXIT_CODE,
        Verdict::Unreachable => UNREACHABLE_EXIT_CODE,
    };
    let (step, detail) = report.failed_step().map_or(("a step", "-"), |step| {
        (step.name.as_str(), step.detail.as_deref().unwrap_or("-"))
    });
    Err(ExitWith {
        code,
        message: format!("smoke failed at {step} against {}: {detail}", report.url),
    }
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_bound_is_positive_and_bounded() {
        assert_eq!(parse_task_bound("5s"), Ok(Duration::from_secs(5)));
        for bad in ["0", "0s", "11m", "soon"] {
            assert!(parse_task_bound(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_verdict_has_its_exit_code_and_names_the_step() {
        let step = |passed| StepReport {
            name: "GET /ready".to_owned(),
            passed,
            latency_ms: 3,
            detail: (!passed).then(|| "answered 503".to_owned()),
        };
        let mut report = SmokeReport {
            url: "http://127.0.0.1:8080".to_owned(),
            verdict: Verdict::Passed,
            task_id: None,
            steps: vec![step(true)],
            total_ms: 3,
        };
        assert!(verdict(&report).is_ok());
        report.steps.push(step(false));
        for (verdict_seen, code) in [
            (Verdict::Failed, FAILED_EXIT_CODE),
            (Verdict::Unreachable, UNREACHABLE_EXIT_CODE),
        ] {
            report.verdict = verdict_seen;
            let error = verdict(&report).expect_err("fails");
            assert_eq!(super::super::exit_code(&error), code);
            assert!(error.to_string().contains("GET /ready"), "{error}");
            assert!(error.to_string().contains("answered 503"), "{error}");
        }
        assert!(step_line(&step(false)).starts_with("FAIL  GET /ready"));
    }
}
