//! Runs the real `opsbox` in a temporary state dir, and cleans up whatever a failed test left.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use opsbox::model::EnvironmentStatus;
use opsbox_harness::Dependencies;

/// Turns the local environment's Prometheus off, or on.
const PROMETHEUS_ENV: &str = "OPSBOX_PROMETHEUS";

/// How long one `opsbox` command may take (`up` includes initdb on a fresh state dir;
/// `drill run` lasts a few minutes).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(420);

/// Variables that would point the daemon at shared servers.
const SHARED_DEPENDENCY_VARS: [&str; 3] = ["DATABASE_URL", "REDIS_URL", "OPSBOX_QUEUE_PREFIX"];

/// An `opsbox` invocation context: its state dir, router port and environment.
pub struct LocalEnv {
    pub state_dir: tempfile::TempDir,
    pub port: u16,
    env: Vec<(String, String)>,
    /// Removed from every `opsbox` this environment runs.
    removed: &'static [&'static str],
    /// Kept so external servers' private database outlives the test.
    _deps: Option<Dependencies>,
}

impl LocalEnv {
    /// A fresh state dir; with DATABASE_URL set, a database and queue prefix of its own.
    pub async fn new() -> Self {
        assert_service_binaries_built();
        let state_dir = tempfile::tempdir().expect("temp state dir");
        let port = opsbox_harness::free_port().expect("free port");
        // One process fewer to start and scrape on a small machine, and the instance
        // counts the tests expect; the tests about Prometheus ask for it.
        let mut env = vec![(PROMETHEUS_ENV.to_owned(), "off".to_owned())];
        let mut deps = None;
        if std::env::var_os("DATABASE_URL").is_some_and(|url| !url.is_empty()) {
            let shared = Dependencies::start().await.expect("dependencies from env");
            let database_url = shared
                .create_unique_database("local_up")
                .await
                .expect("own database");
            env.push(("DATABASE_URL".to_owned(), database_url));
            env.push(("REDIS_URL".to_owned(), shared.redis_url().to_owned()));
            let prefix = format!("local_up_{}", uuid_like());
            env.push(("OPSBOX_QUEUE_PREFIX".to_owned(), prefix));
            deps = Some(shared);
        }
        Self {
            state_dir,
            port,
            env,
            removed: &[],
            _deps: deps,
        }
    }

    /// A fresh state dir whose daemon runs its own PostgreSQL and Redis whatever the
    /// test process's environment says: chaos outages can only take away servers opsbox
    /// owns.
    #[allow(dead_code)] // Used by the drill tests, which share this file.
    pub fn private() -> Self {
        assert_service_binaries_built();
        Self {
            state_dir: tempfile::tempdir().expect("temp state dir"),
            port: opsbox_harness::free_port().expect("free port"),
            env: vec![(PROMETHEUS_ENV.to_owned(), "off".to_owned())],
            removed: &SHARED_DEPENDENCY_VARS,
            _deps: None,
        }
    }

    /// Lets the daemon run Prometheus (it must be on PATH: the Debian `prometheus` package).
    #[allow(dead_code)] // Used by tests/slo_agreement.rs, which shares this file.
    pub fn with_prometheus(mut self) -> Self {
        self.env.retain(|(key, _)| key != PROMETHEUS_ENV);
        self
    }

    /// Sets a variable for every `opsbox` this environment runs (the daemon inherits it).
    #[allow(dead_code)] // Not every test binary sharing this file sets one.
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.retain(|(existing, _)| existing != key);
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn root(&self) -> &Path {
        self.state_dir.path()
    }

    /// Runs `opsbox ARGS` against this state dir and returns its output.
    pub async fn opsbox(&self, args: &[&str]) -> Output {
        let mut command = tokio::process::Command::new(opsbox_exe());
        command
            .args(args)
            .env("OPSBOX_STATE_DIR", self.root())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        for var in self.removed {
            command.env_remove(var);
        }
        tokio::time::timeout(COMMAND_TIMEOUT, command.output())
            .await
            .unwrap_or_else(|_| panic!("opsbox {args:?} took longer than {COMMAND_TIMEOUT:?}"))
            .expect("opsbox runs")
    }

    /// `opsbox up` with small counts on this test's port; panics with its output on failure.
    pub async fn up(&self, api_replicas: u16, workers: u16) -> Output {
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
        output
    }

    pub async fn status(&self) -> EnvironmentStatus {
        let output = self.opsbox(&["status", "--json"]).await;
        assert_success("status --json", &output);
        serde_json::from_slice(&output.stdout).expect("status JSON")
    }

    pub fn router_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for LocalEnv {
    /// A failed test must not leave a stack running: `down` is bounded, so this is too.
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

pub fn opsbox_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_opsbox"))
}

fn assert_service_binaries_built() {
    let dir = opsbox_exe()
        .parent()
        .map(Path::to_path_buf)
        .expect("target dir");
    for name in ["opsbox-api", "opsbox-worker"] {
        assert!(
            dir.join(name).is_file(),
            "{name} is missing from {}: run `cargo build --workspace` before these tests",
            dir.display()
        );
    }
}

pub fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "opsbox {what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    format!("{}_{nanos}", std::process::id())
}

/// True once no process has this pid; a zombie counts as gone (it runs nothing).
pub fn is_gone(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return true;
    };
    match kill(Pid::from_raw(raw), None) {
        Err(Errno::ESRCH) => true,
        Ok(()) | Err(_) => std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().next().map(|s| s == "Z"))
            })
            .unwrap_or(true),
    }
}

// The same deadline-bounded wait as the router and supervisor tests.
#[path = "../local_env/poll.rs"]
mod poll;
pub use poll::until;
