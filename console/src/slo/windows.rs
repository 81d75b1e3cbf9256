//! The SLI windows and the multiwindow, multi-burn-rate alert pairs of the Google SRE Workbook.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::duration::PromDuration;

/// Windows over which every SLO's error ratio is recorded; the alert pairs
/// below use only these, and dashboards read the rest.
pub const SLI_WINDOWS: [PromDuration; 7] = [
    PromDuration::from_minutes(5),
    PromDuration::from_minutes(30),
    PromDuration::from_minutes(60),
    PromDuration::from_minutes(2 * 60),
    PromDuration::from_minutes(6 * 60),
    PromDuration::from_minutes(24 * 60),
    PromDuration::from_minutes(3 * 24 * 60),
];

/// The longest window an alert looks at; a period shorter than this makes no sense.
pub const LONGEST_ALERT_WINDOW: PromDuration = PromDuration::from_minutes(3 * 24 * 60);

/// Where an alert goes: a person now, or a queue for working hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Page,
    Ticket,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Page => "page",
            Severity::Ticket => "ticket",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One multiwindow condition: the error ratio exceeds `factor` times the
/// error budget over both the long window (it matters) and the short window
/// (it is still happening, so the alert resets soon after recovery).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnRateAlert {
    pub severity: Severity,
    pub factor: f64,
    pub long: PromDuration,
    pub short: PromDuration,
}

impl BurnRateAlert {
    /// How much of the budget of `period` this burn uses up over the long
    /// window, as a fraction (14.4x over 1h of a 30d period is 2%).
    pub fn budget_spent(&self, period: PromDuration) -> f64 {
        self.factor * self.long.seconds() as f64 / period.seconds() as f64
    }
}

/// SRE Workbook, "Alerting on SLOs" (recommended parameters): page when 2% of
/// a 30-day budget goes in 1h or 5% in 6h, ticket when 10% goes in 1d or in
/// 3d; each short window is 1/12 of its long one.
pub const BURN_RATE_ALERTS: [BurnRateAlert; 4] = [
    BurnRateAlert {
        severity: Severity::Page,
        factor: 14.4,
        long: PromDuration::from_minutes(60),
        short: PromDuration::from_minutes(5),
    },
    BurnRateAlert {
        severity: Severity::Page,
        factor: 6.0,
        long: PromDuration::from_minutes(6 * 60),
        short: PromDuration::from_minutes(30),
    },
    BurnRateAlert {
        severity: Severity::Ticket,
        factor: 3.0,
        long: PromDuration::from_minutes(24 * 60),
        short: PromDuration::from_minutes(2 * 60),
    },
    BurnRateAlert {
        severity: Severity::Ticket,
        factor: 1.0,
        long: PromDuration::from_minutes(3 * 24 * 60),
        short: PromDuration::from_minutes(6 * 60),
    },
];

/// The alert pairs of one severity, in table order.
pub fn burn_rate_alerts(severity: Severity) -> impl Iterator<Item = &'static BurnRateAlert> {
    BURN_RATE_ALERTS
        .iter()
        .filter(move |alert| alert.severity == severity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alert_window_is_recorded() {
        for alert in &BURN_RATE_ALERTS {
            assert!(SLI_WINDOWS.contains(&alert.long), "{alert:?}");
            assert!(SLI_WINDOWS.contains(&alert.short), "{alert:?}");
            assert!(alert.long <= LONGEST_ALERT_WINDOW);
        }
    }

    #[test]
    fn page_pairs_spend_the_workbook_budget_fractions() {
        let period = PromDuration::from_minutes(30 * 24 * 60);
        let spent: Vec<f64> = BURN_RATE_ALERTS
            .iter()
            .map(|alert| (alert.budget_spent(period) * 1000.0).round() / 1000.0)
            .collect();
        assert_eq!(spent, vec![0.02, 0.05, 0.1, 0.1]);
    }
}
