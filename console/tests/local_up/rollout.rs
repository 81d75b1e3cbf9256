//! Canary rollouts end to end: a bad release is aborted by its analysis, a good one is
//! promoted step by step and undone, and wrong verbs get a clear refusal.
//!
//! The steps come from a chart values file written here (the daemon reads
//! `OPSBOX_CHART_VALUES`), with short or open-ended pauses so the tests drive time.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use opsbox::model::{EnvironmentStatus, RolloutPhase, RolloutStatus};
use serde_json::Value;

use crate::harness::{assert_success, opsbox_exe, until, LocalEnv};

/// How long a rollout transition may take on a loaded two-core machine.
const DEADLINE: Duration = Duration::from_secs(90);

/// A bad release is judged after 6 s of traffic at 50%.
const BAD_CANARY_STEPS: &str = "rollout:\n  steps:\n    - setWeight: 50\n    - pause: {duration: 6s}\n    - analysis: {}\n    - setWeight: 100\n";

/// Every pause waits for `promote`, so the test decides when each step ends.
pub(crate) const MANUAL_STEPS: &str = "rollout:\n  steps:\n    - setWeight: 20\n    - pause: {}\n    - setWeight: 60\n    - pause: {}\n    - setWeight: 100\n";

pub(crate) async fn env_with_steps(steps: &str) -> (LocalEnv, tempfile::TempDir) {
    let values = tempfile::tempdir().expect("values dir");
    let path = values.path().join("values.yaml");
    std::fs::write(&path, steps).expect("values file");
    let env = LocalEnv::new()
        .await
        .with_env("OPSBOX_CHART_VALUES", &path.display().to_string());
    (env, values)
}

pub(crate) async fn rollout(env: &LocalEnv, args: &[&str]) -> RolloutStatus {
    let mut full = vec!["rollout"];
    full.extend_from_slice(args);
    full.push("--json");
    let output = env.opsbox(&full).await;
    assert_success(&full.join(" "), &output);
    serde_json::from_slice(&output.stdout).expect("rollout JSON")
}

pub(crate) async fn wait_rollout(
    env: &LocalEnv,
    what: &str,
    accept: impl Fn(&RolloutStatus) -> bool,
) -> RolloutStatus {
    until(what, DEADLINE, || async {
        let status = rollout(env, &["status"]).await;
        accept(&status).then_some(status)
    })
    .await
}

