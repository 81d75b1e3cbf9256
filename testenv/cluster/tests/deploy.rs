//! `opsbox deploy` on the cluster tier: real helm installs the chart with the dev values
//! under the real Argo Rollouts controller and the deploy follows the Rollout to Healthy
//! (exit 0); a new image tag stops at the first canary pause (exit 5); redeployed after
//! an abort it is Degraded (exit 6); a value the chart's schema refuses is helm's failure
//! (exit 8) with helm's message, and nothing changes. Each deploy is audited and the
//! Rollout carries an `OpsboxDeploy` Event. Last, `opsbox rollback --yes` undoes the
//! release.
//!
//! Needs `cargo build -p opsbox` first. Skips with one line where the tier cannot run;
//! OPSBOX_REQUIRE_CLUSTER=1 (CI) makes that a failure.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use opsbox_cluster::release::{
    bin, create_secrets, helm_homes, install_extra_crds, opsbox_exe, TEST_SETS,
};
use opsbox_cluster::{wait_until, workspace_root, Cluster, User};
use serde_json::Value;

/// The exit codes `opsbox deploy` documents.
const COMPLETED: i32 = 0;
const PAUSED: i32 = 5;
const DEGRADED: i32 = 6;
const HELM_FAILED: i32 = 8;

/// Each phase of a deploy (helm's wait, then the rollout): generous, because on a
/// loaded two-core machine the controller can lag far behind the API server.
const DEPLOY_TIMEOUT: &str = "120s";
/// How long the controller may take to act on a rollback, for the same reason.
const DEADLINE: Duration = Duration::from_secs(120);

struct Deployer<'a> {
    cluster: &'a Cluster,
    exe: PathBuf,
    /// The operator's records (audit log) of these deploys.
    records: tempfile::TempDir,
    /// helm's private homes.
    helm_home: tempfile::TempDir,
}

