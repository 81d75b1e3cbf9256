//! The audit log: one JSON line per mutating operation, who did what to what, and how it ended.
//!
//! Lines are appended with a single `write` on a file opened with `O_APPEND`, so the
//! CLI, the console and the daemon (automatic aborts) can all append to the same file
//! without interleaving. Reading keeps only the newest [`MAX_ENTRIES_READ`] lines.

pub mod metrics;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The most lines `opsbox audit` and the console read back; older ones stay on disk.
pub const MAX_ENTRIES_READ: usize = 10_000;

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "status", content = "message")]
pub enum Outcome {
    Ok,
    /// The operation failed or was refused; the message is what the operator saw.
    Error(String),
}

impl Outcome {
    pub fn from_result<T>(result: &anyhow::Result<T>) -> Self {
        match result {
            Ok(_) => Outcome::Ok,
            Err(error) => Outcome::Error(format!("{error:#}")),
        }
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub time: DateTime<Utc>,
    /// The operating-system user, or `opsbox` for what the daemon decides itself.
    pub user: String,
    /// `local` or `kubernetes`.
    pub environment: String,
    /// The verb, e.g. `rollout.promote`, `chaos.kill`, `drill.run`.
    pub action: String,
    /// What it acted on: an instance, a revision, a drill, a dependency.
    pub target: String,
    pub parameters: serde_json::Value,
    pub outcome: Outcome,
}

impl AuditEntry {
    /// An entry by the current user, stamped now.
    pub fn by_current_user(
        environment: &str,
        action: &str,
        target: &str,
        parameters: serde_json::Value,
        outcome: Outcome,
    ) -> Self {
        Self {
            time: Utc::now(),
            user: current_user(),
            environment: environment.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            parameters,
            outcome,
        }
    }
}

/// The user name for audit lines: `$USER`, else the name of the real uid, else the uid.
pub fn current_user() -> String {
    if let Some(user) = std::env::var("USER").ok().filter(|user| !user.is_empty()) {
        return user;
    }
    let uid = nix::unistd::getuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        _ => format!("uid {uid}"),
    }
}

/// The audit log file of one environment.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line (creating the file and its directory when needed).
    pub fn append(&self, entry: &AuditEntry) -> anyhow::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let mut line = serde_json::to_vec(entry).context("cannot encode the audit entry")?;
        line.push(b'\n');
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .with_context(|| format!("cannot open the audit log {}", self.path.display()))?;
        file.write_all(&line)
            .with_context(|| format!("cannot write to the audit log {}", self.path.display()))
    }

    /// Appends, and logs rather than fails when the log cannot be written: the operation
    /// itself has already happened and its result matters more to the caller.
    pub fn record(&self, entry: &AuditEntry) {
        if let Err(error) = self.append(entry) {
            tracing::warn!(error = %format!("{error:#}"), "cannot write the audit log");
        }
    }

    /// The newest `limit` (at most [`MAX_ENTRIES_READ`]) entries, oldest first. A line
    /// that does not parse (a torn write after a crash) is skipped and counted.
    pub fn read_recent(&self, limit: usize) -> anyhow::Result<AuditRead> {
        let limit = limit.min(MAX_ENTRIES_READ);
        let file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(AuditRead::default())
            }
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("cannot open the audit log {}", self.path.display()))
            }
        };
        let mut read = AuditRead::default();
        let mut entries = VecDeque::with_capacity(limit.min(1024));
        for line in BufReader::new(file).lines() {
            let line = line.with_context(|| format!("cannot read {}", self.path.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<AuditEntry>(&line) {
                Ok(entry) => {
                    if entries.len() == limit {
                        entries.pop_front();
                    }
                    if limit > 0 {
                        entries.push_back(entry);
                    }
                }
                Err(_) => read.unreadable_lines += 1,
            }
        }
        read.entries = entries.into();
        Ok(read)
    }
}

/// What [`AuditLog::read_recent`] found.
#[derive(Debug, Default)]
pub struct AuditRead {
    pub entries: Vec<AuditEntry>,
    pub unreadable_lines: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str, outcome: Outcome) -> AuditEntry {
        AuditEntry::by_current_user(
            "local",
            action,
            "api-1",
            serde_json::json!({ "signal": "SIGKILL" }),
            outcome,
        )
    }

    #[test]
    fn entries_round_trip_in_order_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path().join("sub/audit.jsonl"));
        log.append(&entry("chaos.kill", Outcome::Ok))
            .expect("append");
        std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .and_then(|mut file| file.write_all(b"{\"time\": \"2026-\n"))
            .expect("torn write");
        log.append(&entry("rollout.abort", Outcome::Error("no rollout".into())))
            .expect("append");

        let read = log.read_recent(100).expect("read");
        assert_eq!(read.unreadable_lines, 1);
        let actions: Vec<_> = read.entries.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["chaos.kill", "rollout.abort"]);
        assert_eq!(read.entries[1].outcome, Outcome::Error("no rollout".into()));
        assert!(!read.entries[0].user.is_empty());
    }

    #[test]
    fn reading_keeps_only_the_newest_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        for index in 0..5 {
            log.append(&entry(&format!("a{index}"), Outcome::Ok))
                .expect("append");
        }
        let read = log.read_recent(2).expect("read");
        let actions: Vec<_> = read.entries.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["a3", "a4"]);
        assert!(AuditLog::new(dir.path().join("missing"))
            .read_recent(10)
            .expect("a missing log is empty")
            .entries
            .is_empty());
    }

    #[test]
    fn outcomes_serialize_with_their_message() {
        let json = serde_json::to_value(Outcome::Error("boom".into())).expect("json");
        assert_eq!(
            json,
            serde_json::json!({ "status": "error", "message": "boom" })
        );
        let json = serde_json::to_value(Outcome::Ok).expect("json");
        assert_eq!(json, serde_json::json!({ "status": "ok" }));
    }
}
