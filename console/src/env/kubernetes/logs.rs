//! Pod log streams of the chosen workloads, merged and parsed like the local JSON lines:
//! at most [`MAX_STREAMS`] followed at once, each reopened when its container restarts
//! (the stream ends, the pod is still there), dropped when its pod is gone. The channel
//! to the reader is bounded; a slow reader slows the streams, which the API server holds.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::LogParams;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::pods;
use super::Cluster;
use crate::model::logs::{
    LineSource, LogBatch, LogLine, LogRequest, DEFAULT_MAX_TEXT_BYTES, LOG_STREAM_CAPACITY,
};

/// Pods followed at once; more are named in the batch's errors, not followed.
pub const MAX_STREAMS: usize = 8;

/// Lines read back from each pod when it is first followed.
pub const TAIL_LINES: i64 = 200;

/// Lines per batch sent to the reader.
const BATCH_LINES: usize = 256;

/// The workloads whose pods are followed.
const LOGGED_WORKLOADS: [&str; 2] = ["api", "worker"];

/// Pods asked for per workload and lookup: a few beyond the streams there may be.
const STREAM_LIMIT: u32 = MAX_STREAMS as u32 * 2;

/// How often new pods are looked for.
const POD_LOOKUP_INTERVAL: Duration = Duration::from_secs(5);
/// How long a partial batch of lines waits for more before it is sent.
const BATCH_FLUSH: Duration = Duration::from_millis(200);
/// The first wait before a stream that ended is reopened; it doubles up to
/// `REOPEN_MAX` until a stream stays open for `STEADY_STREAM`.
const REOPEN_FIRST: Duration = Duration::from_millis(500);
const REOPEN_MAX: Duration = Duration::from_secs(10);
const STEADY_STREAM: Duration = Duration::from_secs(10);
/// How far before the last line seen a reopened stream starts: the kubelet's clock is
/// not the console's, and the lines seen twice are dropped by their time anyway.
const REOPEN_OVERLAP_SECS: i64 = 10;

pub fn stream(
    cluster: Cluster,
    request: LogRequest,
    stop: CancellationToken,
) -> mpsc::Receiver<LogBatch> {
    let (batches, receiver) = mpsc::channel(LOG_STREAM_CAPACITY);
    tokio::spawn(async move {
        let followed: Arc<Mutex<HashSet<String>>> = Arc::default();
        let mut followers = tokio::task::JoinSet::new();
        let mut ticks = tokio::time::interval(POD_LOOKUP_INTERVAL);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = ticks.tick() => {}
            }
            let mut errors = Vec::new();
            let mut found = Vec::new();
            let mut more = 0;
            for workload in LOGGED_WORKLOADS.into_iter().filter(|w| request.wants(w)) {
                match pods::list_some(&cluster, workload, STREAM_LIMIT).await {
                    Ok((pods, others)) => {
                        found.extend(pods);
                        more += others;
                    }
                    Err(error) => errors.push(format!("{error:#}")),
                }
            }
            {
                let mut held = followed
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let mut skipped = more;
                for pod in &found {
                    let name = pod.metadata.name.clone().unwrap_or_default();
                    if held.contains(&name) {
                        continue;
                    }
                    if held.len() >= MAX_STREAMS {
                        skipped += 1;
                        continue;
                    }
                    held.insert(name.clone());
                    followers.spawn(follow(
                        cluster.clone(),
                        pod.clone(),
                        request.follow,
                        batches.clone(),
                        followed.clone(),
                        stop.clone(),
                    ));
                }
                if skipped > 0 {
                    errors.push(format!(
                        "{skipped} more pods not followed: at most {MAX_STREAMS} log streams at once (choose a workload with --app)"
                    ));
                }
            }
            if !errors.is_empty()
                && batches
                    .send(LogBatch {
                        lines: Vec::new(),
                        errors,
                    })
                    .await
                    .is_err()
            {
                break;
            }
            if !request.follow {
                // The recent lines of the pods there now: the stream ends with them.
                while followers.join_next().await.is_some() {}
                return;
            }
        }
        followers.shutdown().await;
    });
    receiver
}