impl Deployer<'_> {
    /// `opsbox ARGS` as the cluster's admin (a release creates cluster-wide objects),
    /// from the repository root where `charts/opsbox` is.
    fn opsbox(&self, args: &[&str]) -> Result<Output> {
        let homes = self.helm_home.path().to_str().context("helm home")?;
        Command::new(&self.exe)
            .current_dir(workspace_root())
            .args(["--kubeconfig", self.cluster.kubeconfig(User::Admin)?])
            .args(["--namespace", self.cluster.namespace()])
            .arg("--state-dir")
            .arg(self.records.path())
            .args(args)
            .envs(helm_homes(homes))
            .env("OPSBOX_HELM", bin("helm"))
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("opsbox {args:?}"))
    }

    /// `opsbox deploy --env dev` with the test's `--set`s and `extra` ones; asserts the
    /// exit code and returns (stdout, stderr).
    fn deploy(&self, extra: &[&str], expected: i32) -> Result<(String, String)> {
        let mut args = vec!["deploy", "--env", "dev", "--timeout", DEPLOY_TIMEOUT];
        for set in TEST_SETS.iter().chain(extra) {
            args.extend(["--set", set]);
        }
        let out = self.opsbox(&args)?;
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        ensure!(
            out.status.code() == Some(expected),
            "opsbox {args:?}: {} (expected exit {expected})\n{stdout}{stderr}",
            out.status
        );
        ensure!(!stderr.contains("panicked"), "{stderr}");
        Ok((stdout, stderr))
    }

    fn rollout(&self) -> Result<Value> {
        let out = self.opsbox(&["--env", "kubernetes", "rollout", "status", "--json"])?;
        ensure!(
            out.status.success(),
            "rollout status: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    /// The audit log's `release.deploy` entries, oldest first.
    fn deploys_audited(&self) -> Result<Vec<Value>> {
        let text = std::fs::read_to_string(self.records.path().join("audit.jsonl"))
            .context("the audit log")?;
        text.lines()
            .map(|line| serde_json::from_str::<Value>(line).context("an audit line"))
            .filter(|entry| {
                entry
                    .as_ref()
                    .map_or(true, |entry| entry["action"] == "release.deploy")
            })
            .collect()
    }
}

#[test]
fn deploy_releases_the_chart_and_exits_by_the_rollouts_outcome() -> Result<()> {
    let Some(cluster) =
        Cluster::start_or_skip("deploy_releases_the_chart_and_exits_by_the_rollouts_outcome")?
    else {
        return Ok(());
    };
    let deployer = Deployer {
        cluster: &cluster,
        exe: opsbox_exe()?,
        records: tempfile::tempdir()?,
        helm_home: tempfile::tempdir()?,
    };
    let result = deploys(&deployer);
    if let Err(error) = &result {
        eprintln!("failed: {error:#}\n{}", cluster.status_report());
    }
    result
}

fn deploys(deployer: &Deployer) -> Result<()> {
    let cluster = deployer.cluster;
    install_extra_crds(cluster)?;
    create_secrets(cluster)?;

    // A first release: no canary, the Rollout goes Healthy.
    let (stdout, _) = deployer.deploy(&[], COMPLETED)?;
    ensure!(stdout.contains("helm upgrade --install"), "{stdout}");
    ensure!(
        stdout.contains("deploy: completed: Healthy"),
        "the outcome is said: {stdout}"
    );
    let healthy = deployer.rollout()?;
    ensure!(healthy["phase"] == "Healthy", "{healthy}");
    let first = healthy["stable_revision"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ensure!(
        first == "0.1.0",
        "the dev values' image tag is stable: {healthy}"
    );

    // A new image: the chart's first steps are setWeight 10, then a pause.
    let (stdout, stderr) = deployer.deploy(&["image.tag=0.2.0"], PAUSED)?;
    ensure!(
        stdout
            .lines()
            .any(|line| line.contains("Paused") && line.contains("canary 0.2.0")),
        "the pause is followed live: {stdout}"
    );
    ensure!(
        stderr.contains("the rollout is paused") && stderr.contains("step 2/"),
        "{stderr}"
    );
    let paused = deployer.rollout()?;
    ensure!(
        paused["canary_revision"] == "0.2.0"
            && paused["current_step_index"] == 1
            && paused["set_weight"] == 10,
        "paused at the first pause with weight 10: {paused}"
    );

    // Aborted by an operator, the same release deploys to a Degraded rollout.
    let abort = deployer.opsbox(&["--env", "kubernetes", "rollout", "abort"])?;
    ensure!(abort.status.success(), "abort: {abort:?}");
    let (_, stderr) = deployer.deploy(&["image.tag=0.2.0"], DEGRADED)?;
    ensure!(stderr.contains("aborted"), "{stderr}");

    // The chart's schema refuses `latest`: helm's own message, nothing deployed.
    let (_, stderr) = deployer.deploy(&["image.tag=latest"], HELM_FAILED)?;
    ensure!(
        stderr.contains("helm upgrade --install failed") && stderr.contains("schema"),
        "helm's message is passed on: {stderr}"
    );
    let after = deployer.rollout()?;
    ensure!(
        after["canary_revision"] == "0.2.0" && after["stable_revision"] == first.as_str(),
        "a refused release changes nothing: {after}"
    );

    let audited = deployer.deploys_audited()?;
    let outcomes: Vec<&str> = audited
        .iter()
        .map(|entry| entry["outcome"]["status"].as_str().unwrap_or_default())
        .collect();
    // A paused canary is a deploy that did what it should; abort and helm are not.
    ensure!(
        outcomes == ["ok", "ok", "error", "error"],
        "one audit entry per deploy: {audited:#?}"
    );
    ensure!(
        audited[1]["parameters"]["env"] == "dev"
            && audited[1]["parameters"]["set"]
                .as_array()
                .is_some_and(|sets| sets.iter().any(|set| set == "image.tag=0.2.0")),
        "{audited:#?}"
    );
    deploy_events_on_the_rollout(cluster)?;
    rollback_undoes_the_release(deployer, &first)
}

/// `opsbox rollback` on the cluster: refused without an answer, then with `--yes` the
/// Rollout's template goes back to the stable release's (Argo walks it as a new
/// revision of the same image, `0.1.0@N`, as `kubectl argo rollouts undo` does).
fn rollback_undoes_the_release(deployer: &Deployer, stable: &str) -> Result<()> {
    let refused = deployer.opsbox(&["--env", "kubernetes", "rollback"])?;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    ensure!(
        refused.status.code() == Some(1) && stderr.contains("no answer on stdin"),
        "{refused:?}"
    );
    let done = deployer.opsbox(&["--env", "kubernetes", "rollback", "--yes"])?;
    ensure!(done.status.success(), "rollback --yes: {done:?}");
    wait_until(
        "the stable release's image rolled out again",
        DEADLINE,
        || {
            let status = deployer.rollout()?;
            let image_of = |revision: &Value| {
                revision
                    .as_str()
                    .and_then(|name| name.split('@').next())
                    .map(str::to_owned)
            };
            let back = match status["phase"].as_str() {
                Some("Healthy") => image_of(&status["stable_revision"]),
                _ if status["aborted"] == false => image_of(&status["canary_revision"]),
                _ => None,
            };
            Ok(if back.as_deref() == Some(stable) {
                Ok(())
            } else {
                Err(status.to_string())
            })
        },
    )
}

fn deploy_events_on_the_rollout(cluster: &Cluster) -> Result<()> {
    let events = cluster.json(User::Viewer, &["get", "events"])?;
    let deploys = events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|event| {
            event["reason"] == "OpsboxDeploy" && event["involvedObject"]["kind"] == "Rollout"
        })
        .count();
    ensure!(
        deploys >= 1,
        "no OpsboxDeploy Event on the Rollout: {events}"
    );
    Ok(())
}
