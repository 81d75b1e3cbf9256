//! `daemon.json` and `instances.json`: how later commands find the daemon and what it ran.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Written by the daemon once its control endpoint listens; removed when it stops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonRecord {
    pub pid: u32,
    pub control_addr: SocketAddr,
    pub token_path: PathBuf,
    pub started_at: DateTime<Utc>,
}

/// The pids (also process group ids) of the instances, as last seen by the daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedPids {
    pub pids: Vec<u32>,
}

/// Creates `path` only if it does not exist: two daemons racing for one state dir
/// cannot both win.
pub fn create_exclusive<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Replaces `path` atomically (write a sibling, rename), so a reader never sees half a file.
pub fn write_atomic<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, text)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("cannot replace {}", path.display()))
}

/// `None` when the file does not exist; an error when it exists but is unreadable.
pub fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<Option<T>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    };
    serde_json::from_str(&text)
        .map(Some)
        .with_context(|| format!("{} is not a valid record", path.display()))
}

/// Removes a file that may already be gone.
pub fn remove(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(error).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_exclusive_creation_refuses_a_second_writer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("daemon.json");
        let record = DaemonRecord {
            pid: 42,
            control_addr: "127.0.0.1:9".parse().expect("addr"),
            token_path: dir.path().join("control.token"),
            started_at: Utc::now(),
        };
        assert_eq!(read::<DaemonRecord>(&path).expect("reads"), None);
        create_exclusive(&path, &record).expect("creates");
        assert!(create_exclusive(&path, &record).is_err());
        assert_eq!(read(&path).expect("reads"), Some(record));
        let pids = dir.path().join("instances.json");
        write_atomic(&pids, &RecordedPids { pids: vec![7, 8] }).expect("writes");
        assert_eq!(
            read::<RecordedPids>(&pids).expect("reads"),
            Some(RecordedPids { pids: vec![7, 8] })
        );
        remove(&path).expect("removes");
        remove(&path).expect("removing twice is fine");
        std::fs::write(&path, "{").expect("writes");
        assert!(read::<DaemonRecord>(&path).is_err());
    }
}
