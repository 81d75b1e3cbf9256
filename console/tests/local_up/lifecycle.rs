//! up → status → traffic → SIGKILL an API instance under load → up twice → down → no pid left.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use opsbox::model::{EnvironmentPhase, EnvironmentStatus, InstanceState};
use serde_json::{json, Value};

use crate::harness::{assert_success, is_gone, until, LocalEnv};

/// How long any expected change may take on a loaded two-core machine.
const DEADLINE: Duration = Duration::from_secs(60);

/// Concurrent request loops through the router while an instance is killed.
const LOAD_LOOPS: usize = 4;

/// At least this many requests are counted, so one lost request stays under 1%.
const MIN_REQUESTS: u64 = 800;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_serves_through_the_router_survives_an_instance_kill_and_down_leaves_no_process() {
    let env = LocalEnv::new().await;
    let up = env.up(2, 1).await;
    let summary = String::from_utf8_lossy(&up.stdout);
    assert!(summary.contains(&env.router_url()), "{summary}");
    assert!(summary.contains("api-1"), "{summary}");

    let status = env.status().await;
    assert_eq!(status.phase, EnvironmentPhase::Ready);
    assert_eq!(running(&status, "api"), 2, "{status:#?}");
    assert_eq!(running(&status, "worker"), 1, "{status:#?}");
    let router = status.router.as_ref().expect("router status");
    assert_eq!(router.stable_upstreams, ["api-1", "api-2"]);
    assert!(status.queue.is_some(), "queue depth is readable");

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .expect("client");
    a_task_runs_to_done_through_the_router(&env, &http).await;
    a_killed_api_instance_is_restarted_while_the_router_keeps_serving(&env, &http).await;

    let second = env.opsbox(&["up", "--port", &env.port.to_string()]).await;
    assert!(!second.status.success(), "a second up must fail");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("already running"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let before_down = env.status().await;
    let daemon: Value = serde_json::from_slice(
        &std::fs::read(env.root().join("daemon.json")).expect("daemon.json"),
    )
    .expect("daemon.json is JSON");
    let daemon_pid = u32::try_from(daemon["pid"].as_u64().expect("daemon pid")).expect("pid");
    let mut pids: Vec<u32> = before_down.instances.iter().filter_map(|i| i.pid).collect();
    pids.push(daemon_pid);
    assert_eq!(pids.len(), 4, "3 instances and the daemon: {pids:?}");

    let down = env.opsbox(&["down"]).await;
    assert_success("down", &down);
    for pid in pids {
        until(&format!("pid {pid} to be gone"), DEADLINE, || async move {
            is_gone(pid).then_some(())
        })
        .await;
    }
    assert!(!env.root().join("daemon.json").exists());
    let after = env.opsbox(&["status"]).await;
    assert_eq!(after.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&after.stderr).contains("no local environment is running"));
}

fn running(status: &EnvironmentStatus, workload: &str) -> usize {
    status
        .instances
        .iter()
        .filter(|i| i.workload == workload && i.state == InstanceState::Running && i.pid.is_some())
        .count()
}

async fn a_task_runs_to_done_through_the_router(env: &LocalEnv, http: &reqwest::Client) {
    let created = http
        .post(format!("{}/tasks", env.router_url()))
        .json(&json!({ "title": "local up e2e", "kind": "io", "payload": { "ms": 10 } }))
        .send()
        .await
        .expect("create through the router");
    assert_eq!(created.status(), 201);
    let task: Value = created.json().await.expect("task JSON");
    let id = task["id"].as_str().expect("task id").to_owned();
    let run = http
        .post(format!("{}/tasks/{id}/run", env.router_url()))
        .send()
        .await
        .expect("run through the router");
    assert_eq!(run.status(), 202);
    let url = format!("{}/tasks/{id}", env.router_url());
    until("the task's run to be DONE", DEADLINE, || {
        let request = http.get(&url).send();
        async move {
            let task: Value = request.await.ok()?.json().await.ok()?;
            (task["status"] == "DONE").then_some(())
        }
    })
    .await;
}

async fn a_killed_api_instance_is_restarted_while_the_router_keeps_serving(
    env: &LocalEnv,
    http: &reqwest::Client,
) {
    let before = env.status().await;
    let victim = before
        .instances
        .iter()
        .find(|i| i.name == "api-1")
        .expect("api-1");
    let old_pid = victim.pid.expect("api-1 runs");
    let old_restarts = victim.restarts;

    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let loops: Vec<_> = (0..LOAD_LOOPS)
        .map(|_| {
            let (stop, total, failed) = (stop.clone(), total.clone(), failed.clone());
            let (http, url) = (http.clone(), format!("{}/tasks?limit=1", env.router_url()));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let ok = http
                        .get(&url)
                        .send()
                        .await
                        .is_ok_and(|response| response.status().is_success());
                    total.fetch_add(1, Ordering::Relaxed);
                    if !ok {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    // Traffic flows before the kill, so the kill lands on requests under way.
    until("load to start", DEADLINE, || {
        let total = total.clone();
        async move { (total.load(Ordering::Relaxed) >= 50).then_some(()) }
    })
    .await;

    let raw = i32::try_from(old_pid).expect("pid fits");
    kill(Pid::from_raw(raw), Signal::SIGKILL).expect("SIGKILL api-1");
    let restarted = until(
        "api-1 to be restarted and Running",
        DEADLINE,
        || async move {
            let status = env.status().await;
            status
                .instances
                .into_iter()
                .find(|i| i.name == "api-1")
                .filter(|i| {
                    i.state == InstanceState::Running
                        && i.restarts > old_restarts
                        && i.pid.is_some_and(|pid| pid != old_pid)
                })
        },
    )
    .await;
    until("enough requests to judge the error ratio", DEADLINE, || {
        let total = total.clone();
        async move { (total.load(Ordering::Relaxed) >= MIN_REQUESTS).then_some(()) }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for task in loops {
        task.await.expect("load loop");
    }
    let (total, failed) = (
        total.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
    );
    assert!(
        failed * 100 < total,
        "{failed} of {total} requests failed while api-1 was killed (restarted as pid {:?})",
        restarted.pid
    );
    let after = env.status().await;
    let router = after.router.expect("router status");
    assert!(
        router.stable_upstreams.contains(&"api-1".to_owned()),
        "the restarted instance is routable again: {router:?}"
    );
}
