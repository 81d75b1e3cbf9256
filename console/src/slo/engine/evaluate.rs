//! Burn rates, error budget and alert state of each SLO, computed from the sample store.

use std::time::Duration;

use super::reading::Reading;
use super::store::{SampleStore, TrackScope};
use super::UnixMillis;
use crate::slo::duration::PromDuration;
use crate::slo::spec::Slo;
use crate::slo::windows::{Severity, BURN_RATE_ALERTS, SLI_WINDOWS};

/// Error ratio and burn rate over one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowStatus {
    pub window: PromDuration,
    pub error_ratio: Reading<f64>,
    /// Error ratio over the error budget: 1 spends the budget exactly over the period.
    pub burn_rate: Reading<f64>,
}

/// Which burn-rate alert the generated rules would fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    Page,
    Ticket,
    /// Every pair was evaluated and none fires.
    None,
    /// None fires, but some pair lacks the history to be evaluated.
    Undetermined,
}

/// When the error budget runs out if the current (1h) burn goes on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BudgetExhaustion {
    NotBurning,
    Exhausted,
    In(Duration),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SloStatus {
    pub slo: String,
    /// The SLI windows (5m .. 3d), then the period.
    pub windows: Vec<WindowStatus>,
    /// Share of good events over the period.
    pub sli: Reading<f64>,
    /// 1 − consumed; below 0 once overspent.
    pub error_budget_remaining: Reading<f64>,
    pub alert: AlertState,
    pub budget_exhaustion: Reading<BudgetExhaustion>,
}

impl SloStatus {
    pub fn window(&self, window: PromDuration) -> Option<&WindowStatus> {
        self.windows.iter().find(|status| status.window == window)
    }

    pub fn burn_rate(&self, window: PromDuration) -> Reading<f64> {
        self.window(window)
            .map_or(Reading::NoTraffic, |status| status.burn_rate)
    }
}

/// The window the time to exhaustion is projected from: long enough not to
/// swing with every spike, short enough to be "now", like the page pair.
const CURRENT_BURN_WINDOW: PromDuration = PromDuration::from_minutes(60);

/// Evaluates SLO number `index` of the spec the store was built from.
pub fn evaluate_slo(
    slo: &Slo,
    index: usize,
    store: &SampleStore,
    now: UnixMillis,
    scope: TrackScope,
) -> SloStatus {
    let error_budget = slo.error_budget();
    let windows: Vec<WindowStatus> = SLI_WINDOWS
        .iter()
        .copied()
        .chain(std::iter::once(slo.period))
        .map(|window| {
            let error_ratio = store
                .window_events(index, window.seconds().saturating_mul(1_000), now, scope)
                .map(|events| events.errors / events.total);
            WindowStatus {
                window,
                error_ratio,
                burn_rate: error_ratio.map(|ratio| ratio / error_budget),
            }
        })
        .collect();
    let period_ratio = windows
        .iter()
        .find(|status| status.window == slo.period)
        .map_or(Reading::NoTraffic, |status| status.error_ratio);
    let error_budget_remaining = period_ratio.map(|ratio| 1.0 - ratio / error_budget);
    let current_burn = windows
        .iter()
        .find(|status| status.window == CURRENT_BURN_WINDOW)
        .map_or(Reading::NoTraffic, |status| status.burn_rate);
    SloStatus {
        slo: slo.name.clone(),
        sli: period_ratio.map(|ratio| 1.0 - ratio),
        alert: alert_state(&windows, error_budget),
        budget_exhaustion: budget_exhaustion(error_budget_remaining, current_burn, slo.period),
        error_budget_remaining,
        windows,
    }
}

/// Each pair fires when the error ratio is above `factor × budget` over both
/// its windows, exactly the generated rule; a window without traffic has no
/// ratio, so (as in Prometheus) its pair does not fire.
fn alert_state(windows: &[WindowStatus], error_budget: f64) -> AlertState {
    let ratio = |window: PromDuration| {
        windows
            .iter()
            .find(|status| status.window == window)
            .map_or(Reading::NoTraffic, |status| status.error_ratio)
    };
    let mut fired: Option<Severity> = None;
    let mut undetermined = false;
    for pair in &BURN_RATE_ALERTS {
        let threshold = pair.factor * error_budget;
        match (ratio(pair.long), ratio(pair.short)) {
            (Reading::Value(long), Reading::Value(short))
                if long > threshold && short > threshold =>
            {
                fired = Some(fired.map_or(pair.severity, |seen| seen.min(pair.severity)));
            }
            (Reading::Insufficient { .. }, _) | (_, Reading::Insufficient { .. }) => {
                undetermined = true;
            }
            _ => {}
        }
    }
    match fired {
        Some(Severity::Page) => AlertState::Page,
        Some(Severity::Ticket) => AlertState::Ticket,
        None if undetermined => AlertState::Undetermined,
        None => AlertState::None,
    }
}

/// Burning at rate `b` spends `b / period` of the budget per unit of time.
fn budget_exhaustion(
    remaining: Reading<f64>,
    current_burn: Reading<f64>,
    period: PromDuration,
) -> Reading<BudgetExhaustion> {
    let remaining = match remaining {
        Reading::Value(remaining) => remaining,
        Reading::NoTraffic => return Reading::NoTraffic,
        Reading::Insufficient { covered } => return Reading::Insufficient { covered },
    };
    if remaining <= 0.0 {
        return Reading::Value(BudgetExhaustion::Exhausted);
    }
    match current_burn {
        Reading::Value(burn) if burn > 0.0 => {
            let seconds = remaining * period.seconds() as f64 / burn;
            Reading::Value(
                Duration::try_from_secs_f64(seconds)
                    .map_or(BudgetExhaustion::NotBurning, BudgetExhaustion::In),
            )
        }
        Reading::Value(_) | Reading::NoTraffic => Reading::Value(BudgetExhaustion::NotBurning),
        Reading::Insufficient { covered } => Reading::Insufficient { covered },
    }
}
