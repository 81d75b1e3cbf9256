//! `opsbox chaos kill` and `opsbox chaos fault` against a running environment, and the
//! refusals of bad chaos input.

use std::time::Duration;

use opsbox::chaos::{ChaosStatus, FaultReport, Killed};
use opsbox::model::{EnvironmentStatus, InstanceState};

use crate::harness::{assert_success, until, LocalEnv};

/// How long a restart or an expiry may take on a loaded two-core machine.
const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_instances_are_restarted_and_faults_show_through_the_router_then_expire() {
    let env = LocalEnv::new().await;
    env.up(2, 1).await;
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");

    let named = kill_and_await_restart(&env, &["chaos", "kill", "api-2", "--json"]).await;
    assert_eq!(
        (named.instance.as_str(), named.workload.as_str()),
        ("api-2", "api")
    );
    let random = kill_and_await_restart(
        &env,
        &[
            "chaos",
            "kill",
            "--workload",
            "api",
            "--track",
            "stable",
            "--json",
        ],
    )
    .await;
    assert!(
        ["api-1", "api-2"].contains(&random.instance.as_str()),
        "{random:?}"
    );
    let worker =
        kill_and_await_restart(&env, &["chaos", "kill", "--workload", "worker", "--json"]).await;
    assert_eq!(worker.instance, "worker-1");

    let list_url = format!("{}/tasks?limit=1", env.router_url());
    let answer = http.get(&list_url).send().await.expect("router answers");
    assert_eq!(answer.status().as_u16(), 200, "healthy before the fault");
    let fault: FaultReport = json(
        &env,
        &[
            "chaos",
            "fault",
            "--error-rate",
            "1",
            "--for",
            "3s",
            "--json",
        ],
    )
    .await;
    assert_eq!(fault.fault.instances, ["api-1", "api-2"]);
    assert!(fault.refused.is_empty(), "{fault:?}");
    let listed: ChaosStatus = json(&env, &["chaos", "list", "--json"]).await;
    assert_eq!(listed.faults.len(), 1, "{listed:?}");
    for _ in 0..5 {
        let answer = http.get(&list_url).send().await.expect("router answers");
        assert_eq!(
            answer.status().as_u16(),
            500,
            "an error rate of 1 fails every task request"
        );
    }
    let probe = http
        .get(format!("{}/health", env.router_url()))
        .send()
        .await;
    assert_eq!(
        probe.expect("health answers").status().as_u16(),
        200,
        "probes are never faulted"
    );
    until("the fault to expire", DEADLINE, || {
        let (http, list_url) = (&http, &list_url);
        async move {
            let answer = http.get(list_url).send().await.ok()?;
            (answer.status().as_u16() == 200).then_some(())
        }
    })
    .await;
    let listed: ChaosStatus = json(&env, &["chaos", "list", "--json"]).await;
    assert!(listed.faults.is_empty(), "{listed:?}");
    let kinds: Vec<&str> = listed.history.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["kill", "kill", "kill", "fault"]);

    refusals_name_the_problem(&env).await;

    let audit = std::fs::read_to_string(env.root().join("audit.jsonl")).expect("audit log");
    let actions: Vec<serde_json::Value> = audit
        .lines()
        .map(|line| serde_json::from_str(line).expect("audit line"))
        .collect();
    let kills = actions
        .iter()
        .filter(|entry| entry["action"] == "chaos.kill")
        .count();
    assert!(kills >= 4, "three kills and a refused one: {audit}");
    assert!(
        actions.iter().any(|entry| entry["action"] == "chaos.fault"
            && entry["outcome"]["status"] == "ok"
            && entry["parameters"]["error_rate"] == 1.0),
        "{audit}"
    );
}

