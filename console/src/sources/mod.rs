//! Where the console's SLO numbers come from: its own scrapes of every instance's
//! `/metrics` (the embedded engine), Prometheus' HTTP API, or a daemon that has both.

pub mod capped;
pub mod embedded;
pub mod prometheus;
pub mod scrape;

use crate::model::slo::{
    budget_exhaustion, AlertLevel, Measured, SloSummary, WindowReport, CURRENT_BURN_WINDOW_SECS,
};
use crate::slo::Slo;

/// The report of `slo` from what a source measured. Every source projects the time to
/// exhaustion the same way: from the budget left and the burn over the current window.
pub(crate) fn slo_summary(
    slo: &Slo,
    windows: Vec<WindowReport>,
    sli: Measured<f64>,
    error_budget_remaining: Measured<f64>,
    alert: AlertLevel,
) -> SloSummary {
    let current_burn = windows
        .iter()
        .find(|window| window.window_secs == CURRENT_BURN_WINDOW_SECS)
        .map_or(Measured::NoTraffic, |window| window.burn_rate);
    SloSummary {
        name: slo.name.clone(),
        service: slo.service.clone(),
        objective_percent: slo.objective,
        period: slo.period.to_string(),
        period_secs: slo.period.seconds(),
        error_budget: slo.error_budget(),
        runbook: slo.runbook.clone(),
        sli,
        budget_exhaustion: budget_exhaustion(
            error_budget_remaining,
            current_burn,
            slo.period.seconds(),
        ),
        error_budget_remaining,
        windows,
        alert,
    }
}
