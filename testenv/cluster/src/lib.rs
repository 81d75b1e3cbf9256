//! Test fixture for the cluster tier: a real control plane (etcd,
//! kube-apiserver, kube-controller-manager, kube-scheduler), kwok's fake
//! kubelets and the Argo Rollouts controller on 127.0.0.1, started by
//! `scripts/cluster.sh up` with a private state directory and stopped by
//! `down` when the [`Cluster`] is dropped.
//!
//! Tests drive the cluster the way people do: `kubectl` and
//! `kubectl-argo-rollouts` as subprocesses, reading `-o json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub mod api_stand_in;
pub mod release;
pub mod tmux;

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// Set to 1 (CI does) to turn "the cluster tier cannot run here" into a failure.
pub const REQUIRE_ENV: &str = "OPSBOX_REQUIRE_CLUSTER";

/// The users of the cluster's `--token-auth-file`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum User {
    /// `system:masters`.
    Admin,
    /// Bound to the `view` ClusterRole.
    Viewer,
    /// Reads the app namespace, patches rollouts (and their status), deletes pods.
    Operator,
}

impl User {
    fn env_var(self) -> &'static str {
        match self {
            User::Admin => "OPSBOX_KUBECONFIG_ADMIN",
            User::Viewer => "OPSBOX_KUBECONFIG_VIEWER",
            User::Operator => "OPSBOX_KUBECONFIG_OPERATOR",
        }
    }
}

/// The workspace root (where `scripts/` is).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// Where scripts/cluster-build.sh puts binaries and data.
pub fn cluster_dir() -> PathBuf {
    std::env::var_os("OPSBOX_CLUSTER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/cluster"))
}

