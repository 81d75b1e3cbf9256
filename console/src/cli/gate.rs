//! `opsbox gate`: the pre-deployment gate. Runs the checks (SLOs, CI, secrets, SBOM delta),
//! asks an approver for go/no-go, records the whole decision in the audit log (and as a
//! Kubernetes Event in a cluster), and exits 0 only on a go.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{DateTime, Utc};
use clap::builder::NonEmptyStringValueParser;
use clap::Args;
use serde::Serialize;

use super::{runtime, ExitWith};
use crate::audit::{AuditEntry, AuditLog, Outcome};
use crate::env::{AnyEnvironment, EnvArgs, Environment};
use crate::gate::sbom::SbomDelta;
use crate::gate::{self, Approval, Check, CheckStatus, Decision, Risk, Ruling, Verdict};
use crate::model::slo::{SloQuery, SloScope, SourceChoice};

mod report;

/// Exit code of a no-go (0 is a go, 2 a usage error, 1 a gate that could not run).
pub const NO_GO_EXIT_CODE: u8 = 4;

/// The audit log's name for a gate decision (its Kubernetes Event reason: `OpsboxGate`).
pub const AUDIT_ACTION: &str = "release.gate";

#[derive(Debug, Args)]
pub struct GateArgs {
    /// The change ticket the release belongs to, e.g. OPS-1234.
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub ticket: String,
    /// The change owner's risk rating.
    #[arg(long, value_enum)]
    pub risk: Risk,
    /// How to undo the release if it goes wrong (e.g. "opsbox rollout undo").
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub rollback_plan: String,
    /// Who owns the change; they cannot also approve it.
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub owner: String,
    /// The highest 1h burn rate of any SLO the gate lets through (1 spends the error
    /// budget exactly over the SLO period).
    #[arg(long, default_value_t = 1.0, value_parser = parse_burn_rate)]
    pub max_burn_rate: f64,
    /// The CI evidence for the commit: `gh run list --commit SHA --json
    /// headSha,status,conclusion,url` saved to a file.
    #[arg(long, env = "OPSBOX_CI_RESULT")]
    pub ci_result: Option<PathBuf>,
    /// Run scripts/pipeline_local.sh as the CI evidence instead (takes precedence over
    /// --ci-result; a run on uncommitted changes does not count).
    #[arg(long)]
    pub local: bool,
    /// The CycloneDX SBOM of the deployed release; without it the delta cannot be shown.
    #[arg(long)]
    pub baseline_sbom: Option<PathBuf>,
    /// The CycloneDX SBOM of the candidate (scripts/sbom.sh generate writes it).
    #[arg(long, default_value = "target/sbom/opsbox-api-bin.cdx.json")]
    pub sbom: PathBuf,
    /// The git repository of the release: its HEAD is the commit, its history is scanned.
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// The approver, for pipelines (with --decision); otherwise asked on the terminal.
    #[arg(long, requires = "decision", value_parser = NonEmptyStringValueParser::new())]
    pub approver: Option<String>,
    /// The approver's decision, for pipelines (with --approver).
    #[arg(long, value_enum, requires = "approver")]
    pub decision: Option<Decision>,
    /// Print the decision as JSON (what the audit log records); the checks' progress
    /// and any prompt go to stderr.
    #[arg(long)]
    pub json: bool,
}

fn parse_burn_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "`{text}` is not a burn rate above 0, e.g. 1 or 2.5"
        )),
    }
}

/// The whole decision, as the audit log records it and `--json` prints it.
#[derive(Debug, Serialize)]
pub struct GateRecord {
    pub ticket: String,
    pub risk: Risk,
    pub rollback_plan: String,
    pub owner: String,
    pub commit: Option<String>,
    pub environment: String,
    pub checks: Vec<Check>,
    pub sbom_delta: Option<SbomDelta>,
    pub approval: Approval,
    pub verdict: Verdict,
    pub reasons: Vec<String>,
    pub decided_at: DateTime<Utc>,
}

pub fn run(env: &EnvArgs, args: &GateArgs) -> anyhow::Result<()> {
    let environment = env.open(false);
    let environment_name = env.kind.as_str().to_owned();
    let commit = git_head(&args.repo);
    let mut progress = report::Progress::new(args.json);
    progress.header(args, commit.as_deref(), &environment_name);

    let mut checks = vec![slo_check(env, args.max_burn_rate)];
    progress.check(&checks[0]);
    checks.push(ci_check(args, commit.as_deref()));
    progress.check(&checks[1]);
    checks.push(gate::secrets::scan(&args.repo));
    progress.check(&checks[2]);
    let (sbom, sbom_delta) = gate::sbom::review(args.baseline_sbom.as_deref(), &args.sbom);
    checks.push(sbom);
    progress.check(&checks[3]);
    progress.delta(sbom_delta.as_ref());

    let approval = approval(args, &checks);
    let Ruling {
        mut verdict,
        mut reasons,
    } = gate::decide(&checks, &approval, &args.owner);
    let mut record = GateRecord {
        ticket: args.ticket.clone(),
        risk: args.risk,
        rollback_plan: args.rollback_plan.clone(),
        owner: args.owner.clone(),
        commit,
        environment: environment_name,
        checks,
        sbom_delta,
        approval,
        verdict,
        reasons: reasons.clone(),
        decided_at: Utc::now(),
    };
    let log = match &environment {
        Ok(environment) => environment.records().audit_log(),
        Err(_) => AuditLog::new(env.local_state_dir()?.audit_log()),
    };
    if let Err(error) = write_record(&log, environment.as_ref().ok(), &record) {
        // A go nobody can find afterwards is not a go.
        reasons.push(format!("the decision could not be recorded: {error:#}"));
        verdict = Verdict::NoGo;
        record.verdict = verdict;
        record.reasons = reasons.clone();
    }
    progress.verdict(&record, log.path());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&record)?);
    }
    match verdict {
        Verdict::Go => Ok(()),
        Verdict::NoGo => Err(ExitWith {
            code: NO_GO_EXIT_CODE,
            // The reasons are printed above (and in the record): the last line sums up.
            message: format!(
                "no-go for {} ({} reason(s) above; recorded in {})",
                args.ticket,
                reasons.len(),
                log.path().display()
            ),
        }
        .into()),
    }
}

