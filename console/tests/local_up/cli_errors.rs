//! Bad input and missing environments: clear messages, non-zero exits, never a panic.

use crate::harness::{assert_success, LocalEnv};

#[tokio::test]
async fn bad_input_and_no_environment_give_clear_errors() {
    let env = LocalEnv::new().await;
    for args in [
        &["up", "--api-replicas", "0"][..],
        &["up", "--workers", "many"],
        &["up", "--port", "70000"],
        &["status", "--colour"],
        &["frobnicate"],
    ] {
        let output = env.opsbox(args).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("error:"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }

    let status = env.opsbox(&["status"]).await;
    assert_eq!(status.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(
        stderr.contains("no local environment is running") && stderr.contains("opsbox up"),
        "{stderr}"
    );

    let down = env.opsbox(&["down"]).await;
    assert_success("down with nothing running", &down);
    assert!(String::from_utf8_lossy(&down.stdout).contains("nothing to stop"));
}

#[tokio::test]
async fn a_crashed_daemon_is_reported_by_status_and_cleaned_by_down() {
    let env = LocalEnv::new().await;
    // A record left by a daemon that no longer exists: pid beyond pid_max is never alive.
    let record = serde_json::json!({
        "pid": 4_194_305u32,
        "control_addr": "127.0.0.1:9",
        "token_path": env.root().join("control.token"),
        "started_at": "2026-01-01T00:00:00Z",
    });
    std::fs::write(env.root().join("daemon.json"), record.to_string()).expect("writes record");
    std::fs::write(env.root().join("control.token"), "x").expect("writes token");
    std::fs::write(env.root().join("instances.json"), r#"{"pids":[]}"#).expect("writes pids");

    let status = env.opsbox(&["status"]).await;
    assert_eq!(status.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&status.stderr).contains("is gone"));

    let down = env.opsbox(&["down"]).await;
    assert_success("down after a crash", &down);
    assert!(String::from_utf8_lossy(&down.stdout).contains("crashed"));
    assert!(!env.root().join("daemon.json").exists());
    assert!(!env.root().join("instances.json").exists());
}

#[tokio::test]
async fn up_on_a_taken_port_fails_with_the_reason_and_leaves_no_daemon() {
    let env = LocalEnv::new().await;
    let taken = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("binds");
    let port = taken.local_addr().expect("addr").port().to_string();
    let output = env.opsbox(&["up", "--port", &port]).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot start the router"), "{stderr}");
    assert!(
        stderr.contains("daemon.log"),
        "the log tail is quoted: {stderr}"
    );
    assert!(!env.root().join("daemon.json").exists());
}
