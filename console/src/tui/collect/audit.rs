//! Reads the newest audit entries back from the audit log file.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{next_tick, ticker, Update, AUDIT_INTERVAL};
use crate::audit::AuditLog;

/// Entries the Audit view holds; older ones stay on disk (`opsbox audit`).
pub const AUDIT_ENTRIES: usize = 500;

pub async fn run(log: AuditLog, updates: mpsc::Sender<Update>, stop: CancellationToken) {
    let mut ticks = ticker(AUDIT_INTERVAL);
    let mut last_seen: Option<(std::time::SystemTime, u64)> = None;
    while next_tick(&mut ticks, &stop).await {
        // An unchanged file is not parsed again; the app only learns it is still current.
        let stamp = std::fs::metadata(log.path())
            .ok()
            .and_then(|meta| Some((meta.modified().ok()?, meta.len())));
        if stamp.is_some() && stamp == last_seen {
            let update = Update::Audit {
                at: chrono::Utc::now(),
                result: Ok(None),
            };
            if updates.send(update).await.is_err() {
                return;
            }
            continue;
        }
        let path = log.clone();
        let read = tokio::task::spawn_blocking(move || path.read_recent(AUDIT_ENTRIES)).await;
        let result = match read {
            Ok(Ok(read)) => Ok(Some(read.entries)),
            Ok(Err(error)) => Err(format!("{error:#}")),
            Err(error) => Err(format!("the audit reader failed: {error}")),
        };
        if result.is_ok() {
            last_seen = stamp;
        }
        let update = Update::Audit {
            at: chrono::Utc::now(),
            result,
        };
        if updates.send(update).await.is_err() {
            return;
        }
    }
}
