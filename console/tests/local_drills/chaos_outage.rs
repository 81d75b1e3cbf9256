//! `opsbox chaos outage` on servers the daemon owns: the API notices, the outage is
//! listed while it lasts, the daemon restores it, and `down` during one leaves nothing.

use std::time::Duration;

use opsbox::chaos::{ChaosStatus, Dependency, Outage, OutageMode};

use crate::harness::LocalEnv;
use crate::harness::{assert_success, is_gone, until};

/// How long a restore or a reconnect may take on a loaded two-core machine.
const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_fail_ready_while_they_last_and_the_daemon_restores_them() {
    let env = LocalEnv::private();
    env.up(1, 1).await;
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let ready_url = format!("{}/ready", env.router_url());
    assert_eq!(ready_status(&http, &ready_url).await, Some(200));

    let output = env
        .opsbox(&["chaos", "outage", "redis", "--for", "3s", "--json"])
        .await;
    assert_success("chaos outage redis", &output);
    let outage: Outage = serde_json::from_slice(&output.stdout).expect("outage JSON");
    assert_eq!(
        (outage.dependency, outage.mode),
        (Dependency::Redis, OutageMode::Stop)
    );
    let planned = (outage.ends_at - outage.started_at).num_milliseconds();
    assert_eq!(planned, 3_000);

    let listed = chaos_list(&env).await;
    assert_eq!(
        listed.outages,
        std::slice::from_ref(&outage),
        "listed while it lasts"
    );
    let second = env
        .opsbox(&["chaos", "outage", "redis", "--for", "3s"])
        .await;
    assert!(!second.status.success(), "one outage per dependency");
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already in progress"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(
        ready_status(&http, &ready_url).await,
        Some(503),
        "the API is unready while Redis is gone"
    );

    until("Redis to be restored and the API ready", DEADLINE, || {
        let (http, ready_url) = (&http, &ready_url);
        async move { (ready_status(http, ready_url).await == Some(200)).then_some(()) }
    })
    .await;
    let listed = chaos_list(&env).await;
    assert!(listed.outages.is_empty(), "gone once over: {listed:?}");
    let ended = listed
        .outage_ended(Dependency::Redis, outage.started_at)
        .expect("the end is in the history");
    assert_eq!(ended.kind, "outage-end");
    assert!(ended.at >= outage.ends_at, "{ended:?} before {outage:?}");

    // While PostgreSQL is frozen (backends too), readiness fails by its own timeout.
    let freeze = env.opsbox(&[
        "chaos", "outage", "postgres", "--for", "3s", "--mode", "freeze", "--wait",
    ]);
    let unready = until(
        "the API to be unready while PostgreSQL is frozen",
        DEADLINE,
        || {
            let (http, ready_url) = (&http, &ready_url);
            async move { (ready_status(http, ready_url).await == Some(503)).then_some(()) }
        },
    );
    let (frozen, ()) = tokio::join!(freeze, unready);
    assert_success("chaos outage postgres --mode freeze --wait", &frozen);
    let said = String::from_utf8_lossy(&frozen.stdout);
    assert!(said.contains("postgres is frozen for 3s"), "{said}");
    assert!(said.contains("postgres is back"), "{said}");
    until("the API to be ready after the freeze", DEADLINE, || {
        let (http, ready_url) = (&http, &ready_url);
        async move { (ready_status(http, ready_url).await == Some(200)).then_some(()) }
    })
    .await;

    down_during_a_frozen_outage_leaves_no_server(&env).await;
}

/// The daemon's shutdown and the outage's restore must not race: a frozen PostgreSQL
/// is thawed and stopped, and nothing of it survives `down`.
async fn down_during_a_frozen_outage_leaves_no_server(env: &LocalEnv) {
    let servers = dependency_pids(env);
    assert!(servers.len() >= 2, "PostgreSQL and Redis run: {servers:?}");
    let output = env
        .opsbox(&[
            "chaos", "outage", "postgres", "--for", "5m", "--mode", "freeze",
        ])
        .await;
    assert_success("chaos outage postgres --for 5m --mode freeze", &output);
    let started = std::time::Instant::now();
    let down = env.opsbox(&["down"]).await;
    assert_success("down", &down);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "down waited on the frozen server: {:?}",
        started.elapsed()
    );
    for pid in servers {
        until(
            &format!("server pid {pid} to be gone"),
            DEADLINE,
            || async move { is_gone(pid).then_some(()) },
        )
        .await;
    }
}

/// Processes working in this state dir's `deps/`: PostgreSQL (postmaster and backends
/// work in its data directory) and Redis. Their titles are rewritten, their working
/// directories are not.
fn dependency_pids(env: &LocalEnv) -> Vec<u32> {
    let deps = env
        .root()
        .join("deps")
        .canonicalize()
        .expect("deps directory");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse().ok())
        else {
            continue;
        };
        if std::fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(&deps)) {
            pids.push(pid);
        }
    }
    pids
}

async fn chaos_list(env: &LocalEnv) -> ChaosStatus {
    let output = env.opsbox(&["chaos", "list", "--json"]).await;
    assert_success("chaos list --json", &output);
    serde_json::from_slice(&output.stdout).expect("chaos list JSON")
}

async fn ready_status(http: &reqwest::Client, url: &str) -> Option<u16> {
    http.get(url)
        .send()
        .await
        .ok()
        .map(|answer| answer.status().as_u16())
}
