//! Status readings driven by watches: a reading at once, then one whenever a pod,
//! ReplicaSet or Rollout of the release changes (at most one per second, the watch
//! events in between coalesce), and at least every `every` so ages stay current. The
//! watches re-list on expired resource versions and reconnect with backoff (kube-runtime's
//! watcher); their errors become readings, so the panel shows them and never freezes.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::{watcher, WatchStreamExt};
use kube::Api;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::workload::{self, API_SELECTOR, WORKLOAD_SELECTOR};
use super::KubernetesEnvironment;
use crate::env::{Environment, NotRunning, StatusError, StatusReading};

/// Readings in flight to a slow reader; it gets fewer, never an unbounded backlog.
const READINGS: usize = 4;

/// Watch events closer together than this make one reading.
const COALESCE: Duration = Duration::from_secs(1);

pub fn status_readings(
    environment: KubernetesEnvironment,
    every: Duration,
    stop: CancellationToken,
) -> mpsc::Receiver<StatusReading> {
    let (readings, receiver) = mpsc::channel(READINGS);
    tokio::spawn(async move {
        let (changed, mut changes) = mpsc::channel::<Option<String>>(1);
        let watching = stop.child_token();
        if let Ok(cluster) = environment.cluster().await {
            let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
            let sets: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
            let rollouts = workload::rollouts(cluster);
            let config = |selector| watcher::Config::default().labels(selector);
            let streams = futures::stream::select_all([
                watcher(pods, config(WORKLOAD_SELECTOR))
                    .default_backoff()
                    .map(|e| e.err().map(|e| e.to_string()))
                    .boxed(),
                watcher(sets, config(API_SELECTOR))
                    .default_backoff()
                    .map(|e| e.err().map(|e| e.to_string()))
                    .boxed(),
                watcher(rollouts, config(API_SELECTOR))
                    .default_backoff()
                    .map(|e| e.err().map(|e| e.to_string()))
                    .boxed(),
            ]);
            tokio::spawn(forward(streams, changed, watching.clone()));
        }
        let mut watch_error: Option<String> = None;
        loop {
            let reading = match environment.status().await {
                Ok(status) => match &watch_error {
                    // The objects still read, but the watch is down: say so.
                    Some(error) => Err(StatusError::Failed(format!("watch interrupted: {error}"))),
                    None => Ok(status),
                },
                Err(error) => Err(match error.downcast::<NotRunning>() {
                    Ok(NotRunning(message)) => StatusError::NotRunning(message),
                    Err(error) => StatusError::Failed(format!("{error:#}")),
                }),
            };
            if readings.try_send(reading).is_err() && readings.is_closed() {
                break;
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(every) => {}
                change = changes.recv(), if !changes.is_closed() => {
                    if let Some(state) = change {
                        watch_error = state;
                    }
                    tokio::time::sleep(COALESCE).await;
                    while let Ok(state) = changes.try_recv() {
                        watch_error = state;
                    }
                }
            }
        }
        watching.cancel();
    });
    receiver
}

/// Turns watch events into "something changed" (with the last error, `None` once a
/// watch delivers again).
async fn forward(
    mut events: impl futures::Stream<Item = Option<String>> + Unpin,
    changed: mpsc::Sender<Option<String>>,
    stop: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => return,
            event = events.next() => event,
        };
        let Some(error) = event else { return };
        // Full channel: a change is already pending, this one coalesces into it.
        if let Err(mpsc::error::TrySendError::Closed(_)) = changed.try_send(error) {
            return;
        }
    }
}
