//! `opsbox rollback` on the local environment: it asks first and refuses without an
//! answer, and once confirmed the previous revision is stable again and audited.

use std::process::Stdio;

use opsbox::model::RolloutPhase;
use tokio::io::AsyncWriteExt;

use crate::harness::{assert_success, opsbox_exe};
use crate::rollout::{audit_lines, env_with_steps, rollout, wait_rollout, MANUAL_STEPS};

/// `opsbox rollback` with `answer` typed on stdin.
async fn rollback_answering(env: &crate::harness::LocalEnv, answer: &str) -> std::process::Output {
    let mut child = tokio::process::Command::new(opsbox_exe())
        .args(["rollback", "--json"])
        .env("OPSBOX_STATE_DIR", env.root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("opsbox rollback starts");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(answer.as_bytes())
        .await
        .expect("answer written");
    drop(stdin);
    child.wait_with_output().await.expect("rollback ends")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_asks_first_then_brings_the_previous_revision_back() {
    let (env, _values) = env_with_steps(MANUAL_STEPS).await;
    env.up(1, 1).await;
    rollout(&env, &["start", "--revision", "v2"]).await;
    wait_rollout(&env, "the canary at its first pause", |status| {
        status.phase == RolloutPhase::Paused
    })
    .await;
    rollout(&env, &["promote", "--full"]).await;
    wait_rollout(&env, "v2 stable", |status| {
        status.phase == RolloutPhase::Healthy && status.stable_revision == "v2"
    })
    .await;

    // No stdin (a pipeline without --yes): refused, nothing changes.
    let refused = env.opsbox(&["rollback"]).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Roll back the api in local") && stderr.contains("stable is v2"),
        "the question says what changes: {stderr}"
    );
    assert!(
        stderr.contains("no answer on stdin") && stderr.contains("--yes"),
        "{stderr}"
    );
    // Declined: nothing changes either.
    let declined = rollback_answering(&env, "n\n").await;
    assert_eq!(declined.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&declined.stderr).contains("not confirmed"));
    assert_eq!(rollout(&env, &["status"]).await.stable_revision, "v2");
    assert!(
        !audit_lines(env.root())
            .iter()
            .any(|line| line["action"] == "rollout.undo"),
        "nothing was done, so nothing is audited"
    );

    // A wrong app is a usage error before anything is asked.
    let usage = env.opsbox(&["rollback", "--app", "worker", "--yes"]).await;
    assert_eq!(usage.status.code(), Some(2));

    let confirmed = rollback_answering(&env, "y\n").await;
    assert_success("rollback answered y", &confirmed);
    wait_rollout(&env, "v1 stable again", |status| {
        status.phase == RolloutPhase::Healthy && status.stable_revision == "v1"
    })
    .await;
    let undo: Vec<_> = audit_lines(env.root())
        .into_iter()
        .filter(|line| line["action"] == "rollout.undo")
        .collect();
    assert_eq!(undo.len(), 1, "{undo:#?}");
    assert_eq!(undo[0]["outcome"]["status"], "ok", "{undo:#?}");

    // --yes asks nothing: back to v2 by name.
    let output = env
        .opsbox(&["rollback", "--yes", "--to", "v2", "--json"])
        .await;
    assert_success("rollback --yes --to v2", &output);
    wait_rollout(&env, "v2 stable again", |status| {
        status.phase == RolloutPhase::Healthy && status.stable_revision == "v2"
    })
    .await;
}
