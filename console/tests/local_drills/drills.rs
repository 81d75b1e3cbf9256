//! `opsbox drill run` end to end: the built-in worker-crash, redis-outage and bad-canary
//! drills pass without losing a task; a drill whose expectation does not hold fails
//! with a non-zero exit; reports are kept and `drill list` shows the last result.

use std::path::PathBuf;

use opsbox::drill::DrillReport;

use crate::harness::{assert_success, LocalEnv};

/// The repository's drill files (the same ones the binary has built in).
fn drills_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../observability/drills")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_crash_and_redis_outage_pass_without_losing_a_task() {
    let env = LocalEnv::private();
    env.up(2, 1).await;
    let dir = drills_dir();
    let dir = dir.to_str().expect("utf-8 path");

    for name in ["worker-crash", "redis-outage"] {
        let output = env
            .opsbox(&["drill", "run", name, "--json", "--drills-dir", dir])
            .await;
        assert_success(&format!("drill run {name}"), &output);
        let report: DrillReport = serde_json::from_slice(&output.stdout).expect("report JSON");
        assert!(report.passed, "{}", report.render());
        assert!(report.failures.is_empty());
        let tasks = report.tasks.expect("tasks were counted");
        assert_eq!(tasks.lost, 0, "{}", report.render());
        assert!(tasks.created > 0 && tasks.done > 0, "{tasks:?}");
        assert!(report.traffic.load_requests > 0, "{:?}", report.traffic);
        let recovery = &report.recovery;
        assert!(
            recovery
                .measured_ms
                .is_some_and(|ms| ms <= recovery.expected_within_ms),
            "{recovery:?}"
        );
        let before = report.before.as_ref().expect("checked before the chaos");
        assert!(before.iter().all(|probe| probe.passed), "{before:?}");
        assert!(report
            .after
            .iter()
            .any(|probe| probe.probe == "tasks-terminal"));
        let chaos_steps: Vec<&str> = report
            .steps
            .iter()
            .map(|step| step.action.as_str())
            .filter(|action| action.starts_with("kill") || action.starts_with("outage"))
            .collect();
        match name {
            "worker-crash" => {
                assert_eq!(chaos_steps.len(), 2, "{:?}", report.steps);
                let killed: Vec<&str> = report
                    .steps
                    .iter()
                    .filter(|step| step.action.starts_with("kill"))
                    .map(|step| step.detail.as_str())
                    .collect();
                assert_ne!(killed[0], killed[1], "two different processes were killed");
            }
            _ => {
                assert_eq!(chaos_steps, ["outage redis for 20s (stop)"]);
                let fast = report
                    .during
                    .iter()
                    .find(|probe| probe.probe.starts_with("failed-p99"))
                    .expect("failed-p99 judged");
                assert!(fast.passed, "{fast:?}");
                assert!(report.traffic.probe_failures > 0, "the outage was seen");
            }
        }
    }

    let list = env.opsbox(&["drill", "list", "--drills-dir", dir]).await;
    assert_success("drill list", &list);
    let listed = String::from_utf8_lossy(&list.stdout);
    for line in ["worker-crash", "redis-outage"] {
        let row = listed
            .lines()
            .skip_while(|row| !row.starts_with(line))
            .nth(1)
            .unwrap_or_default();
        assert!(row.contains(": passed"), "{line}: {listed}");
    }
    assert!(listed.contains("never run"), "{listed}");
    let kept = std::fs::read_dir(env.root().join("drills"))
        .expect("reports dir")
        .count();
    assert_eq!(kept, 2);
    let audit = std::fs::read_to_string(env.root().join("audit.jsonl")).expect("audit log");
    assert_eq!(
        audit
            .lines()
            .filter(|line| line.contains("\"drill.run\""))
            .count(),
        2,
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_whose_expectation_does_not_hold_fails_with_its_reasons() {
    let env = LocalEnv::private();
    env.up(1, 1).await;
    let dir = tempfile::tempdir().expect("drills dir");
    // A Redis outage must fail run requests; demanding no error at all cannot hold.
    std::fs::write(
        dir.path().join("impossible.yaml"),
        "\
name: impossible
description: expects a Redis outage to go unnoticed
runbook: docs/runbooks/chaos.md
hypothesis:
  window: 2s
  probes:
    - error-ratio: {max: 0.01}
method:
  - start-load: {rps: 10}
  - wait: 3s
  - outage: {dependency: redis, for: 2s}
  - wait-until: {condition: outage-over, timeout: 30s}
during:
  - error-ratio: {max: 0}
recovery:
  within: 30s
",
    )
    .expect("write the drill");
    let output = env
        .opsbox(&[
            "drill",
            "run",
            "impossible",
            "--drills-dir",
            dir.path().to_str().expect("utf-8 path"),
        ])
        .await;
    assert!(!output.status.success(), "a failed drill exits non-zero");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.contains("drill impossible: FAILED"), "{stdout}");
    assert!(stdout.contains("why it failed"), "{stdout}");
    assert!(
        stderr.contains("drill impossible failed: during the disruption: error-ratio <= 0%"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    std::fs::write(
        dir.path().join("broken.yaml"),
        "name: broken\ndescriptio: typo\n",
    )
    .expect("write a broken drill");
    let broken = env
        .opsbox(&[
            "drill",
            "list",
            "--drills-dir",
            dir.path().to_str().expect("utf-8 path"),
        ])
        .await;
    assert!(!broken.status.success());
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(
        stderr.contains("broken.yaml") && stderr.contains("descriptio"),
        "the file and the field are named: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_canary_is_aborted_by_its_first_analysis_without_losing_a_task() {
    // No outage here: shared servers (DATABASE_URL / REDIS_URL) are fine.
    let env = LocalEnv::new().await;
    env.up(2, 1).await;
    let dir = drills_dir();
    let output = env
        .opsbox(&[
            "drill",
            "run",
            "bad-canary",
            "--json",
            "--drills-dir",
            dir.to_str().expect("utf-8 path"),
        ])
        .await;
    assert_success("drill run bad-canary", &output);
    let report: DrillReport = serde_json::from_slice(&output.stdout).expect("report JSON");
    assert!(report.passed, "{}", report.render());
    let aborted = report
        .during
        .iter()
        .find(|probe| probe.probe.starts_with("rollout-aborted"))
        .expect("the abort is judged");
    assert!(aborted.passed, "{aborted:?}");
    assert!(
        aborted.observed.contains("Degraded after 1 analysis run"),
        "{aborted:?}"
    );
    assert!(
        report
            .steps
            .iter()
            .any(|step| step.action.starts_with("rollout-start drill-bad-canary") && step.ok),
        "{:?}",
        report.steps
    );
    assert_eq!(report.tasks.expect("tasks were counted").lost, 0);
    let status = env.status().await;
    let router = status.router.expect("router status");
    assert_eq!(router.canary_weight, 0, "traffic is back on stable");
}
