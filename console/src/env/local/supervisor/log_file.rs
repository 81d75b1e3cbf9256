//! An instance's log file: opened for appending, annotated with supervisor events, size-capped.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{SecondsFormat, Utc};
use serde_json::{json, Map, Value};

/// The log file of one instance.
#[derive(Debug, Clone)]
pub(crate) struct InstanceLog {
    instance: String,
    path: PathBuf,
    max_bytes: u64,
}

impl InstanceLog {
    pub fn new(instance: &str, path: &Path, max_bytes: u64) -> Self {
        Self {
            instance: instance.to_owned(),
            path: path.to_owned(),
            max_bytes,
        }
    }

    /// The file handed to a new process as stdout and stderr. O_APPEND: writes of the
    /// process and of the supervisor interleave by line instead of overwriting each other.
    pub fn open(&self) -> io::Result<File> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
    }

    /// Appends one JSON line in the shape of the services' tracing logs, so a log reader
    /// shows "restarted after exit status 1" among the instance's own lines.
    pub fn event(&self, level: &str, message: &str, fields: Value) {
        let mut all = Map::new();
        all.insert("message".into(), Value::from(message));
        if let Value::Object(extra) = fields {
            all.extend(extra);
        }
        let line = json!({
            "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
            "level": level,
            "target": "opsbox::supervisor",
            "instance": self.instance,
            "fields": all,
        });
        let written = self.open().and_then(|mut file| {
            // One write call per line: O_APPEND keeps it whole next to the child's writes.
            file.write_all(format!("{line}\n").as_bytes())
        });
        if let Err(error) = written {
            tracing::warn!(instance = %self.instance, path = %self.path.display(), %error, "cannot write to the instance log");
        }
    }

    /// copytruncate: the process keeps writing to its open (O_APPEND) file, which starts
    /// again at zero; the previous content goes to `<file>.1`. Lines written between the
    /// copy and the truncation are lost, which a size cap accepts.
    pub async fn rotate_if_large(&self) {
        let log = self.clone();
        let rotated = tokio::task::spawn_blocking(move || log.rotate_blocking()).await;
        match rotated {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(path = %self.path.display(), %error, "log rotation failed")
            }
            Err(error) => tracing::warn!(%error, "log rotation task failed"),
        }
    }

    fn rotate_blocking(&self) -> io::Result<()> {
        let size = match std::fs::metadata(&self.path) {
            Ok(metadata) => metadata.len(),
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        };
        if size <= self.max_bytes {
            return Ok(());
        }
        let mut previous = self.path.clone().into_os_string();
        previous.push(".1");
        std::fs::copy(&self.path, &previous)?;
        OpenOptions::new().write(true).open(&self.path)?.set_len(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_are_json_lines_and_large_logs_rotate() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("logs/api-1.log");
        let log = InstanceLog::new("api-1", &path, 64);
        log.event("INFO", "started", json!({ "pid": 42 }));
        let text = std::fs::read_to_string(&path).expect("log written");
        let line: Value = serde_json::from_str(text.trim()).expect("one JSON line");
        assert_eq!(line["fields"]["message"], "started");
        assert_eq!(line["fields"]["pid"], 42);
        assert_eq!(line["instance"], "api-1");

        log.event(
            "INFO",
            "second line pushes the file over 64 bytes",
            json!({}),
        );
        log.rotate_if_large().await;
        assert_eq!(std::fs::metadata(&path).expect("still there").len(), 0);
        let previous =
            std::fs::read_to_string(dir.path().join("logs/api-1.log.1")).expect("rotated");
        assert_eq!(previous.lines().count(), 2);
    }
}
