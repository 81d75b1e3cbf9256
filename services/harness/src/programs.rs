//! Finds the server programs on this machine: PostgreSQL's initdb and postgres, and redis-server.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{HarnessError, Result};

/// Environment variable naming the directory that holds `initdb` and `postgres`.
pub const PG_BIN_ENV: &str = "OPSBOX_PG_BIN";

/// Where Debian and Ubuntu install one directory of server programs per major version.
const DEBIAN_PG_LIB: &str = "/usr/lib/postgresql";

const REDIS_SERVER: &str = "redis-server";
/// Where Debian's `redis-server` package installs it, for a PATH without /usr/bin.
const DEBIAN_REDIS_SERVER: &str = "/usr/bin/redis-server";

/// `$OPSBOX_PG_BIN`, else the directory of `initdb` on PATH, else the newest /usr/lib/postgresql/*/bin.
pub(crate) fn postgres_bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(PG_BIN_ENV).filter(|dir| !dir.is_empty()) {
        let dir = PathBuf::from(dir);
        for program in ["initdb", "postgres"] {
            if !is_executable(&dir.join(program)) {
                return Err(HarnessError::PostgresBinDirInvalid { dir, program });
            }
        }
        return Ok(dir);
    }
    let on_path = find_on_path("initdb")
        .and_then(|initdb| initdb.parent().map(Path::to_path_buf))
        .filter(|dir| has_server_programs(dir));
    if let Some(dir) = on_path {
        return Ok(dir);
    }
    newest_versioned_bin_dir(Path::new(DEBIAN_PG_LIB)).ok_or(HarnessError::PostgresNotInstalled)
}

fn has_server_programs(bin_dir: &Path) -> bool {
    is_executable(&bin_dir.join("initdb")) && is_executable(&bin_dir.join("postgres"))
}

/// The `bin` directory of the highest version under `lib_dir` (`15` beats `9.6`).
fn newest_versioned_bin_dir(lib_dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(lib_dir).ok()?;
    entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let version = parse_version(&entry.file_name().to_string_lossy())?;
            let bin_dir = entry.path().join("bin");
            has_server_programs(&bin_dir).then_some((version, bin_dir))
        })
        .max_by(|(left, _), (right, _)| left.cmp(right))
        .map(|(_, bin_dir)| bin_dir)
}

fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// `redis-server` on PATH, else Debian's location.
pub(crate) fn redis_server_program() -> Result<PathBuf> {
    find_on_path(REDIS_SERVER)
        .or_else(|| {
            let debian = PathBuf::from(DEBIAN_REDIS_SERVER);
            is_executable(&debian).then_some(debian)
        })
        .ok_or(HarnessError::RedisNotInstalled)
}

/// Finds `program` in the directories of `PATH`.
fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_newest_version_directory() {
        let lib = tempfile::tempdir().expect("temp dir");
        for version in ["9.6", "15", "13", "notaversion"] {
            let bin = lib.path().join(version).join("bin");
            std::fs::create_dir_all(&bin).expect("create bin dir");
            for program in ["initdb", "postgres"] {
                let path = bin.join(program);
                std::fs::write(&path, "#!/bin/sh\n").expect("write program");
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                    .expect("make executable");
            }
        }
        // A newer version without the server programs (client-only install) does not count.
        std::fs::create_dir_all(lib.path().join("16").join("bin")).expect("create bin dir");
        assert_eq!(
            newest_versioned_bin_dir(lib.path()),
            Some(lib.path().join("15").join("bin"))
        );
    }
}
