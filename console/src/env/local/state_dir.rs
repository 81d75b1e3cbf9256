//! Where the local environment keeps its files, under `OPSBOX_STATE_DIR` or `./.opsbox`.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The environment variable that moves the state directory.
pub const STATE_DIR_ENV: &str = "OPSBOX_STATE_DIR";

/// The layout of a state directory; nothing here touches the disk except `create`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// `dir` when given, else `.opsbox/` under the current directory; made absolute so a
    /// daemon and later commands agree whatever their working directory.
    pub fn resolve(dir: Option<&Path>) -> anyhow::Result<Self> {
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let root = match dir {
            Some(dir) if dir.is_absolute() => dir.to_path_buf(),
            Some(dir) => cwd.join(dir),
            None => cwd.join(".opsbox"),
        };
        Ok(Self { root })
    }

    pub fn create(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(self.logs())
            .with_context(|| format!("cannot create the state directory {}", self.root.display()))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The daemon's pid, control address and start time; present while one runs.
    pub fn daemon_record(&self) -> PathBuf {
        self.root.join("daemon.json")
    }

    /// The pids of the instances, rewritten on every change, for cleanup after a crash.
    pub fn instance_pids(&self) -> PathBuf {
        self.root.join("instances.json")
    }

    /// The bearer token of the control endpoint (mode 0600).
    pub fn control_token(&self) -> PathBuf {
        self.root.join("control.token")
    }

    /// The token of the API instances' `/admin` endpoints (mode 0600).
    pub fn admin_token(&self) -> PathBuf {
        self.root.join("admin.token")
    }

    /// The daemon's own stdout and stderr.
    pub fn daemon_log(&self) -> PathBuf {
        self.root.join("daemon.log")
    }

    /// One JSON-lines file per instance.
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    pub fn instance_log(&self, instance: &str) -> PathBuf {
        self.logs().join(format!("{instance}.log"))
    }

    /// PostgreSQL and Redis data, when the daemon runs them.
    pub fn deps(&self) -> PathBuf {
        self.root.join("deps")
    }

    /// One JSON line per mutating operation (`opsbox audit`).
    pub fn audit_log(&self) -> PathBuf {
        self.root.join("audit.jsonl")
    }

    /// The rollout in progress (or the last one) and the revision history.
    pub fn rollout_state(&self) -> PathBuf {
        self.root.join("rollout.json")
    }

    /// One JSON report per drill run.
    pub fn drill_reports(&self) -> PathBuf {
        self.root.join("drills")
    }

    /// Generated configuration and data of the local Prometheus, when one runs.
    pub fn prometheus(&self) -> PathBuf {
        self.root.join("prometheus")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_dirs_are_made_absolute() {
        let dir = StateDir::resolve(Some(Path::new("x/state"))).expect("resolves");
        assert!(dir.root().is_absolute());
        assert!(dir.root().ends_with("x/state"));
        let default = StateDir::resolve(None).expect("resolves");
        assert!(default.root().ends_with(".opsbox"));
    }
}
