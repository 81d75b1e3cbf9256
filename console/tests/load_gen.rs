//! `opsbox load` end to end: the real `opsbox` against a real stack (`opsbox up`),
//! and the library against a server that accepts connections and never answers.
//!
//! Like `local_up`, this needs `opsbox-api` and `opsbox-worker` built next to
//! `opsbox` (`cargo build --workspace`); DATABASE_URL / REDIS_URL are honoured.

// Shared with the `local_up` tests; not every helper is used here.
#[allow(dead_code)]
#[path = "local_up/harness.rs"]
mod harness;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::{assert_success, LocalEnv};
use opsbox::load::{self, LoadConfig, LoadReport, Operation};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Process start, connecting to the daemon and the drain on top of the run itself.
const SLACK: Duration = Duration::from_secs(10);

#[tokio::test]
async fn load_gen_through_the_router_creates_runs_and_reads_tasks() {
    let env = LocalEnv::new().await;

    // No environment and no --url: a clear error, not a panic.
    let orphan = env.opsbox(&["load", "--for", "1s"]).await;
    assert_eq!(orphan.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&orphan.stderr);
    assert!(
        stderr.contains("no --url given") && stderr.contains("opsbox up"),
        "{stderr}"
    );

    env.up(1, 1).await;
    let started = Instant::now();
    let output = env
        .opsbox(&["load", "--rps", "50", "--for", "3s", "--json", "--quiet"])
        .await;
    let took = started.elapsed();
    assert_success("load", &output);
    let report: LoadReport = serde_json::from_slice(&output.stdout).expect("report JSON");
    assert!(
        took < Duration::from_secs(3) + SLACK,
        "a 3 s load took {took:?}"
    );
    assert_eq!(report.base_url, env.router_url());

    // 3 s at 50/s is 150 slots; on a loaded machine a few may be skipped, none lost.
    assert_eq!(report.requests + report.skipped, 150, "{report:#?}");
    assert!(report.requests >= 140, "{report:#?}");
    assert!((2.5..=3.5).contains(&report.elapsed_secs), "{report:#?}");
    assert_eq!(report.transport_errors, 0, "{report:#?}");
    assert_eq!(report.unfinished, 0, "{report:#?}");
    assert_eq!(report.non_2xx(), 0, "{report:#?}");
    assert_eq!(report.error_ratio(), 0.0);
    assert_eq!(
        report.by_status.values().sum::<u64>(),
        report.requests,
        "{report:#?}"
    );
    assert!(report.latency_ms.p50 > 0.0 && report.latency_ms.p50 <= report.latency_ms.p99);
    assert!(report.latency_ms.p99 <= report.latency_ms.max);
    for operation in [Operation::Create, Operation::Run, Operation::Read] {
        assert!(
            report
                .operations
                .get(&operation)
                .is_some_and(|figures| figures.requests > 0),
            "no {operation} requests: {report:#?}"
        );
    }
    assert!(report.tasks_created > 0);
    assert_eq!(
        Some(report.tasks_created),
        report.operations[&Operation::Create]
            .by_status
            .get(&201)
            .copied()
    );

    // What the API holds agrees: every created task is listed, and exactly the
    // ones that were run have left PENDING.
    let tasks = list_all_tasks(&env.router_url()).await;
    let ours: Vec<&Value> = tasks
        .iter()
        .filter(|task| {
            task["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("load "))
        })
        .collect();
    assert_eq!(ours.len() as u64, report.tasks_created);
    let run_accepted = report.operations[&Operation::Run]
        .by_status
        .get(&202)
        .copied()
        .unwrap_or(0);
    let left_pending = ours
        .iter()
        .filter(|task| task["status"] != "PENDING")
        .count() as u64;
    assert_eq!(left_pending, run_accepted);
    // The default kinds are a mix, not all `io`.
    assert!(
        ours.iter().any(|task| task["kind"] != "io"),
        "only io tasks: {ours:?}"
    );

    // The human report, with --url instead of the environment's status.
    let url = env.router_url();
    let text = env
        .opsbox(&[
            "load", "--url", &url, "--rps", "5", "--for", "1s", "--quiet",
        ])
        .await;
    assert_success("load --url", &text);
    let stdout = String::from_utf8_lossy(&text.stdout);
    for expected in [
        "requests in",
        "status codes:",
        "latency:",
        "p99",
        "tasks created:",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing:\n{stdout}");
    }
}

#[tokio::test]
async fn load_gen_bad_arguments_are_usage_errors() {
    let env = LocalEnv::new().await;
    for args in [
        &["load", "--for", "0s"][..],
        &["load", "--rps", "0"],
        &["load", "--rps", "many"],
        &["load", "--mix", "create=1,frobnicate=2"],
        &["load", "--mix", "create=0"],
        &["load", "--kinds", "io=-1"],
        &["load", "--for", "48h"],
    ] {
        let output = env.opsbox(args).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("error:"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let output = env
        .opsbox(&["load", "--url", "localhost:8080", "--for", "1s"])
        .await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("\"localhost:8080\" is not an http:// URL"),
        "{stderr}"
    );
}

/// A server that accepts every connection and never answers; counts connections.
struct StalledServer {
    url: String,
    accepted: Arc<AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

async fn stalled_server() -> StalledServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    let task = tokio::spawn(async move {
        // Held, never read or answered; dropped with the task at the end of the test.
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    StalledServer {
        url,
        accepted,
        _task: task,
    }
}

#[tokio::test]
async fn load_gen_in_flight_cap_holds_against_a_server_that_never_answers() {
    let server = stalled_server().await;
    let config = LoadConfig {
        rps: 50,
        duration: Duration::from_secs(1),
        max_in_flight: 4,
        drain: Duration::from_millis(500),
        ..LoadConfig::default()
    };
    let started = Instant::now();
    let report = load::run(&server.url, &config, CancellationToken::new(), None)
        .await
        .expect("runs");
    let took = started.elapsed();

    assert!(
        took < Duration::from_millis(1500) + Duration::from_secs(1),
        "the run ended {took:?} after its start"
    );
    assert_eq!(report.requests, 4, "{report:#?}");
    assert_eq!(report.skipped, 46, "{report:#?}");
    assert_eq!(report.unfinished, 4, "{report:#?}");
    assert_eq!(report.transport_errors, 0, "{report:#?}");
    assert!(report.by_status.is_empty(), "{report:#?}");
    assert_eq!(server.accepted.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn load_gen_stop_ends_a_long_run_early_with_the_figures_so_far() {
    let server = stalled_server().await;
    let config = LoadConfig {
        rps: 50,
        duration: Duration::from_secs(3600),
        max_in_flight: 3,
        drain: Duration::from_millis(300),
        ..LoadConfig::default()
    };
    let stop = CancellationToken::new();
    let (progress, mut watcher) = tokio::sync::watch::channel(load::LoadProgress::default());
    let url = server.url.clone();
    let running = tokio::spawn({
        let stop = stop.clone();
        async move { load::run(&url, &config, stop, Some(progress)).await }
    });
    // Stop once the cap is reached and slots are being skipped.
    harness::until(
        "skipped slots in the progress",
        Duration::from_secs(10),
        || {
            let skipped = watcher.borrow_and_update().skipped;
            async move { (skipped > 0).then_some(()) }
        },
    )
    .await;
    let stopped = Instant::now();
    stop.cancel();
    let report = running.await.expect("joins").expect("runs");
    let took = stopped.elapsed();
    assert!(took < Duration::from_secs(2), "stopping took {took:?}");
    assert!(report.stopped_early);
    assert!(report.elapsed_secs < 60.0, "{report:#?}");
    assert_eq!((report.requests, report.unfinished), (3, 3), "{report:#?}");
    assert!(report.skipped > 0);
}

#[tokio::test]
async fn load_gen_cli_prints_the_report_after_sigterm() {
    let env = LocalEnv::new().await;
    let server = stalled_server().await;
    let child = tokio::process::Command::new(harness::opsbox_exe())
        .args(["load", "--url", &server.url, "--rps", "20", "--for", "1h"])
        .args(["--max-in-flight", "1", "--json", "--quiet"])
        .env("OPSBOX_STATE_DIR", env.root())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawns opsbox load");
    // A connection means the load runs, and its signal handlers were set before it.
    let accepted = Arc::clone(&server.accepted);
    harness::until(
        "the load's first connection",
        Duration::from_secs(30),
        || {
            let connections = accepted.load(Ordering::SeqCst);
            async move { (connections > 0).then_some(()) }
        },
    )
    .await;
    let pid = child.id().expect("running");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid")),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signals");
    let output = tokio::time::timeout(SLACK, child.wait_with_output())
        .await
        .expect("exits soon after SIGTERM")
        .expect("output");
    assert_success("load after SIGTERM", &output);
    let report: LoadReport = serde_json::from_slice(&output.stdout).expect("report JSON");
    assert!(report.stopped_early, "{report:#?}");
    assert_eq!((report.requests, report.unfinished), (1, 1), "{report:#?}");
}

#[tokio::test]
async fn load_gen_cli_ends_on_time_and_reports_skips_when_the_server_stalls() {
    let env = LocalEnv::new().await;
    let server = stalled_server().await;
    let started = Instant::now();
    let output = env
        .opsbox(&[
            "load",
            "--url",
            &server.url,
            "--rps",
            "20",
            "--for",
            "1s",
            "--max-in-flight",
            "2",
            "--json",
        ])
        .await;
    let took = started.elapsed();
    assert_success("load against a stalled server", &output);
    // 1 s of load plus the default 5 s drain, then it gives up on the rest.
    assert!(took < Duration::from_secs(6) + SLACK, "took {took:?}");
    let report: LoadReport = serde_json::from_slice(&output.stdout).expect("report JSON");
    assert_eq!((report.requests, report.skipped), (2, 18), "{report:#?}");
    assert_eq!(report.unfinished, 2);
    assert!(server.accepted.load(Ordering::SeqCst) <= 2);
    // Without --quiet and with stderr not a terminal, the summary is plain lines.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains('\x1b'), "{stderr}");
}

/// Every task, following `next_cursor`.
async fn list_all_tasks(base_url: &str) -> Vec<Value> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let mut tasks = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: Value = http
            .get(format!("{base_url}/tasks?limit=100&cursor={cursor}"))
            .send()
            .await
            .expect("GET /tasks")
            .error_for_status()
            .expect("GET /tasks is 200")
            .json()
            .await
            .expect("a page");
        tasks.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return tasks,
        }
    }
}
