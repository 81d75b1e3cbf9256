//! Status readings driven by watches: the reflector stores fill, then a reading whenever
//! a pod, ReplicaSet, Deployment, Rollout or AnalysisRun of the release changes (at most
//! one per second, the changes in between coalesce), and at least every `every` so ages
//! stay current. A failing watch becomes part of the reading, so the panel shows it and
//! never freezes; until the stores are complete (or when a watch fails first),
//! readings come from plain lists.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::memory;
use super::snapshot::InstanceCache;
use super::stores::{ReleaseStores, WatchHealth};
use super::KubernetesEnvironment;
use crate::env::{Environment, NotRunning, StatusError, StatusReading};

/// Readings in flight to a slow reader; it gets fewer, never an unbounded backlog.
const READINGS: usize = 4;

/// Watch events closer together than this make one reading.
const COALESCE: Duration = Duration::from_secs(1);

/// How long the first reading waits for the stores before it lists instead.
const FIRST_LIST: Duration = Duration::from_secs(10);

pub fn status_readings(
    environment: KubernetesEnvironment,
    every: Duration,
    stop: CancellationToken,
) -> mpsc::Receiver<StatusReading> {
    let (readings, receiver) = mpsc::channel(READINGS);
    tokio::spawn(async move {
        let health = WatchHealth::default();
        let watching = stop.child_token();
        let stores = match environment.cluster().await {
            Ok(cluster) => Some(ReleaseStores::start(cluster, &health, &watching).await),
            Err(_) => None,
        };
        if let Some(stores) = &stores {
            // A failing watch makes the first reading a list at once, which explains the
            // failure; a slow one is waited for, since a list would only add to the load.
            let failing = async {
                while health.error().is_none() {
                    health.changed().await;
                }
            };
            tokio::select! {
                () = stores.ready() => {}
                () = failing => {}
                () = tokio::time::sleep(FIRST_LIST) => {}
                () = stop.cancelled() => {}
            }
        }
        let mut instances = InstanceCache::default();
        let mut trimmed: Option<Instant> = None;
        loop {
            let reading = read(&environment, stores.as_ref(), &health, &mut instances).await;
            if readings.try_send(reading).is_err() && readings.is_closed() {
                break;
            }
            // Once the stores hold the first lists, the pages they came in are garbage.
            let due = trimmed.is_none_or(|at| at.elapsed() >= memory::TRIM_EVERY);
            if due && stores.as_ref().is_some_and(ReleaseStores::is_ready) {
                memory::return_free_memory().await;
                trimmed = Some(Instant::now());
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(every) => {}
                () = health.changed() => tokio::time::sleep(COALESCE).await,
            }
        }
        watching.cancel();
    });
    receiver
}

async fn read(
    environment: &KubernetesEnvironment,
    stores: Option<&ReleaseStores>,
    health: &WatchHealth,
    instances: &mut InstanceCache,
) -> StatusReading {
    let status = match stores.filter(|stores| stores.is_ready()) {
        Some(stores) => match environment.cluster().await {
            Ok(cluster) => stores.snapshot().and_then(|snapshot| {
                snapshot
                    .status_with(cluster, environment.prometheus_url(), instances)
                    .map(|status| environment.with_traffic_path(status))
            }),
            Err(error) => Err(error),
        },
        None => environment.status().await,
    };
    match status {
        Ok(status) => match health.error() {
            // The objects still read, but a watch is down: say so.
            Some(error) => Err(StatusError::Failed(format!("watch interrupted: {error}"))),
            None => Ok(status),
        },
        Err(error) => Err(match error.downcast::<NotRunning>() {
            Ok(NotRunning(message)) => StatusError::NotRunning(message),
            Err(error) => StatusError::Failed(format!("{error:#}")),
        }),
    }
}
