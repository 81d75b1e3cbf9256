//! Reads the drill catalogue and the newest report of each drill, and what chaos is in
//! force (`GET /chaos`), which is how a running drill's actions show as they happen.

use std::collections::BTreeMap;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{next_tick, ticker, Update, DRILLS_INTERVAL};
use crate::drill::{last_report, DrillCatalog};
use crate::env::{AnyEnvironment, Environment, NotRunning};
use crate::tui::store::DrillBoard;

/// The catalogue and reports, read from disk.
pub fn read_board(reports_dir: &std::path::Path) -> Result<DrillBoard, String> {
    let catalog = DrillCatalog::load(None).map_err(|error| format!("{error:#}"))?;
    let mut last_reports = BTreeMap::new();
    for drill in &catalog.drills {
        // An unreadable report directory hides the reports, not the catalogue.
        if let Ok(Some(report)) = last_report(reports_dir, &drill.name) {
            last_reports.insert(drill.name.clone(), report);
        }
    }
    Ok(DrillBoard {
        source: catalog.source.to_string(),
        drills: catalog.drills,
        last_reports,
    })
}

pub async fn run(
    environment: AnyEnvironment,
    updates: mpsc::Sender<Update>,
    stop: CancellationToken,
) {
    let mut ticks = ticker(DRILLS_INTERVAL);
    while next_tick(&mut ticks, &stop).await {
        let reports_dir = environment.records().drill_reports().to_path_buf();
        let board = tokio::task::spawn_blocking(move || read_board(&reports_dir))
            .await
            .unwrap_or_else(|error| Err(format!("the drill reader failed: {error}")));
        let update = Update::Drills {
            at: chrono::Utc::now(),
            result: board,
        };
        if updates.send(update).await.is_err() {
            return;
        }
        let chaos = match environment.chaos_status().await {
            Err(error) if error.downcast_ref::<NotRunning>().is_some() => continue,
            chaos => chaos.map_err(|error| format!("{error:#}")),
        };
        let update = Update::Chaos {
            at: chrono::Utc::now(),
            result: chaos,
        };
        if updates.send(update).await.is_err() {
            return;
        }
    }
}
