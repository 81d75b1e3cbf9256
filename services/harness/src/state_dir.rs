//! Where the servers keep their data and logs: a temporary directory, or one that persists.

use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::error::{HarnessError, Result};

/// The directory holding `postgres/` and `redis/` (data and logs).
///
/// A temporary one is removed when this value is dropped; a persistent one is
/// kept, so `opsbox up` finds its database again on the next run.
#[derive(Debug)]
pub struct StateDir {
    path: PathBuf,
    temporary: Option<TempDir>,
}

impl StateDir {
    /// A fresh directory under the system temp dir, removed on drop.
    pub fn temporary() -> Result<Self> {
        let temporary = tempfile::Builder::new()
            .prefix("opsbox-deps-")
            // Traversable but not listable by others: when we run as root,
            // PostgreSQL runs as `postgres` and must reach its data dir inside.
            .permissions(Permissions::from_mode(0o711))
            .tempdir()
            .map_err(HarnessError::io("create a temporary state directory"))?;
        Ok(Self {
            path: temporary.path().to_path_buf(),
            temporary: Some(temporary),
        })
    }

    /// `path`, created if missing and kept after drop.
    pub fn persistent(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        std::fs::create_dir_all(path).map_err(HarnessError::io(format!(
            "create state directory {}",
            path.display()
        )))?;
        // Absolute, so the servers (which run in their own working directory)
        // and error messages see the same path.
        let path = path.canonicalize().map_err(HarnessError::io(format!(
            "resolve state directory {}",
            path.display()
        )))?;
        Ok(Self {
            path,
            temporary: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_temporary(&self) -> bool {
        self.temporary.is_some()
    }

    /// `name` inside the state dir, created if missing.
    pub fn subdir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.path.join(name);
        std::fs::create_dir_all(&dir)
            .map_err(HarnessError::io(format!("create {}", dir.display())))?;
        Ok(dir)
    }
}
