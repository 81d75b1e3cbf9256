//! A local environment whose daemon runs its own PostgreSQL and Redis, whatever the
//! test process's environment says: outages can only take away servers opsbox owns.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::harness::{assert_success, opsbox_exe};

/// `up` runs initdb on a fresh state dir; a drill runs for a few minutes at most.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(420);

/// Variables that would point the daemon at shared servers.
const SHARED_DEPENDENCY_VARS: [&str; 3] = ["DATABASE_URL", "REDIS_URL", "OPSBOX_QUEUE_PREFIX"];

pub struct PrivateEnv {
    pub state_dir: tempfile::TempDir,
    pub port: u16,
}

impl PrivateEnv {
    pub fn new() -> Self {
        Self {
            state_dir: tempfile::tempdir().expect("temp state dir"),
            port: opsbox_harness::free_port().expect("free port"),
        }
    }

    pub fn root(&self) -> &Path {
        self.state_dir.path()
    }

    /// Runs `opsbox ARGS` against this state dir, without the shared servers' URLs.
    pub async fn opsbox(&self, args: &[&str]) -> Output {
        let mut command = tokio::process::Command::new(opsbox_exe());
        command
            .args(args)
            .env("OPSBOX_STATE_DIR", self.root())
            // One process fewer on a small machine; no test here needs Prometheus.
            .env("OPSBOX_PROMETHEUS", "off")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        for var in SHARED_DEPENDENCY_VARS {
            command.env_remove(var);
        }
        tokio::time::timeout(COMMAND_TIMEOUT, command.output())
            .await
            .unwrap_or_else(|_| panic!("opsbox {args:?} took longer than {COMMAND_TIMEOUT:?}"))
            .expect("opsbox runs")
    }

    pub async fn up(&self, api_replicas: u16, workers: u16) {
        let output = self
            .opsbox(&[
                "up",
                "--api-replicas",
                &api_replicas.to_string(),
                "--workers",
                &workers.to_string(),
                "--port",
                &self.port.to_string(),
            ])
            .await;
        assert_success("up", &output);
    }

    pub fn router_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for PrivateEnv {
    /// A failed test must not leave a stack running.
    fn drop(&mut self) {
        if self.root().join("daemon.json").exists() {
            let _ = std::process::Command::new(opsbox_exe())
                .arg("down")
                .env("OPSBOX_STATE_DIR", self.root())
                .stdin(std::process::Stdio::null())
                .output();
        }
    }
}