/// Bad requests against a running environment: a clear message and a non-zero exit.
async fn refusals_name_the_problem(env: &LocalEnv) {
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["chaos", "kill", "api-9"],
            "no instance named \"api-9\"; known: api-1, api-2",
        ),
        (
            vec!["chaos", "kill", "--workload", "redis"],
            "unknown workload \"redis\"",
        ),
        (vec!["chaos", "fault", "--for", "3s"], "nothing to inject"),
        (
            vec![
                "chaos",
                "fault",
                "--error-rate",
                "0.5",
                "--for",
                "3s",
                "--track",
                "canary",
            ],
            "no running API instance on the canary track",
        ),
    ];
    for (args, expected) in cases {
        let output = env.opsbox(&args).await;
        refused(&args, &output, expected);
    }
    // With shared servers (DATABASE_URL / REDIS_URL), an outage must be refused: they
    // are someone else's. Without them the daemon owns its servers (chaos_outage tests).
    if std::env::var_os("REDIS_URL").is_some_and(|url| !url.is_empty()) {
        let args = ["chaos", "outage", "redis", "--for", "3s"];
        let output = env.opsbox(&args).await;
        refused(&args, &output, "redis is external (REDIS_URL was set");
    }
}

#[tokio::test]
async fn bad_chaos_and_drill_input_is_refused_before_anything_runs() {
    let state = tempfile::tempdir().expect("state dir");
    let run = |args: &'static [&'static str]| {
        let root = state.path().to_path_buf();
        async move {
            let output = tokio::process::Command::new(crate::harness::opsbox_exe())
                .args(args)
                .env("OPSBOX_STATE_DIR", root)
                .env_remove("OPSBOX_DRILLS_DIR")
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .expect("opsbox runs");
            (args, output)
        }
    };
    for (args, expected) in [
        (
            &["chaos", "outage", "redis", "--for", "0s"][..],
            "the duration must be more than zero",
        ),
        (
            &["chaos", "outage", "redis", "--for", "11m"],
            "longer than the limit of 10m",
        ),
        (
            &["chaos", "outage", "mysql", "--for", "3s"],
            "invalid value 'mysql'",
        ),
        (
            &["chaos", "fault", "--error-rate", "0.5", "--for", "0"],
            "the duration must be more than zero",
        ),
        (
            &["chaos", "kill", "api-1"],
            "no local environment is running",
        ),
        (
            &["drill", "run", "no-such-drill"],
            "no drill named \"no-such-drill\"",
        ),
        (
            &["drill", "run", "x", "--drills-dir", "/nonexistent/drills"],
            "the drills directory /nonexistent/drills does not exist",
        ),
    ] {
        let (args, output) = run(args).await;
        refused(args, &output, expected);
    }
    let (_, unknown) = run(&["drill", "run", "no-such-drill"]).await;
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    for known in [
        "worker-crash",
        "redis-outage",
        "postgres-outage",
        "api-instance-kill",
        "bad-canary",
    ] {
        assert!(
            stderr.contains(known),
            "the known drills are listed: {stderr}"
        );
    }
}

fn refused(args: &[&str], output: &std::process::Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "opsbox {args:?} must fail:\n{stderr}"
    );
    assert!(
        stderr.contains(expected),
        "opsbox {args:?}: {expected:?} not in\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

async fn json<T: serde::de::DeserializeOwned>(env: &LocalEnv, args: &[&str]) -> T {
    let output = env.opsbox(args).await;
    assert_success(&args.join(" "), &output);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "opsbox {args:?} printed no JSON ({error}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Kills with `args`, checks the very next status already shows the kill, and waits
/// until the instance runs again with a new pid and one more restart.
async fn kill_and_await_restart(env: &LocalEnv, args: &[&str]) -> Killed {
    let before = env.status().await;
    let killed: Killed = json(env, args).await;
    let restarts_before = restarts(&before, &killed.instance);
    let after = env.status().await;
    let instance = after
        .instances
        .iter()
        .find(|i| i.name == killed.instance)
        .expect("the killed instance is listed");
    assert!(
        instance.pid != killed.pid || instance.state != InstanceState::Running,
        "a kill returns once the supervisor saw the exit: {instance:#?}"
    );
    until(
        &format!("{} to be restarted", killed.instance),
        DEADLINE,
        || async {
            let status = env.status().await;
            let instance = status
                .instances
                .iter()
                .find(|i| i.name == killed.instance)?;
            (instance.state == InstanceState::Running
                && instance.pid.is_some_and(|pid| Some(pid) != killed.pid)
                && instance.restarts > restarts_before)
                .then_some(())
        },
    )
    .await;
    killed
}

fn restarts(status: &EnvironmentStatus, name: &str) -> u32 {
    status
        .instances
        .iter()
        .find(|instance| instance.name == name)
        .map_or(0, |instance| instance.restarts)
}
