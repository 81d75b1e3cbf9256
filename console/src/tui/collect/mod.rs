//! Background collectors: each polls one source on its own interval and sends what it
//! got to the app through one bounded channel, so a slow source never holds up the
//! screen (the app never awaits a source) and a stalled app holds up the collectors
//! instead of growing a queue.

mod audit;
pub mod drills;
mod slo;
mod status;

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::store::{ActionResult, StackStart};
use crate::audit::AuditEntry;
use crate::chaos::ChaosStatus;
use crate::env::{AnyEnvironment, Environment};
use crate::model::slo::SloReport;
use crate::model::EnvironmentStatus;
use crate::tui::store::DrillBoard;

/// Updates waiting for the app; collectors wait when it is this far behind.
pub const UPDATE_QUEUE: usize = 64;

/// How often the environment's status is read.
pub const STATUS_INTERVAL: Duration = Duration::from_secs(1);

/// How often the SLO report is read; the daemon evaluates it on request.
pub const SLO_INTERVAL: Duration = Duration::from_secs(2);

/// How often the audit log is read back from disk.
pub const AUDIT_INTERVAL: Duration = Duration::from_secs(2);

/// How often the drill catalogue, reports and chaos board are read.
pub const DRILLS_INTERVAL: Duration = Duration::from_secs(2);

/// Something a collector or a finished task has to tell the app.
#[derive(Debug)]
pub enum Update {
    /// A step of the drill running from the console, as it is recorded.
    DrillStep(crate::drill::report::StepRecord),
    /// Boxed: a status is large, and most updates are small.
    Status {
        at: DateTime<Utc>,
        result: Result<Box<EnvironmentStatus>, String>,
    },
    /// No environment runs (no daemon record, or its daemon is gone).
    NotRunning(String),
    Slo {
        at: DateTime<Utc>,
        result: Result<SloReport, String>,
    },
    /// `Ok(None)`: the log has not changed since the last read.
    Audit {
        at: DateTime<Utc>,
        result: Result<Option<Vec<AuditEntry>>, String>,
    },
    Drills {
        at: DateTime<Utc>,
        result: Result<DrillBoard, String>,
    },
    Chaos {
        at: DateTime<Utc>,
        result: Result<ChaosStatus, String>,
    },
    /// An operation the operator confirmed has ended.
    ActionDone(ActionResult),
    /// Progress of a stack started from the console.
    StackStart(StackStart),
}

/// Starts every collector on the current runtime; they end when `stop` is cancelled or
/// the app drops its receiver.
pub fn spawn_all(
    environment: &AnyEnvironment,
    updates: mpsc::Sender<Update>,
    stop: CancellationToken,
) {
    let audit_log = environment.records().audit_log();
    tokio::spawn(status::run(
        environment.clone(),
        updates.clone(),
        stop.clone(),
    ));
    tokio::spawn(slo::run(environment.clone(), updates.clone(), stop.clone()));
    tokio::spawn(drills::run(
        environment.clone(),
        updates.clone(),
        stop.clone(),
    ));
    tokio::spawn(audit::run(audit_log, updates, stop));
}

/// Waits for the next tick, or returns false when the collector should end.
async fn next_tick(ticker: &mut tokio::time::Interval, stop: &CancellationToken) -> bool {
    tokio::select! {
        () = stop.cancelled() => false,
        _ = ticker.tick() => true,
    }
}

fn ticker(every: Duration) -> tokio::time::Interval {
    let mut ticker = tokio::time::interval(every);
    // A slow answer delays the next read rather than causing a burst of them.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker
}
