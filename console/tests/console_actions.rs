//! The console against a real local environment: its collectors read what `opsbox up`
//! started, its actions (restart, kill, a refused promote) reach the daemon, each leaves
//! an audit entry with its outcome, and a stopped environment is reported as such.
//!
//! Needs `cargo build --workspace` first (the `opsbox-api` and `opsbox-worker` binaries).
//! The keys and screens themselves are covered by the snapshot and unit tests in
//! `console/src/tui`; a tmux test drives the binary.

#[allow(dead_code)]
#[path = "local_up/harness.rs"]
mod harness;

use std::time::Duration;

use opsbox::audit::Outcome;
use opsbox::env::{EnvArgs, Environment};
use opsbox::tui::collect::{self, Update};
use opsbox::tui::effects::perform_and_audit;
use opsbox::tui::view::Action;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use harness::{until, LocalEnv};

/// An instance restart or a kill takes effect within this, restart delay included.
const SETTLED: Duration = Duration::from_secs(60);

async fn next_matching(
    updates: &mut mpsc::Receiver<Update>,
    what: &str,
    mut wanted: impl FnMut(&Update) -> bool,
) -> Update {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let update = updates.recv().await.expect("collectors run");
            if wanted(&update) {
                return update;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {what} from the collectors within 30s"))
}

fn pid_of(env_status: &opsbox::model::EnvironmentStatus, name: &str) -> Option<u32> {
    env_status
        .instances
        .iter()
        .find(|instance| instance.name == name)
        .and_then(|instance| instance.pid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_collects_acts_and_audits_against_a_real_environment() {
    let env = LocalEnv::new().await;
    // The environment through the one door the CLI and the console use.
    let environment = EnvArgs {
        state_dir: Some(env.root().to_path_buf()),
        ..EnvArgs::default()
    }
    .open(false)
    .expect("the local environment opens before it runs");
    let stop = CancellationToken::new();
    let (sender, mut updates) = mpsc::channel(collect::UPDATE_QUEUE);
    collect::spawn_all(&environment, sender, stop.clone());

    // Nothing runs yet: said as such, with where the console looked.
    let Update::NotRunning(message) = next_matching(&mut updates, "not-running report", |u| {
        matches!(u, Update::NotRunning(_))
    })
    .await
    else {
        unreachable!()
    };
    assert!(
        message.contains(&env.root().display().to_string()),
        "{message}"
    );

    env.up(1, 1).await;
    let Update::Status { result, .. } = next_matching(
        &mut updates,
        "status",
        |u| matches!(u, Update::Status { result: Ok(status), .. } if status.instances.len() >= 2),
    )
    .await
    else {
        unreachable!()
    };
    let status = result.expect("status");
    let api_pid = pid_of(&status, "api-1").expect("api-1 runs");
    // The SLO report answers (or says why not); either way it reaches the app.
    next_matching(&mut updates, "SLO report", |u| {
        matches!(u, Update::Slo { .. })
    })
    .await;

    // A graceful restart: a new process, not counted as a crash restart.
    let restarted = perform_and_audit(
        &Action::RestartInstance("api-1".to_owned()),
        &environment,
        stop.clone(),
    )
    .await
    .expect("restart");
    assert_eq!(restarted, "api-1 stopped and started again");
    let restarted_status = until("api-1 running with a new pid", SETTLED, || async {
        let status = env.status().await;
        let instance = status.instances.iter().find(|i| i.name == "api-1")?.clone();
        (instance.pid.is_some_and(|pid| pid != api_pid)).then_some(instance)
    })
    .await;
    assert_eq!(restarted_status.restarts, 0);

    // A kill: SIGKILL, and the supervisor's restart counter goes up.
    let worker_pid = pid_of(&env.status().await, "worker-1").expect("worker-1 runs");
    let killed = perform_and_audit(
        &Action::KillInstance("worker-1".to_owned()),
        &environment,
        stop.clone(),
    )
    .await
    .expect("kill");
    assert!(killed.contains(&format!("pid {worker_pid}")), "{killed}");
    until("worker-1 restarted after the kill", SETTLED, || async {
        let status = env.status().await;
        let instance = status
            .instances
            .iter()
            .find(|i| i.name == "worker-1")?
            .clone();
        (instance.restarts >= 1 && instance.pid.is_some_and(|pid| pid != worker_pid)).then_some(())
    })
    .await;

    // Refusals come back with the daemon's words.
    let unknown = perform_and_audit(
        &Action::RestartInstance("api-9".to_owned()),
        &environment,
        stop.clone(),
    )
    .await
    .expect_err("no such instance");
    assert!(unknown.contains("no instance named \"api-9\""), "{unknown}");
    let promote = perform_and_audit(&Action::Promote, &environment, stop.clone())
        .await
        .expect_err("nothing to promote");
    assert!(!promote.is_empty());

    // Every action is in the audit log, by the console, with its outcome.
    let entries = environment
        .records()
        .audit_log()
        .read_recent(100)
        .expect("audit log")
        .entries;
    let console: Vec<(&str, &str, bool)> = entries
        .iter()
        .filter(|entry| entry.parameters["via"] == "console")
        .map(|entry| {
            (
                entry.action.as_str(),
                entry.target.as_str(),
                entry.outcome == Outcome::Ok,
            )
        })
        .collect();
    assert_eq!(
        console,
        [
            ("instance.restart", "api-1", true),
            ("chaos.kill", "worker-1", true),
            ("instance.restart", "api-9", false),
            ("rollout.promote", "api", false),
        ]
    );

    // Stopped: the collectors report it, and an action says it needs an environment.
    harness::assert_success("down", &env.opsbox(&["down"]).await);
    next_matching(&mut updates, "not-running report after down", |u| {
        matches!(u, Update::NotRunning(_))
    })
    .await;
    let refused = perform_and_audit(&Action::Abort, &environment, stop.clone())
        .await
        .expect_err("nothing runs");
    assert!(
        refused.contains("no local environment is running"),
        "{refused}"
    );
    stop.cancel();
}

#[tokio::test]
async fn the_console_without_a_terminal_says_what_to_use_instead() {
    let env = LocalEnv::new().await;
    let output = env.opsbox(&[]).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the console needs a terminal"), "{stderr}");
    let missing = env.root().join("no-kubeconfig");
    let missing = missing.to_str().expect("utf-8 path");
    let output = env
        .opsbox(&["--env", "kubernetes", "--kubeconfig", missing])
        .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read the kubeconfig"), "{stderr}");
    assert!(stderr.contains(missing), "{stderr}");
}
