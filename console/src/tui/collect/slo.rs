//! Reads the SLO report (`GET /slo`) of the running environment.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{next_tick, ticker, Connector, Update, SLO_INTERVAL};
use crate::model::slo::SloQuery;

pub async fn run(
    connector: Arc<Connector>,
    updates: mpsc::Sender<Update>,
    stop: CancellationToken,
) {
    let mut ticks = ticker(SLO_INTERVAL);
    while next_tick(&mut ticks, &stop).await {
        // Without a daemon the status collector reports it; nothing to add here.
        let Ok(client) = connector.client() else {
            continue;
        };
        let result = client
            .slo(SloQuery::default())
            .await
            .map_err(|error| format!("SLO source not available: {error:#}"));
        let update = Update::Slo {
            at: chrono::Utc::now(),
            result,
        };
        if updates.send(update).await.is_err() {
            return;
        }
    }
}
