//! Reads the environment's status through its watch and passes each reading on.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Update, STATUS_INTERVAL};
use crate::env::{AnyEnvironment, Environment, StatusError};

pub async fn run(
    environment: AnyEnvironment,
    updates: mpsc::Sender<Update>,
    stop: CancellationToken,
) {
    let mut readings = environment.watch_status(STATUS_INTERVAL, stop.clone());
    while let Some(reading) = readings.recv().await {
        let update = match reading {
            Err(StatusError::NotRunning(message)) => Update::NotRunning(message),
            reading => Update::Status {
                at: chrono::Utc::now(),
                result: reading.map(Box::new).map_err(|error| match error {
                    StatusError::NotRunning(message) | StatusError::Failed(message) => message,
                }),
            },
        };
        tokio::select! {
            () = stop.cancelled() => return,
            sent = updates.send(update) => if sent.is_err() { return },
        }
    }
}
