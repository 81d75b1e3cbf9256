//! Reads the queue and its dead letters from the daemon on a timer, for the Queue view.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::env::{AnyEnvironment, Environment};
use crate::model::{DeadLetters, QueueOverview};

/// Dead letters the view lists: the newest ones; the total is shown beside them.
pub const DEAD_LETTERS_LISTED: usize = 200;

/// Readings the app may leave unread before the collector waits for it.
const CHANNEL_CAPACITY: usize = 4;

/// One reading of both sources; each failure is kept as the message to show.
#[derive(Debug, Clone)]
pub struct QueueReading {
    pub at: DateTime<Utc>,
    pub overview: Result<QueueOverview, String>,
    pub dead: Result<DeadLetters, String>,
}

impl super::QueueView {
    pub fn apply(&mut self, reading: QueueReading) {
        self.update_overview(reading.at, reading.overview);
        self.update_dead_letters(reading.at, reading.dead);
    }
}

/// Reads both sources now and then every `interval` until `stop`; `refresh` asks for a
/// reading at once (after a requeue, say).
pub fn spawn(
    environment: AnyEnvironment,
    interval: Duration,
    refresh: mpsc::Receiver<()>,
    stop: CancellationToken,
) -> mpsc::Receiver<QueueReading> {
    let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
    tokio::spawn(collect(environment, interval, refresh, stop, sender));
    receiver
}

async fn collect(
    environment: AnyEnvironment,
    interval: Duration,
    mut refresh: mpsc::Receiver<()>,
    stop: CancellationToken,
    sender: mpsc::Sender<QueueReading>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            Some(()) = refresh.recv() => {}
            () = stop.cancelled() => return,
        }
        let (overview, dead) = tokio::join!(
            environment.queue_overview(),
            environment.dead_letters(DEAD_LETTERS_LISTED)
        );
        let reading = QueueReading {
            at: Utc::now(),
            overview: overview.map_err(|e| format!("{e:#}")),
            dead: dead.map_err(|e| format!("{e:#}")),
        };
        tokio::select! {
            sent = sender.send(reading) => if sent.is_err() { return },
            () = stop.cancelled() => return,
        }
    }
}
