//! `opsbox gate` end to end: the real binary against a local environment whose control
//! endpoint answers a chosen SLO report, a scratch git repository scanned by the real
//! gitleaks, CI evidence and SBOM files as a pipeline hands them over.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use opsbox::model::slo::{
    AlertLevel, Exhaustion, Measured, SloReport, SloScope, SloSource, SloSummary, SourceChoice,
    WindowReport,
};
use serde_json::Value;

const NO_GO: i32 = 4;

/// A state dir whose `daemon.json` names this test process and a server answering `/slo`.
struct FakeEnvironment {
    state_dir: tempfile::TempDir,
}

impl FakeEnvironment {
    async fn answering(report: SloReport) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let app = Router::new().route("/slo", get(move || async move { Json(report.clone()) }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let state_dir = tempfile::tempdir().expect("state dir");
        let token_path = state_dir.path().join("control.token");
        std::fs::write(&token_path, "test-token").expect("token");
        let record = serde_json::json!({
            "pid": std::process::id(),
            "control_addr": addr,
            "token_path": token_path,
            "started_at": Utc::now(),
        });
        std::fs::write(state_dir.path().join("daemon.json"), record.to_string()).expect("record");
        Self { state_dir }
    }

    fn audit_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(self.state_dir.path().join("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("an audit line is JSON"))
            .collect()
    }
}

fn slo(alert: AlertLevel, burn: f64) -> SloSummary {
    SloSummary {
        name: "api-availability".to_owned(),
        service: "api".to_owned(),
        objective_percent: 99.9,
        period: "30d".to_owned(),
        period_secs: 30 * 86_400,
        error_budget: 0.001,
        runbook: "docs/runbooks/slo-api-availability.md".to_owned(),
        sli: Measured::Value { value: 0.999 },
        error_budget_remaining: Measured::Value { value: 0.8 },
        windows: vec![WindowReport {
            window: "1h".to_owned(),
            window_secs: 3_600,
            error_ratio: Measured::Value {
                value: burn * 0.001,
            },
            burn_rate: Measured::Value { value: burn },
        }],
        alert,
        budget_exhaustion: Measured::Value {
            value: Exhaustion::NotBurning,
        },
    }
}

fn report(alert: AlertLevel, burn: f64) -> SloReport {
    SloReport {
        source: SloSource::Embedded,
        requested: SourceChoice::Auto,
        scope: SloScope::All,
        evaluated_at: Utc::now(),
        coverage_secs: Some(7 * 3_600),
        prometheus_url: None,
        slos: vec![slo(alert, burn)],
        targets: Vec::new(),
        notes: Vec::new(),
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

fn git(repo: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args([
            "-c",
            "user.email=test@opsbox.invalid",
            "-c",
            "user.name=opsbox-test",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A release candidate: a committed repository, its CI evidence, both SBOMs.
struct Candidate {
    dir: tempfile::TempDir,
}

impl Candidate {
    fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("scratch");
        let repo = dir.path().join("repo");
        std::fs::create_dir(&repo).expect("repo dir");
        git(&repo, &["init", "-q"]);
        std::fs::write(repo.join("README"), "a release\n").expect("write");
        for (name, text) in files {
            std::fs::write(repo.join(name), text).expect("write");
        }
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "release"]);
        let head = git(&repo, &["rev-parse", "HEAD"]);
        let ci = serde_json::json!([{
            "headSha": head, "status": "completed", "conclusion": "success",
            "url": "https://github.com/example/opsbox/actions/runs/1"
        }]);
        std::fs::write(dir.path().join("ci.json"), ci.to_string()).expect("ci");
        for (name, tokio) in [
            ("deployed.cdx.json", "1.40.0"),
            ("candidate.cdx.json", "1.41.0"),
        ] {
            let sbom = serde_json::json!({
                "bomFormat": "CycloneDX", "specVersion": "1.5",
                "components": [{ "name": "tokio", "version": tokio,
                                 "purl": format!("pkg:cargo/tokio@{tokio}") }]
            });
            std::fs::write(dir.path().join(name), sbom.to_string()).expect("sbom");
        }
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// `opsbox gate --json` with the change fields, the candidate's evidence, and `extra`.
async fn gate(env: &FakeEnvironment, candidate: &Candidate, extra: &[&str]) -> (Output, Value) {
    let tools = workspace().join("target/tools/bin");
    assert!(
        tools.join("gitleaks").is_file(),
        "gitleaks is missing from {}: run scripts/deps.sh tools",
        tools.display()
    );
    let path = std::env::join_paths(std::iter::once(tools).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_opsbox"))
        .args(["gate", "--json", "--ticket", "OPS-42", "--risk", "medium"])
        .args(["--rollback-plan", "opsbox rollout undo", "--owner", "ana"])
        .args(["--max-burn-rate", "2"])
        .args(["--repo", &candidate.path("repo")])
        .args(["--ci-result", &candidate.path("ci.json")])
        .args(["--baseline-sbom", &candidate.path("deployed.cdx.json")])
        .args(["--sbom", &candidate.path("candidate.cdx.json")])
        .args(extra)
        .env("OPSBOX_STATE_DIR", env.state_dir.path())
        .env("PATH", path)
        .env_remove("OPSBOX_ENV")
        .env_remove("OPSBOX_CI_RESULT")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("opsbox runs");
    let record = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "no JSON record ({error}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output, record)
}

fn check_status<'a>(record: &'a Value, name: &str) -> &'a str {
    record["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|check| check["name"] == name))
        .and_then(|check| check["status"].as_str())
        .unwrap_or_else(|| panic!("no {name} check in {record:#}"))
}

const GO_BY_BEA: [&str; 4] = ["--approver", "bea", "--decision", "go"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_green_with_an_approval_is_a_go_and_recorded() {
    let env = FakeEnvironment::answering(report(AlertLevel::None, 0.4)).await;
    let candidate = Candidate::new(&[]);
    let (output, record) = gate(&env, &candidate, &GO_BY_BEA).await;
    assert_eq!(output.status.code(), Some(0), "{record:#}");
    assert_eq!(record["verdict"], "go");
    for name in ["slo", "ci", "secrets", "sbom"] {
        assert_eq!(check_status(&record, name), "pass", "{record:#}");
    }
    assert_eq!(
        record["sbom_delta"]["changed"],
        serde_json::json!(["tokio 1.40.0 -> 1.41.0"])
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("~ tokio 1.40.0 -> 1.41.0"), "{stderr}");
    let audit = env.audit_lines();
    assert_eq!(audit.len(), 1, "{audit:#?}");
    assert_eq!(audit[0]["action"], "release.gate");
    assert_eq!(audit[0]["target"], "OPS-42");
    assert_eq!(audit[0]["outcome"], serde_json::json!({ "status": "ok" }));
    assert_eq!(audit[0]["parameters"]["approval"]["approver"], "bea");
    assert_eq!(
        audit[0]["parameters"]["rollback_plan"],
        "opsbox rollout undo"
    );
    assert_eq!(audit[0]["parameters"]["risk"], "medium");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paging_slo_is_a_no_go_whatever_the_approver_says() {
    let env = FakeEnvironment::answering(report(AlertLevel::Page, 20.0)).await;
    let candidate = Candidate::new(&[]);
    let (output, record) = gate(&env, &candidate, &GO_BY_BEA).await;
    assert_eq!(output.status.code(), Some(NO_GO), "{record:#}");
    assert_eq!(record["verdict"], "no-go");
    assert_eq!(check_status(&record, "slo"), "fail");
    assert_eq!(
        record["reasons"],
        serde_json::json!(["slo failed: page alert active for api-availability"])
    );
    let audit = env.audit_lines();
    assert_eq!(audit[0]["outcome"]["status"], "error");
    assert!(
        audit[0]["outcome"]["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("no-go: slo failed")),
        "{audit:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_in_the_history_is_a_no_go() {
    let env = FakeEnvironment::answering(report(AlertLevel::None, 0.4)).await;
    // A GitHub token of the right shape, random, so it is in no file of this repository
    // and no account has it.
    let token: String = {
        use rand::distr::{Alphanumeric, SampleString};
        format!("ghp_{}", Alphanumeric.sample_string(&mut rand::rng(), 36))
    };
    let candidate = Candidate::new(&[("config.yaml", &format!("github:\n  token: {token}\n"))]);
    let (output, record) = gate(&env, &candidate, &GO_BY_BEA).await;
    assert_eq!(output.status.code(), Some(NO_GO), "{record:#}");
    assert_eq!(check_status(&record, "secrets"), "fail", "{record:#}");
    let reasons = record["reasons"].to_string();
    assert!(reasons.contains("config.yaml"), "{reasons}");
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains(&token),
        "the secret itself is printed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_decision_and_no_terminal_is_a_no_go() {
    let env = FakeEnvironment::answering(report(AlertLevel::None, 0.4)).await;
    let candidate = Candidate::new(&[]);
    let (output, record) = gate(&env, &candidate, &[]).await;
    assert_eq!(output.status.code(), Some(NO_GO), "{record:#}");
    assert_eq!(check_status(&record, "ci"), "pass");
    assert_eq!(record["approval"]["source"], "none");
    assert_eq!(
        record["reasons"],
        serde_json::json!([
            "no approver's decision: no terminal to ask and no --approver/--decision"
        ])
    );
    assert_eq!(env.audit_lines().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_evidence_cannot_tell_and_is_a_no_go() {
    let env = FakeEnvironment::answering(report(AlertLevel::None, 3.0)).await;
    let candidate = Candidate::new(&[]);
    std::fs::remove_file(candidate.dir.path().join("ci.json")).expect("remove");
    let (output, record) = gate(&env, &candidate, &GO_BY_BEA).await;
    assert_eq!(output.status.code(), Some(NO_GO), "{record:#}");
    // Burning at 3x with 2x allowed fails; a missing CI file cannot tell.
    assert_eq!(check_status(&record, "slo"), "fail");
    assert_eq!(check_status(&record, "ci"), "unknown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_change_field_is_a_usage_error_and_records_nothing() {
    let env = FakeEnvironment::answering(report(AlertLevel::None, 0.4)).await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_opsbox"))
        .args([
            "gate", "--ticket", "OPS-42", "--risk", "low", "--owner", "ana",
        ])
        .env("OPSBOX_STATE_DIR", env.state_dir.path())
        .stdin(Stdio::null())
        .output()
        .await
        .expect("opsbox runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--rollback-plan"), "{stderr}");
    assert!(env.audit_lines().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_runs_the_repositorys_pipeline_and_its_exit_status_decides() {
    use std::os::unix::fs::PermissionsExt;
    let env = FakeEnvironment::answering(report(AlertLevel::None, 0.4)).await;
    for (exit, expected_status, expected_code) in [(0, "pass", 0), (1, "fail", NO_GO)] {
        // A stand-in for scripts/pipeline_local.sh, committed like the real one: its
        // output must reach stderr, never the JSON on stdout.
        let script = format!("#!/bin/sh\necho 'stage lint ok'\nexit {exit}\n");
        let candidate = Candidate::new(&[]);
        let repo = candidate.dir.path().join("repo");
        std::fs::create_dir(repo.join("scripts")).expect("scripts dir");
        let path = repo.join("scripts/pipeline_local.sh");
        std::fs::write(&path, script).expect("script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "pipeline"]);
        let (output, record) =
            gate(&env, &candidate, &[&GO_BY_BEA[..], &["--local"]].concat()).await;
        assert_eq!(output.status.code(), Some(expected_code), "{record:#}");
        assert_eq!(check_status(&record, "ci"), expected_status, "{record:#}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("stage lint ok"));
    }
}
