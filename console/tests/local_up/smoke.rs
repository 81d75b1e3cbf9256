//! `opsbox smoke` against the real API and worker: it passes when a worker runs the
//! task, fails within its bound when none does, and says at once when nothing listens.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{assert_success, opsbox_exe, LocalEnv};

/// The task bound of the failing case, and what it may overrun by (process start,
/// the probes before the task).
const SHORT_BOUND: Duration = Duration::from_secs(3);
const OVERRUN: Duration = Duration::from_secs(10);

fn report(stdout: &[u8]) -> Value {
    serde_json::from_slice(stdout).expect("smoke --json prints a report")
}

fn step_names(report: &Value) -> Vec<&str> {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| step["name"].as_str().expect("step name"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_passes_through_the_router_and_the_task_is_done() {
    let env = LocalEnv::new().await;
    env.up(1, 1).await;

    // No --url: the running environment's router.
    let output = env.opsbox(&["smoke", "--json", "--timeout", "20s"]).await;
    assert_success("smoke --json", &output);
    let report = report(&output.stdout);
    assert_eq!(report["verdict"], "passed", "{report:#}");
    assert_eq!(report["url"], env.router_url());
    assert_eq!(
        step_names(&report),
        [
            "GET /health",
            "GET /ready",
            "POST /tasks",
            "POST /tasks/{id}/run",
            "task DONE (<= 20s)"
        ]
    );
    let task_id = report["task_id"].as_str().expect("task id");
    // The worker really ran it: the API says so, independently of the check.
    let task: Value = reqwest::get(format!("{}/tasks/{task_id}", env.router_url()))
        .await
        .expect("GET the task")
        .json()
        .await
        .expect("task JSON");
    assert_eq!(task["status"], "DONE", "{task:#}");

    // The text form prints every step with its latency, and the verdict.
    let output = env.opsbox(&["smoke", "--url", &env.router_url()]).await;
    assert_success("smoke --url", &output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout
            .lines()
            .filter(|line| line.starts_with("ok "))
            .count(),
        5,
        "{stdout}"
    );
    assert!(stdout.contains(" ms"), "{stdout}");
    assert!(stdout.contains("smoke: passed against"), "{stdout}");

    // scripts/smoke.sh (what the deploy workflow runs) is this same check.
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/smoke.sh");
    let output = tokio::process::Command::new(script)
        .args(["--url", &env.router_url(), "--timeout", "20"])
        .env("OPSBOX_BIN", opsbox_exe())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("scripts/smoke.sh runs");
    assert_success("scripts/smoke.sh", &output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("task DONE (<= 20s)"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_without_a_worker_fails_within_its_bound() {
    let env = LocalEnv::new().await;
    env.up(1, 0).await;

    let started = Instant::now();
    let output = env
        .opsbox(&[
            "smoke",
            "--json",
            "--timeout",
            "3s",
            "--url",
            &env.router_url(),
        ])
        .await;
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(took < SHORT_BOUND + OVERRUN, "took {took:?}");
    assert!(took >= SHORT_BOUND, "gave up before its bound: {took:?}");
    let report = report(&output.stdout);
    assert_eq!(report["verdict"], "failed", "{report:#}");
    let failed = report["steps"]
        .as_array()
        .and_then(|steps| steps.last())
        .expect("a last step");
    assert_eq!(failed["name"], "task DONE (<= 3s)");
    assert_eq!(failed["passed"], false);
    let detail = failed["detail"].as_str().expect("why");
    assert!(detail.contains("still QUEUED"), "{detail}");
    assert!(stderr.contains("smoke failed at task DONE"), "{stderr}");
}

#[tokio::test]
async fn smoke_against_nothing_fails_fast_and_bad_input_is_a_usage_error() {
    // Nothing runs in this state dir.
    let env = LocalEnv::new().await;
    let closed = format!(
        "http://127.0.0.1:{}",
        opsbox_harness::free_port().expect("free port")
    );
    let started = Instant::now();
    let output = env.opsbox(&["smoke", "--url", &closed]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(5), "not fast");
    assert!(stderr.contains("nothing accepts connections"), "{stderr}");
    assert!(stderr.contains("GET /health"), "{stderr}");

    let cases: [(&[&str], &str); 4] = [
        (&["smoke"], "no local environment is running"),
        (&["smoke", "--url", "ftp://127.0.0.1"], "not an http:// URL"),
        (&["smoke", "--url", &closed, "--timeout", "0s"], "above 0"),
        (
            &["--env", "kubernetes", "smoke"],
            "on a cluster, pass --url",
        ),
    ];
    for (args, expected) in cases {
        let output = env.opsbox(args).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
