//! Reads the SLO report (`GET /slo`) of the running environment.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{next_tick, ticker, Update, SLO_INTERVAL};
use crate::env::{AnyEnvironment, Environment, NotRunning};
use crate::model::slo::SloQuery;

pub async fn run(
    environment: AnyEnvironment,
    updates: mpsc::Sender<Update>,
    stop: CancellationToken,
) {
    let mut ticks = ticker(SLO_INTERVAL);
    while next_tick(&mut ticks, &stop).await {
        let result = match environment.slo(SloQuery::default()).await {
            // Without an environment the status collector reports it; nothing to add here.
            Err(error) if error.downcast_ref::<NotRunning>().is_some() => continue,
            result => result.map_err(|error| format!("SLO source not available: {error:#}")),
        };
        let update = Update::Slo {
            at: chrono::Utc::now(),
            result,
        };
        if updates.send(update).await.is_err() {
            return;
        }
    }
}