/// Background traffic through the router for `seconds`, as `opsbox load` sends it.
fn start_load(env: &LocalEnv, seconds: u64) -> tokio::process::Child {
    tokio::process::Command::new(opsbox_exe())
        .args([
            "load",
            "--url",
            &env.router_url(),
            "--rps",
            "40",
            "--for",
            &format!("{seconds}s"),
            "--quiet",
            "--json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("opsbox load starts")
}

async fn load_report(load: tokio::process::Child) -> Value {
    let output = load.wait_with_output().await.expect("load ends");
    assert_success("load", &output);
    serde_json::from_slice(&output.stdout).expect("load report JSON")
}

fn instances<'a>(
    status: &'a EnvironmentStatus,
    track: &'a str,
) -> impl Iterator<Item = &'a opsbox::model::InstanceStatus> + 'a {
    status
        .instances
        .iter()
        .filter(move |instance| instance.workload == "api" && instance.track.as_str() == track)
}

pub(crate) fn audit_lines(root: &Path) -> Vec<Value> {
    std::fs::read_to_string(root.join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("audit line is JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_canary_is_aborted_by_its_analysis_and_traffic_returns_to_stable() {
    let (env, _values) = env_with_steps(BAD_CANARY_STEPS).await;
    env.up(2, 1).await;
    let load = start_load(&env, 40);

    let started = rollout(
        &env,
        &[
            "start",
            "--revision",
            "v2",
            "--set",
            "OPSBOX_FAULT_ERROR_RATE=0.3",
        ],
    )
    .await;
    assert_eq!(started.canary_revision.as_deref(), Some("v2"));

    let aborted = wait_rollout(&env, "the automatic abort", |status| {
        status.phase == RolloutPhase::Degraded
    })
    .await;
    assert!(aborted.aborted);
    let message = aborted.message.clone().unwrap_or_default();
    assert!(message.contains("analysis failed at step 3"), "{message}");
    assert!(message.contains("api-availability"), "{message}");
    assert!(message.contains("error ratio"), "{message}");
    let run = aborted.analysis_runs.last().expect("an analysis run");
    let availability = run
        .measurements
        .iter()
        .find(|measurement| measurement.slo == "api-availability")
        .expect("availability measured");
    let ratio = availability.value.expect("a measured ratio");
    assert!((0.15..=0.45).contains(&ratio), "error ratio {ratio}");
    assert!(availability.events >= 20.0, "{availability:?}");
    assert_eq!(aborted.stable_revision, "v1");

    // Traffic is back on stable and the canary is gone.
    let status = until("the canary to stop", DEADLINE, || async {
        let status = env.status().await;
        (instances(&status, "canary").count() == 0).then_some(status)
    })
    .await;
    let router = status.router.clone().expect("router");
    assert_eq!(router.canary_weight, 0);
    assert!(router.canary_upstreams.is_empty());
    assert!(instances(&status, "stable").all(|instance| instance.revision == "v1"));
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    for _ in 0..20 {
        let response = http
            .get(format!("{}/tasks?limit=1", env.router_url()))
            .send()
            .await
            .expect("router answers");
        assert!(response.status().is_success(), "{}", response.status());
        assert_eq!(
            response
                .headers()
                .get("x-opsbox-track")
                .and_then(|value| value.to_str().ok()),
            Some("stable")
        );
    }

    let audit = audit_lines(env.root());
    assert!(
        audit.iter().any(|line| line["action"] == "rollout.abort"
            && line["user"] == "opsbox"
            && line["parameters"]["automatic"] == true),
        "{audit:#?}"
    );
    assert!(audit
        .iter()
        .any(|line| line["action"] == "rollout.start" && line["target"] == "v2"));
    let listed = env.opsbox(&["audit"]).await;
    assert_success("audit", &listed);
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(
        table
            .lines()
            .any(|line| line.contains("opsbox") && line.contains("rollout.abort")),
        "{table}"
    );
    drop(load);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_rollout_promoted_step_by_step_becomes_stable_and_undo_brings_v1_back() {
    let (env, _values) = env_with_steps(MANUAL_STEPS).await;
    env.up(2, 1).await;
    wrong_verbs_are_refused_with_a_reason(&env).await;
    let load = start_load(&env, 45);

    rollout(&env, &["start", "--revision", "v2"]).await;
    let paused = wait_rollout(&env, "the first pause", |status| {
        status.phase == RolloutPhase::Paused && status.current_step_index == Some(1)
    })
    .await;
    assert_eq!(paused.canary_weight, 20);
    let status = env.status().await;
    assert_eq!(
        status.router.as_ref().map(|router| router.canary_weight),
        Some(20)
    );
    assert_eq!(instances(&status, "canary").count(), 1);

    rollout(&env, &["promote"]).await;
    let paused = wait_rollout(&env, "the second pause", |status| {
        status.phase == RolloutPhase::Paused && status.current_step_index == Some(3)
    })
    .await;
    assert_eq!(paused.canary_weight, 60);

    rollout(&env, &["promote"]).await;
    let done = wait_rollout(&env, "the promotion", |status| {
        status.phase == RolloutPhase::Healthy
    })
    .await;
    assert_eq!(done.stable_revision, "v2");
    assert_eq!(done.canary_revision, None);
    let status = until("v2 on every stable instance", DEADLINE, || async {
        let status = env.status().await;
        (instances(&status, "canary").count() == 0
            && instances(&status, "stable").count() == 2
            && instances(&status, "stable").all(|instance| instance.revision == "v2"))
        .then_some(status)
    })
    .await;
    assert_eq!(status.router.map(|router| router.canary_weight), Some(0));

    rollout(&env, &["undo"]).await;
    let undone = wait_rollout(&env, "the undo", |status| {
        status.phase == RolloutPhase::Healthy && status.stable_revision == "v1"
    })
    .await;
    let names: Vec<&str> = undone.revisions.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["v1", "v2"]);
    // The daemon records each new stable revision (written before the status shows it):
    // the delivery metrics' canary-to-full and time to restore end there.
    let completions: Vec<String> = audit_lines(env.root())
        .iter()
        .filter(|line| line["action"] == "rollout.complete")
        .map(|line| line["target"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(completions, ["v2", "v1"]);
    // The delivery metrics of that log: one rollout, which reached full and was undone.
    let output = env.opsbox(&["audit", "--metrics", "--json"]).await;
    assert_success("audit --metrics --json", &output);
    let metrics: Value = serde_json::from_slice(&output.stdout).expect("metrics JSON");
    for (field, expected) in [
        ("rollouts_started", 1),
        ("deployments", 1),
        ("canary_to_full_count", 1),
        ("failed_rollouts", 1),
        ("rollbacks", 1),
        ("restores", 1),
    ] {
        assert_eq!(metrics[field], expected, "{field}: {metrics:#}");
    }
    assert_eq!(metrics["change_failure_rate"], 1.0, "{metrics:#}");
    until("v1 on every stable instance", DEADLINE, || async {
        let status = env.status().await;
        (instances(&status, "canary").count() == 0
            && instances(&status, "stable").all(|instance| instance.revision == "v1"))
        .then_some(())
    })
    .await;

    // Replacing every API instance twice lost no request: the canary or the other
    // stable instance was always there to take it.
    let report = load_report(load).await;
    let requests = report["requests"].as_u64().expect("requests");
    let failed: u64 = report["by_status"]
        .as_object()
        .expect("by_status")
        .iter()
        .filter(|(code, _)| !code.starts_with('2'))
        .map(|(_, count)| count.as_u64().unwrap_or(0))
        .sum::<u64>()
        + report["transport_errors"].as_u64().unwrap_or(0);
    assert!(requests > 500, "{report:#}");
    assert!(
        failed * 100 < requests,
        "{failed} of {requests} requests failed during the rollout: {report:#}"
    );
}

async fn wrong_verbs_are_refused_with_a_reason(env: &LocalEnv) {
    let cases: [(&[&str], &str); 6] = [
        (&["rollout", "promote"], "no rollout in progress"),
        (&["rollout", "abort"], "no rollout in progress"),
        (&["rollout", "retry"], "not aborted"),
        (
            &["rollout", "undo", "--to-revision", "v9"],
            "no revision v9",
        ),
        (
            &["rollout", "start", "--revision", "v 2"],
            "invalid revision",
        ),
        (
            &["rollout", "start", "--revision", "v1"],
            "already the stable revision",
        ),
    ];
    for (args, expected) in cases {
        let output = env.opsbox(args).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} should fail");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let usage = env
        .opsbox(&["rollout", "start", "--revision", "v2", "--set", "NOVALUE"])
        .await;
    assert_eq!(usage.status.code(), Some(2), "a usage error");
    let audit = audit_lines(env.root());
    assert!(
        audit.iter().any(|line| line["action"] == "rollout.promote"
            && line["outcome"]["status"] == "error"),
        "refused verbs are audited too: {audit:#?}"
    );
}