/// Follows one pod until it is gone or `stop`; a restarted container is picked up by
/// reopening the stream from a little before it ended.
async fn follow(
    cluster: Cluster,
    pod: Pod,
    keep_following: bool,
    batches: mpsc::Sender<LogBatch>,
    followed: Arc<Mutex<HashSet<String>>>,
    stop: CancellationToken,
) {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let workload = pods::workload_of(&pod);
    let source = LineSource::new(&name, &workload);
    let api = pods::api(&cluster);
    let mut params = LogParams {
        follow: keep_following,
        // The kubelet's receive time: a plain-text line (a panic) gets a time too.
        timestamps: true,
        tail_lines: Some(TAIL_LINES),
        container: Some(workload.clone()).filter(|_| has_container(&pod, &workload)),
        ..LogParams::default()
    };
    let mut backoff = REOPEN_FIRST;
    let mut seen = Seen::default();
    while !stop.is_cancelled() {
        let opened = tokio::time::Instant::now();
        match api.log_stream(&name, &params).await {
            Ok(reader) => {
                let mut lines = reader.lines();
                let mut batch = Vec::new();
                loop {
                    // An idle stream costs no wakeups: the flush timer runs only while a
                    // partial batch waits.
                    let next = if batch.is_empty() {
                        tokio::select! {
                            () = stop.cancelled() => None,
                            next = lines.next() => Some(Ok(next)),
                        }
                    } else {
                        tokio::select! {
                            () = stop.cancelled() => None,
                            next = tokio::time::timeout(BATCH_FLUSH, lines.next()) => Some(next),
                        }
                    };
                    match next {
                        None => return,
                        Some(Ok(Some(Ok(raw)))) => {
                            let (stamp, line) = kubelet_stamp(&raw);
                            if !seen.admit(stamp) {
                                continue;
                            }
                            batch.push(stamped_line(stamp, line, &source));
                            if batch.len() < BATCH_LINES {
                                continue;
                            }
                        }
                        Some(Err(_)) => {}
                        Some(Ok(Some(Err(_)) | None)) => break,
                    }
                    if !batch.is_empty()
                        && batches
                            .send(LogBatch {
                                lines: std::mem::take(&mut batch),
                                errors: Vec::new(),
                            })
                            .await
                            .is_err()
                    {
                        return;
                    }
                }
                if !batch.is_empty() {
                    let _ = batches
                        .send(LogBatch {
                            lines: batch,
                            errors: Vec::new(),
                        })
                        .await;
                }
            }
            Err(error) => {
                let message = format!("logs of {name}: {error}");
                if batches
                    .send(LogBatch {
                        lines: Vec::new(),
                        errors: vec![message],
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        if !keep_following {
            break;
        }
        // The stream ended: a restarted container, or a pod on its way out.
        match api.get_opt(&name).await {
            Ok(Some(current)) if current.metadata.deletion_timestamp.is_none() => {}
            Ok(_) => break,
            Err(_) => {}
        }
        // Only a stream that lived resets the backoff: one that ends at once (a
        // runtime that serves logs without following, a crash-looping container)
        // would otherwise be reopened, with a pod read, twice a second.
        if opened.elapsed() >= STEADY_STREAM {
            backoff = REOPEN_FIRST;
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(REOPEN_MAX);
        if let Some(seen) = seen.last {
            params.tail_lines = None;
            params.since_seconds =
                Some((Utc::now() - seen).num_seconds().max(0) + REOPEN_OVERLAP_SECS);
        }
    }
    followed
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(&name);
}

/// The kubelet's time of the last line shown from a pod. A reopened stream starts
/// a little before it (`sinceSeconds` is whole seconds): what was already shown is
/// not shown twice.
#[derive(Default)]
struct Seen {
    last: Option<DateTime<Utc>>,
}

impl Seen {
    fn admit(&mut self, stamp: Option<DateTime<Utc>>) -> bool {
        if stamp.is_some() && stamp <= self.last {
            return false;
        }
        self.last = stamp.or(self.last);
        true
    }
}

/// A line as the API server sends it with `timestamps=true` is an RFC 3339 time, a
/// space, then the line as written: the time (when there is one) and the line.
fn kubelet_stamp(raw: &str) -> (Option<DateTime<Utc>>, &str) {
    raw.split_once(' ')
        .and_then(|(stamp, rest)| {
            let at = DateTime::parse_from_rfc3339(stamp).ok()?;
            Some((Some(at.with_timezone(&Utc)), rest))
        })
        .unwrap_or((None, raw))
}

/// The line parsed like a local one; the app's own time wins over the kubelet's.
fn stamped_line(stamp: Option<DateTime<Utc>>, line: &str, source: &LineSource) -> LogLine {
    let mut line = LogLine::parse(line, source, DEFAULT_MAX_TEXT_BYTES);
    if line.timestamp.is_none() {
        line.timestamp = stamp;
    }
    line
}

fn has_container(pod: &Pod, name: &str) -> bool {
    pod.spec
        .as_ref()
        .is_some_and(|spec| spec.containers.iter().any(|c| c.name == name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reopened_stream_shows_only_lines_after_the_last_one_shown() {
        let at = |raw| kubelet_stamp(raw).0;
        let mut seen = Seen::default();
        assert!(seen.admit(at("2026-01-01T00:00:01.1Z a")));
        assert!(seen.admit(at("2026-01-01T00:00:01.2Z b")));
        assert!(seen.admit(None), "a line without a time is always shown");
        // The stream reopened from a second before: a and b again, then c.
        assert!(!seen.admit(at("2026-01-01T00:00:01.1Z a")));
        assert!(!seen.admit(at("2026-01-01T00:00:01.2Z b")));
        assert!(seen.admit(at("2026-01-01T00:00:01.3Z c")));
        assert_eq!(seen.last, at("2026-01-01T00:00:01.3Z c"));
    }

    #[test]
    fn the_kubelets_time_stamps_plain_lines_and_json_keeps_its_own() {
        let source = LineSource::new("opsbox-api-1", "api");
        let stamped = |raw| {
            let (stamp, line) = kubelet_stamp(raw);
            stamped_line(stamp, line, &source)
        };
        let plain = stamped("2026-01-01T00:00:01.5Z thread main panicked");
        assert_eq!(plain.text.as_ref(), "thread main panicked");
        assert_eq!(
            plain.timestamp.map(|t| t.to_rfc3339()),
            Some("2026-01-01T00:00:01.500+00:00".to_owned())
        );
        let json = stamped(
            r#"2026-01-01T00:00:09Z {"timestamp":"2026-01-01T00:00:01Z","level":"INFO","fields":{"message":"up"}}"#,
        );
        assert_eq!(json.message(), "up");
        assert_eq!(json.timestamp.map(|t| t.timestamp()), Some(1_767_225_601));
        let unstamped = stamped("no time here");
        assert_eq!(unstamped.text.as_ref(), "no time here");
    }
}
