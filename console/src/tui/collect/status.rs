//! Reads the environment's status every second.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{next_tick, ticker, Connector, Update, STATUS_INTERVAL};

pub async fn run(
    connector: Arc<Connector>,
    updates: mpsc::Sender<Update>,
    stop: CancellationToken,
) {
    let mut ticks = ticker(STATUS_INTERVAL);
    while next_tick(&mut ticks, &stop).await {
        let update = match connector.client() {
            Err(not_running) => Update::NotRunning(not_running.0),
            Ok(client) => {
                let result = client
                    .status()
                    .await
                    .map(Box::new)
                    .map_err(|error| format!("{error:#}"));
                if result.is_err() {
                    connector.forget();
                }
                Update::Status {
                    at: chrono::Utc::now(),
                    result,
                }
            }
        };
        if updates.send(update).await.is_err() {
            return;
        }
    }
}
