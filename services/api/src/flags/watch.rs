//! Re-reading the flags file while the API runs.
//!
//! Polled, not watched with inotify: a mounted ConfigMap changes by an atomic
//! swap of the `..data` symlink in its directory, so a watch on the file
//! itself goes stale after the first update, and a directory watch needs a
//! new dependency and its own event semantics on every platform. The kubelet
//! already takes up to a minute to propagate a ConfigMap change, so a poll
//! every few seconds adds nothing noticeable; reading a file capped at 64 KiB
//! that often costs nothing; and comparing content (not mtime) sees the swap,
//! an in-place edit and a `mv` alike.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::FeatureFlags;

/// Stops the poll when dropped, so it ends with the server.
pub struct WatchHandle(JoinHandle<()>);

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Polls the flags file every `interval`; `None` when no file is configured.
pub fn spawn_watch(flags: Arc<FeatureFlags>, interval: Duration) -> Option<WatchHandle> {
    flags.source()?;
    let poll = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        // A stalled read (a hung network filesystem) must not be followed by a burst.
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            flags.reload().await;
        }
    });
    Some(WatchHandle(poll))
}
