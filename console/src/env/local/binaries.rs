//! Finds the service binaries the daemon runs: next to `opsbox`, or in `OPSBOX_BIN_DIR`.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Overrides the directory holding `opsbox-api` and `opsbox-worker`.
pub const BIN_DIR_ENV: &str = "OPSBOX_BIN_DIR";

/// The programs of the stack.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub api: PathBuf,
    pub worker: PathBuf,
}

impl Binaries {
    /// `OPSBOX_BIN_DIR` when set, else the directory of the running `opsbox` (one
    /// `cargo build --workspace` puts them side by side).
    pub fn locate() -> anyhow::Result<Self> {
        let dir = match std::env::var_os(BIN_DIR_ENV).filter(|dir| !dir.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => std::env::current_exe()
                .context("cannot find the running opsbox executable")?
                .parent()
                .map(Path::to_path_buf)
                .context("the opsbox executable has no parent directory")?,
        };
        Ok(Self {
            api: program(&dir, "opsbox-api")?,
            worker: program(&dir, "opsbox-worker")?,
        })
    }
}

fn program(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        anyhow::bail!(
            "{name} not found in {} (build it with `cargo build --workspace`, or set {BIN_DIR_ENV})",
            dir.display()
        )
    }
}
