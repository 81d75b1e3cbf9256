//! Which burn-rate alert would fire and why: each multiwindow condition of the SRE
//! Workbook checked against the SLO's windows, with the numbers that decide it.

use crate::model::slo::{Measured, SloSummary};
use crate::slo::{BurnRateAlert, Severity, BURN_RATE_ALERTS};

/// One window of a condition: its burn rate, if known.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowCheck {
    pub secs: u64,
    /// `Some(0.0)` for a window with no traffic (nothing burns); the rate over the covered
    /// part when the window is longer than the history; `None` when nothing is known.
    pub burn: Option<f64>,
    /// The rate covers only part of the window.
    pub partial: bool,
}

impl WindowCheck {
    fn above(&self, factor: f64) -> Option<bool> {
        self.burn.map(|burn| burn > factor)
    }
}

/// How a condition stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Both windows burn faster than the factor.
    Fires,
    /// Both burn faster than the factor over the history held, which does not cover a
    /// whole window yet: Prometheus alerts on this, the embedded engine waits.
    FiresOnPartialData,
    /// At least one window burns at or under the factor.
    Quiet,
    /// Neither window rules it out, but one is not covered yet.
    Undetermined,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConditionCheck {
    pub severity: Severity,
    pub factor: f64,
    pub long: WindowCheck,
    pub short: WindowCheck,
    pub verdict: Verdict,
}

fn window(slo: &SloSummary, secs: u64) -> WindowCheck {
    let reported = slo.windows.iter().find(|window| window.window_secs == secs);
    let (burn, partial) = match reported.map(|window| window.burn_rate) {
        Some(Measured::Value { value }) => (Some(value), false),
        Some(Measured::NoTraffic) => (Some(0.0), false),
        Some(Measured::Insufficient { covered_value, .. }) => (covered_value, true),
        None => (None, false),
    };
    WindowCheck {
        secs,
        burn,
        partial,
    }
}

fn check(slo: &SloSummary, alert: &BurnRateAlert) -> ConditionCheck {
    let long = window(slo, alert.long.seconds());
    let short = window(slo, alert.short.seconds());
    let verdict = match (long.above(alert.factor), short.above(alert.factor)) {
        (Some(true), Some(true)) if long.partial || short.partial => Verdict::FiresOnPartialData,
        (Some(true), Some(true)) => Verdict::Fires,
        (Some(false), _) | (_, Some(false)) => Verdict::Quiet,
        _ => Verdict::Undetermined,
    };
    ConditionCheck {
        severity: alert.severity,
        factor: alert.factor,
        long,
        short,
        verdict,
    }
}

/// Every condition, pages first, as the generated rules declare them.
pub fn conditions(slo: &SloSummary) -> Vec<ConditionCheck> {
    BURN_RATE_ALERTS
        .iter()
        .map(|alert| check(slo, alert))
        .collect()
}

/// The factor of the `severity` condition that looks at the window, if one does.
pub fn threshold(severity: Severity, secs: u64) -> Option<f64> {
    BURN_RATE_ALERTS
        .iter()
        .filter(|alert| alert.severity == severity)
        .filter(|alert| alert.long.seconds() == secs || alert.short.seconds() == secs)
        .map(|alert| alert.factor)
        .reduce(f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::test_support::slo_report;

    #[test]
    fn a_fast_burn_over_both_windows_pages() {
        let report = slo_report();
        let checks = conditions(&report.slos[0]);
        assert_eq!(checks.len(), 4);
        // 1h at 15.1x and 5m at 20.5x are both over 14.4x.
        assert_eq!(
            (checks[0].severity, checks[0].verdict),
            (Severity::Page, Verdict::Fires)
        );
        assert_eq!(checks[0].long.burn, Some(15.1));
        // 6h is not covered yet, but over the hour held it burns 4x: under 6x.
        assert_eq!(checks[1].verdict, Verdict::Quiet);
        assert!(checks[1].long.partial);
        // 1d (1.2x over what is held) and 2h (9x) both burn over 3x only on partial data.
        assert_eq!(checks[2].verdict, Verdict::Quiet);
        let latency = conditions(&report.slos[1]);
        // 6h has no value at all: nothing rules the 6x pair in or out.
        assert_eq!(latency[1].verdict, Verdict::Quiet);
        assert_eq!(latency[3].verdict, Verdict::Undetermined);
    }

    #[test]
    fn partial_windows_over_the_factor_fire_on_partial_data() {
        let mut report = slo_report();
        let slo = &mut report.slos[0];
        for window in &mut slo.windows {
            if window.window_secs == 21_600 {
                window.burn_rate = Measured::Insufficient {
                    covered_secs: 3_600,
                    covered_value: Some(7.0),
                };
            }
        }
        let checks = conditions(slo);
        assert_eq!(checks[1].verdict, Verdict::FiresOnPartialData);
    }

    #[test]
    fn one_window_under_the_factor_keeps_it_quiet_and_no_traffic_burns_nothing() {
        let report = slo_report();
        let jobs = conditions(&report.slos[2]);
        // 1h at 3.2x is under 14.4x; 1d at 1.1x is under 3x; 3d at 0.9x is under 1x.
        assert_eq!(jobs[0].verdict, Verdict::Quiet);
        assert_eq!(jobs[2].verdict, Verdict::Quiet);
        assert_eq!(jobs[3].verdict, Verdict::Quiet);
        let idle = conditions(&report.slos[3]);
        assert!(idle.iter().all(|check| check.verdict == Verdict::Quiet));
        assert_eq!(idle[0].short.burn, Some(0.0));
    }

    #[test]
    fn thresholds_per_window_follow_the_workbook() {
        assert_eq!(threshold(Severity::Page, 300), Some(14.4));
        assert_eq!(threshold(Severity::Page, 21_600), Some(6.0));
        assert_eq!(threshold(Severity::Ticket, 21_600), Some(1.0));
        assert_eq!(threshold(Severity::Ticket, 300), None);
        assert_eq!(threshold(Severity::Page, 259_200), None);
    }
}