fn go_on_path() -> bool {
    Command::new("go")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Why the cluster tier cannot run here, if it cannot: its binaries are not
/// built (and are current for the pinned versions).
pub fn unavailable_reason() -> Option<String> {
    let current = Command::new(workspace_root().join("scripts/cluster-build.sh"))
        .arg("check")
        .env("OPSBOX_CLUSTER_DIR", cluster_dir())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if current {
        None
    } else if go_on_path() {
        Some("its binaries are not built or out of date: run `make cluster-tools`".into())
    } else {
        Some(
            "Go is not on PATH, so its binaries cannot be built (see docs/runbooks/cluster.md)"
                .into(),
        )
    }
}

/// A running cluster with a private state directory; `down` on drop.
pub struct Cluster {
    _dir: tempfile::TempDir,
    state: PathBuf,
    env: BTreeMap<String, String>,
    /// Given to every `scripts/cluster.sh` run (e.g. OPSBOX_CLUSTER_QPS).
    script_env: Vec<(String, String)>,
    stopped: bool,
}

impl Cluster {
    /// Starts a cluster, or returns `None` after printing one skip line when
    /// the tier cannot run here (an error instead when [`REQUIRE_ENV`] is 1).
    pub fn start_or_skip(test: &str) -> Result<Option<Cluster>> {
        if let Some(reason) = unavailable_reason() {
            if std::env::var(REQUIRE_ENV).as_deref() == Ok("1") {
                bail!("{test}: the cluster tier is required ({REQUIRE_ENV}=1) but {reason}");
            }
            eprintln!("SKIP {test}: cluster tier not run: {reason}");
            return Ok(None);
        }
        Cluster::start().map(Some)
    }

    /// Runs `scripts/cluster.sh up` with a fresh state directory.
    pub fn start() -> Result<Cluster> {
        Cluster::start_with_env(&[])
    }

    /// [`Cluster::start`] with variables for `scripts/cluster.sh`.
    pub fn start_with_env(script_env: &[(&str, &str)]) -> Result<Cluster> {
        let dir = tempfile::Builder::new()
            .prefix("opsbox-cluster-")
            .tempdir()?;
        let state = dir.path().join("state");
        let mut cluster = Cluster {
            _dir: dir,
            state,
            env: BTreeMap::new(),
            script_env: script_env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            stopped: false,
        };
        let out = cluster.script("up")?;
        if !out.status.success() {
            bail!(
                "scripts/cluster.sh up failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        cluster.guard()?;
        let env = cluster.script("env")?;
        if !env.status.success() {
            bail!(
                "scripts/cluster.sh env failed: {}",
                String::from_utf8_lossy(&env.stderr)
            );
        }
        cluster.env = parse_exports(&String::from_utf8_lossy(&env.stdout));
        Ok(cluster)
    }

    /// A watcher in its own session that runs `down` once this process is
    /// gone: a test killed on its timeout (no Drop) leaves no cluster behind.
    fn guard(&self) -> Result<()> {
        let script = workspace_root().join("scripts/cluster.sh");
        let watch = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             if [ -d '{state}/run' ]; then exec '{script}' --state-dir '{state}' down; fi",
            pid = std::process::id(),
            state = self.state.display(),
            script = script.display(),
        );
        Command::new("setsid")
            .args(["sh", "-c", &watch])
            .env("OPSBOX_CLUSTER_DIR", cluster_dir())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("starting the teardown guard")?;
        Ok(())
    }

    fn script(&self, verb: &str) -> Result<Output> {
        Command::new(workspace_root().join("scripts/cluster.sh"))
            .arg("--state-dir")
            .arg(&self.state)
            .arg(verb)
            .env("OPSBOX_CLUSTER_DIR", cluster_dir())
            .envs(self.script_env.iter().map(|(k, v)| (k, v)))
            .output()
            .with_context(|| format!("running scripts/cluster.sh {verb}"))
    }

    /// The state directory (logs, kubeconfigs, pid files, ports.env).
    pub fn state_dir(&self) -> &Path {
        &self.state
    }

    /// A variable of `scripts/cluster.sh env` (e.g. `OPSBOX_CLUSTER_POD_LOG`).
    pub fn env(&self, name: &str) -> Result<&str> {
        self.env
            .get(name)
            .map(String::as_str)
            .with_context(|| format!("{name} not in scripts/cluster.sh env"))
    }

    /// The app namespace (where the operator's Role applies).
    pub fn namespace(&self) -> &str {
        self.env("OPSBOX_K8S_NAMESPACE").unwrap_or("opsbox")
    }

    pub fn kubeconfig(&self, user: User) -> Result<&str> {
        self.env(user.env_var())
    }

    fn bin(&self, name: &str) -> Result<PathBuf> {
        Ok(Path::new(self.env("OPSBOX_CLUSTER_BIN")?).join(name))
    }

    /// `kubectl` as `user` in the app namespace; its output, whatever its status.
    pub fn kubectl_output(&self, user: User, args: &[&str], stdin: Option<&str>) -> Result<Output> {
        run(
            self.bin("kubectl")?,
            self.kubeconfig(user)?,
            self.namespace(),
            args,
            stdin,
        )
    }

    /// `kubectl` as `user`; fails on a non-zero exit. Returns stdout.
    pub fn kubectl(&self, user: User, args: &[&str]) -> Result<String> {
        checked("kubectl", args, self.kubectl_output(user, args, None)?)
    }

    /// `kubectl` with a manifest on stdin (`apply -f -`, `create -f -`).
    pub fn kubectl_stdin(&self, user: User, args: &[&str], stdin: &str) -> Result<String> {
        checked(
            "kubectl",
            args,
            self.kubectl_output(user, args, Some(stdin))?,
        )
    }

    /// `kubectl ... -o json`, parsed.
    pub fn json(&self, user: User, args: &[&str]) -> Result<Value> {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let out = self.kubectl(user, &all)?;
        serde_json::from_str(&out).with_context(|| format!("kubectl {args:?}: not JSON: {out}"))
    }

    /// The `kubectl-argo-rollouts` plugin as `user` (`promote`, `abort`...).
    pub fn rollouts_plugin(&self, user: User, args: &[&str]) -> Result<String> {
        let out = run(
            self.bin("kubectl-argo-rollouts")?,
            self.kubeconfig(user)?,
            self.namespace(),
            args,
            None,
        )?;
        checked("kubectl-argo-rollouts", args, out)
    }

    /// The loopback ports the cluster's components listen on (ports.env).
    pub fn ports(&self) -> Result<Vec<u16>> {
        let text = std::fs::read_to_string(self.state.join("ports.env"))?;
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(_, v)| v.trim_matches('"').parse().context("port"))
            .collect()
    }

    /// The process ids (= process group ids) of the components.
    pub fn pids(&self) -> Result<Vec<u32>> {
        let mut pids = Vec::new();
        for entry in std::fs::read_dir(self.state.join("run"))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "pid") {
                pids.push(std::fs::read_to_string(&path)?.trim().parse()?);
            }
        }
        Ok(pids)
    }

    /// `scripts/cluster.sh down`.
    pub fn stop(&mut self) -> Result<()> {
        self.stopped = true;
        let out = self.script("down")?;
        if !out.status.success() {
            bail!(
                "scripts/cluster.sh down failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// On a failed test: each component's state and its log tail.
    pub fn status_report(&self) -> String {
        match self.script("status") {
            Ok(out) => format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => format!("status: {e:#}"),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.stopped {
            if let Err(e) = self.stop() {
                eprintln!("cluster teardown: {e:#}");
            }
        }
    }
}

fn run(
    bin: PathBuf,
    kubeconfig: &str,
    ns: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> Result<Output> {
    use std::io::Write;
    use std::process::Stdio;
    let mut cmd = Command::new(&bin);
    cmd.arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("-n")
        .arg(ns)
        .args(args);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input.as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}

fn checked(tool: &str, args: &[&str], out: Output) -> Result<String> {
    if !out.status.success() {
        bail!(
            "{tool} {}: {}\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// `export NAME=VALUE` lines into a map (`PATH` is left out: it refers to `$PATH`).
pub fn parse_exports(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| *k != "PATH")
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Polls `check` until it yields a value or `timeout` passes; the error
/// names what was awaited and the last observation.
pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<std::result::Result<T, String>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match check() {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(observed)) => observed,
            Err(e) => format!("error: {e:#}"),
        };
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}; last seen: {last}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_parse_without_path() {
        let env = parse_exports("export KUBECONFIG=/s/kubeconfig/admin\nexport PATH=/b:$PATH\n");
        assert_eq!(
            env.get("KUBECONFIG").map(String::as_str),
            Some("/s/kubeconfig/admin")
        );
        assert!(!env.contains_key("PATH"));
    }

    #[test]
    fn wait_until_reports_the_last_observation() {
        let err = wait_until::<()>("nothing", Duration::from_millis(10), || {
            Ok(Err("still no".into()))
        })
        .unwrap_err();
        assert!(format!("{err}").contains("still no"), "{err}");
    }
}
