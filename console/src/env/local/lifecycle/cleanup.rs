//! Ends what a daemon recorded and removes its files: after `down`, or after a daemon crash.

use std::time::Duration;

use super::super::daemon_record::{self, RecordedPids};
use super::super::process;
use super::super::state_dir::StateDir;

/// Between SIGTERM and SIGKILL for an instance left behind by a crashed daemon.
const ORPHAN_GRACE: Duration = Duration::from_secs(5);

/// Terminates every recorded instance pid still alive, removes the records, and returns
/// the pids that survived (empty on success).
pub fn clean_recorded(state: &StateDir) -> anyhow::Result<Vec<u32>> {
    let recorded = daemon_record::read::<RecordedPids>(&state.instance_pids())
        .unwrap_or_else(|error| {
            // A half-written record is no reason to keep the rest: report and go on.
            eprintln!("opsbox: ignoring {error:#}");
            None
        })
        .unwrap_or_default();
    let survivors: Vec<u32> = recorded
        .pids
        .iter()
        .copied()
        .filter(|pid| !process::terminate_group(*pid, ORPHAN_GRACE))
        .collect();
    if survivors.is_empty() {
        daemon_record::remove(&state.instance_pids())?;
        daemon_record::remove(&state.daemon_record())?;
    }
    Ok(survivors)
}