/// Appends the decision to the audit log and announces it to the environment's audience
/// (a Kubernetes Event on the API's Rollout in a cluster).
fn write_record(
    log: &AuditLog,
    environment: Option<&AnyEnvironment>,
    record: &GateRecord,
) -> anyhow::Result<()> {
    let outcome = match record.verdict {
        Verdict::Go => Outcome::Ok,
        Verdict::NoGo => Outcome::Error(format!("no-go: {}", record.reasons.join("; "))),
    };
    let entry = AuditEntry::by_current_user(
        &record.environment,
        AUDIT_ACTION,
        &record.ticket,
        serde_json::to_value(record)?,
        outcome.clone(),
    );
    log.append(&entry)?;
    if let Some(environment) = environment {
        runtime()?.block_on(environment.announce(AUDIT_ACTION, &record.ticket, &outcome));
    }
    Ok(())
}

fn slo_check(env: &EnvArgs, max_burn_rate: f64) -> Check {
    let query = SloQuery {
        source: SourceChoice::Auto,
        scope: SloScope::All,
    };
    let report = env.connect().and_then(|environment| {
        let runtime = runtime()?;
        runtime.block_on(environment.slo(query))
    });
    match report {
        Ok(report) => gate::slo::check(&report, max_burn_rate),
        Err(error) => Check::new(
            "slo",
            CheckStatus::Unknown,
            format!("no SLO report: {error:#}"),
        ),
    }
}

fn ci_check(args: &GateArgs, commit: Option<&str>) -> Check {
    let commit = commit.unwrap_or_default();
    if args.local {
        return local_pipeline(&args.repo, commit);
    }
    let Some(path) = &args.ci_result else {
        return gate::ci::no_evidence();
    };
    match std::fs::read_to_string(path) {
        Ok(text) => gate::ci::check_evidence(&text, &path.display().to_string(), commit),
        Err(error) => Check::new(
            "ci",
            CheckStatus::Unknown,
            format!("cannot read the CI result {}: {error}", path.display()),
        ),
    }
}

/// Runs the repository's local pipeline; its output goes to stderr, never into `--json`.
fn local_pipeline(repo: &Path, commit: &str) -> Check {
    let script = repo.join("scripts/pipeline_local.sh");
    let status = Command::new(&script)
        .current_dir(repo)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .status();
    match status {
        Ok(status) => gate::ci::check_local_run(
            status.code(),
            tree_is_clean(repo),
            commit,
            "its output is above, on stderr",
        ),
        Err(error) => gate::ci::check_local_run(
            None,
            false,
            commit,
            &format!("cannot run {}: {error}", script.display()),
        ),
    }
}

/// The approver's answer: the flags, else the terminal, else none (a no-go).
fn approval(args: &GateArgs, checks: &[Check]) -> Approval {
    if let (Some(approver), Some(decision)) = (&args.approver, args.decision) {
        return Approval::Flags {
            approver: approver.clone(),
            decision,
        };
    }
    if !gate::checks_pass(checks) {
        return Approval::None {
            why: "not asked: a check did not pass".to_owned(),
        };
    }
    if !std::io::stdin().is_terminal() {
        return Approval::None {
            why: "no terminal to ask and no --approver/--decision".to_owned(),
        };
    }
    ask(args, &mut std::io::stdin().lock())
}

/// Asks on stderr; anything but `go` is a no-go, and so is no answer.
fn ask(args: &GateArgs, input: &mut impl BufRead) -> Approval {
    let mut read = |question: &str| {
        eprint!("{question}");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim().to_owned()),
        }
    };
    let Some(approver) = read("approver (not the change owner): ").filter(|name| !name.is_empty())
    else {
        return Approval::None {
            why: "no approver named at the prompt".to_owned(),
        };
    };
    let question = format!("{approver}, go or no-go for {}? [go/no-go] ", args.ticket);
    let decision = match read(&question).as_deref() {
        Some("go") => Decision::Go,
        _ => Decision::NoGo,
    };
    Approval::Prompt { approver, decision }
}

fn git(repo: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn git_head(repo: &Path) -> Option<String> {
    git(repo, &["rev-parse", "HEAD"]).filter(|sha| !sha.is_empty())
}

/// No uncommitted change to a tracked file (untracked files are not what CI builds).
fn tree_is_clean(repo: &Path) -> bool {
    git(repo, &["status", "--porcelain", "--untracked-files=no"]).is_some_and(|out| out.is_empty())
}

#[cfg(test)]
mod tests;
