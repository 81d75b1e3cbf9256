//! SLO status as every reader sees it (`GET /slo`, `opsbox slo`, the console's SLO view), whichever source computed it.
//!
//! A number is never invented: a window with no events says `no_traffic`, and a window
//! longer than the history the source holds says `insufficient`, with the value over
//! the part it does cover kept apart in `covered_value`. Alerts only ever use full
//! windows.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use opsbox_common::config::Track;

/// Where the numbers of a report come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SloSource {
    /// The console's own engine, fed by scraping every instance's `/metrics`.
    Embedded,
    /// Prometheus' recording rules and alerts, generated from the same spec.
    Prometheus,
}

impl SloSource {
    pub fn as_str(self) -> &'static str {
        match self {
            SloSource::Embedded => "embedded",
            SloSource::Prometheus => "prometheus",
        }
    }
}

impl fmt::Display for SloSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which source a reader asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceChoice {
    /// Prometheus when one runs, the embedded engine otherwise.
    #[default]
    Auto,
    Embedded,
    Prometheus,
}

impl SourceChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceChoice::Auto => "auto",
            SourceChoice::Embedded => "embedded",
            SourceChoice::Prometheus => "prometheus",
        }
    }
}

impl fmt::Display for SourceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SourceChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(SourceChoice::Auto),
            "embedded" => Ok(SourceChoice::Embedded),
            "prometheus" => Ok(SourceChoice::Prometheus),
            other => Err(format!(
                "unknown SLO source `{other}` (use auto, embedded or prometheus)"
            )),
        }
    }
}

/// Which series count: every track summed, or one track alone (the canary analysis'
/// view, or the stable revision without the canary's noise).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SloScope {
    #[default]
    All,
    Stable,
    Canary,
}

impl SloScope {
    pub fn as_str(self) -> &'static str {
        match self {
            SloScope::All => "all",
            SloScope::Stable => "stable",
            SloScope::Canary => "canary",
        }
    }

    /// The one track this scope reads, or `None` for all of them.
    pub fn track(self) -> Option<Track> {
        match self {
            SloScope::All => None,
            SloScope::Stable => Some(Track::Stable),
            SloScope::Canary => Some(Track::Canary),
        }
    }
}

impl fmt::Display for SloScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SloScope {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "all" => Ok(SloScope::All),
            "stable" => Ok(SloScope::Stable),
            "canary" => Ok(SloScope::Canary),
            other => Err(format!(
                "unknown SLO scope `{other}` (use all, stable or canary)"
            )),
        }
    }
}

/// What a reader asks `GET /slo` for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SloQuery {
    #[serde(default)]
    pub source: SourceChoice,
    #[serde(default)]
    pub scope: SloScope,
}

impl SloQuery {
    /// `source=...&scope=...`, for the control endpoint's URL.
    pub fn query_string(&self) -> String {
        format!("source={}&scope={}", self.source, self.scope)
    }
}

/// A number measured over a window, or why there is none.
///
/// In JSON: `{"state":"value","value":0.25}`, `{"state":"no_traffic"}`, or
/// `{"state":"insufficient","covered_secs":95,"covered_value":0.25}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Measured<T> {
    Value {
        value: T,
    },
    /// The window is covered by data, but no event happened in it.
    NoTraffic,
    /// The source holds less history than the window (`covered_secs`).
    /// `covered_value` is the same number over the covered part only, when it had
    /// events: shown apart, never used for an alert.
    Insufficient {
        covered_secs: u64,
        #[serde(default = "none", skip_serializing_if = "Option::is_none")]
        covered_value: Option<T>,
    },
}

/// serde's `default` for a generic `Option` field.
fn none<T>() -> Option<T> {
    None
}

impl<T> Measured<T> {
    /// The number over the whole window, if there is one.
    pub fn value(&self) -> Option<&T> {
        match self {
            Measured::Value { value } => Some(value),
            _ => None,
        }
    }

    /// The number over the data the source has for this window: the window's value,
    /// or the covered part's when the window is longer than the history.
    pub fn over_available_data(&self) -> Option<&T> {
        match self {
            Measured::Value { value } => Some(value),
            Measured::NoTraffic => None,
            Measured::Insufficient { covered_value, .. } => covered_value.as_ref(),
        }
    }

    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> Measured<U> {
        match self {
            Measured::Value { value } => Measured::Value { value: f(value) },
            Measured::NoTraffic => Measured::NoTraffic,
            Measured::Insufficient {
                covered_secs,
                covered_value,
            } => Measured::Insufficient {
                covered_secs,
                covered_value: covered_value.map(f),
            },
        }
    }
}

/// Error ratio and burn rate of one SLO over one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowReport {
    /// As Prometheus writes it: `5m`, `1h`, `30d`.
    pub window: String,
    pub window_secs: u64,
    /// Error events over all events.
    pub error_ratio: Measured<f64>,
    /// Error ratio over the error budget: 1 spends the budget exactly over the period.
    pub burn_rate: Measured<f64>,
}

/// Which multiwindow burn-rate alert is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertLevel {
    Page,
    Ticket,
    None,
    /// None fires, but some window an alert needs is not covered by history yet
    /// (embedded source only: Prometheus evaluates its rules over whatever it has).
    Undetermined,
}

impl AlertLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertLevel::Page => "page",
            AlertLevel::Ticket => "ticket",
            AlertLevel::None => "none",
            AlertLevel::Undetermined => "undetermined",
        }
    }
}

/// When the error budget runs out if the current (1h) burn goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Exhaustion {
    NotBurning,
    Exhausted,
    In { secs: u64 },
}

impl Exhaustion {
    /// Burning at rate `b` spends `b / period` of the budget per second, so what is
    /// `remaining` lasts `remaining × period / b`.
    pub fn project(remaining: f64, burn_rate: f64, period_secs: u64) -> Self {
        if remaining <= 0.0 {
            return Exhaustion::Exhausted;
        }
        if burn_rate <= 0.0 || !burn_rate.is_finite() {
            return Exhaustion::NotBurning;
        }
        let secs = remaining * period_secs as f64 / burn_rate;
        if secs.is_finite() && secs < u64::MAX as f64 {
            Exhaustion::In { secs: secs as u64 }
        } else {
            Exhaustion::NotBurning
        }
    }
}

/// The window the time to exhaustion is projected from, as the embedded engine does:
/// long enough not to swing with every spike, short enough to be "now".
pub const CURRENT_BURN_WINDOW_SECS: u64 = 3_600;

/// Time to exhaustion from the budget left over the period and the current burn; over
/// the covered part too when the period is longer than the history.
pub fn budget_exhaustion(
    remaining: Measured<f64>,
    current_burn: Measured<f64>,
    period_secs: u64,
) -> Measured<Exhaustion> {
    let burn = |burn: Option<&f64>| burn.copied().unwrap_or(0.0);
    match remaining {
        Measured::NoTraffic => Measured::NoTraffic,
        Measured::Value { value: remaining } => match current_burn {
            Measured::Insufficient {
                covered_secs,
                covered_value,
            } => Measured::Insufficient {
                covered_secs,
                covered_value: covered_value
                    .map(|burn| Exhaustion::project(remaining, burn, period_secs)),
            },
            current => Measured::Value {
                value: Exhaustion::project(remaining, burn(current.value()), period_secs),
            },
        },
        Measured::Insufficient {
            covered_secs,
            covered_value,
        } => Measured::Insufficient {
            covered_secs,
            covered_value: covered_value.map(|remaining| {
                Exhaustion::project(
                    remaining,
                    burn(current_burn.over_available_data()),
                    period_secs,
                )
            }),
        },
    }
}

/// One SLO as a source sees it now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloSummary {
    pub name: String,
    /// The workload that serves it: `api`, `worker`.
    pub service: String,
    /// Percent of good events promised, e.g. 99.9.
    pub objective_percent: f64,
    pub period: String,
    pub period_secs: u64,
    /// Share of events allowed to be bad, e.g. 0.001.
    pub error_budget: f64,
    pub runbook: String,
    /// Share of good events over the period.
    pub sli: Measured<f64>,
    /// 1 − spent share of the period's budget; below 0 once overspent.
    pub error_budget_remaining: Measured<f64>,
    /// The SLI windows (5m .. 3d), then the period.
    pub windows: Vec<WindowReport>,
    pub alert: AlertLevel,
    pub budget_exhaustion: Measured<Exhaustion>,
}

impl SloSummary {
    /// The budget left of the whole period, counting the errors the source has seen: what
    /// the covered history's errors cost of the period (30 days). Where the source holds
    /// the whole period this is `error_budget_remaining` itself. Over a few minutes of
    /// history, a bad canary overspends that history's share many times over while
    /// costing the month a sliver: this is the figure to read, the other one a detail.
    pub fn period_budget_left(&self) -> Measured<f64> {
        match &self.error_budget_remaining {
            Measured::Insufficient {
                covered_secs,
                covered_value: Some(left),
            } if self.period_secs > 0 => {
                let share = (*covered_secs as f64 / self.period_secs as f64).min(1.0);
                Measured::Value {
                    value: 1.0 - (1.0 - left) * share,
                }
            }
            other => *other,
        }
    }

    /// The report of one window, e.g. `window("5m")`.
    pub fn window(&self, window: &str) -> Option<&WindowReport> {
        self.windows.iter().find(|report| report.window == window)
    }
}

/// How the embedded engine's scrapes of one instance go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScrapeTarget {
    pub instance: String,
    pub url: String,
    pub last_success: Option<DateTime<Utc>>,
    /// Why the last scrape failed, when it did.
    pub last_error: Option<String>,
}

/// Everything `GET /slo` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloReport {
    /// Where these numbers come from.
    pub source: SloSource,
    /// What was asked for (`auto` resolves to one source).
    pub requested: SourceChoice,
    pub scope: SloScope,
    pub evaluated_at: DateTime<Utc>,
    /// How much history the source holds; longer windows are `insufficient`. `None`
    /// when the source cannot tell (a Prometheus that does not scrape itself).
    pub coverage_secs: Option<u64>,
    /// The Prometheus this environment runs, if any (whatever the source).
    #[serde(default)]
    pub prometheus_url: Option<String>,
    pub slos: Vec<SloSummary>,
    /// The embedded engine's scrape targets (empty for Prometheus, whose own
    /// targets page says the same).
    #[serde(default)]
    pub targets: Vec<ScrapeTarget>,
    /// Caveats a reader should know: a fallback from Prometheus, refused series.
    #[serde(default)]
    pub notes: Vec<String>,
}

impl SloReport {
    /// Names of the SLOs whose page alert is active: what makes `opsbox slo` fail.
    pub fn paging(&self) -> Vec<&str> {
        self.slos
            .iter()
            .filter(|slo| slo.alert == AlertLevel::Page)
            .map(|slo| slo.name.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(remaining: Measured<f64>) -> SloSummary {
        SloSummary {
            name: "api-availability".to_owned(),
            service: "api".to_owned(),
            objective_percent: 99.9,
            period: "30d".to_owned(),
            period_secs: 30 * 86_400,
            error_budget: 0.001,
            runbook: String::new(),
            sli: Measured::NoTraffic,
            error_budget_remaining: remaining,
            windows: Vec::new(),
            alert: AlertLevel::None,
            budget_exhaustion: Measured::NoTraffic,
        }
    }

    #[test]
    fn the_period_budget_is_what_the_covered_errors_cost_of_the_whole_period() {
        // Thirty seconds of a 10% bad canary at 99.9%: the covered half minute alone is
        // overspent about 100 times (-9,900%), the month has lost a sliver of its budget.
        let left = summary(Measured::Insufficient {
            covered_secs: 30,
            covered_value: Some(-99.0),
        })
        .period_budget_left();
        let Measured::Value { value } = left else {
            panic!("a value over the period: {left:?}");
        };
        let expected = 1.0 - 100.0 * 30.0 / (30.0 * 86_400.0);
        assert!((value - expected).abs() < 1e-12, "{value}");
        assert!(value > 0.99, "{value}");
        // A whole period covered is the figure itself; nothing to extrapolate from nothing.
        let whole = Measured::Value { value: 0.42 };
        assert_eq!(summary(whole).period_budget_left(), whole);
        let unknown = Measured::Insufficient {
            covered_secs: 30,
            covered_value: None,
        };
        assert_eq!(summary(unknown).period_budget_left(), unknown);
    }

    #[test]
    fn measured_values_say_why_they_are_missing_in_json() {
        let value: Measured<f64> = Measured::Value { value: 0.25 };
        assert_eq!(
            serde_json::to_value(value).expect("json"),
            serde_json::json!({"state": "value", "value": 0.25})
        );
        let partial: Measured<f64> = Measured::Insufficient {
            covered_secs: 95,
            covered_value: Some(0.5),
        };
        let json = serde_json::to_string(&partial).expect("json");
        assert_eq!(
            json,
            r#"{"state":"insufficient","covered_secs":95,"covered_value":0.5}"#
        );
        assert_eq!(
            serde_json::from_str::<Measured<f64>>(r#"{"state":"insufficient","covered_secs":3}"#)
                .expect("parses"),
            Measured::Insufficient {
                covered_secs: 3,
                covered_value: None
            }
        );
        assert_eq!(
            serde_json::to_string(&Measured::<f64>::NoTraffic).expect("json"),
            r#"{"state":"no_traffic"}"#
        );
        assert_eq!(partial.value(), None);
        assert_eq!(partial.over_available_data(), Some(&0.5));
    }

    #[test]
    fn exhaustion_projects_the_remaining_budget_at_the_current_burn() {
        let day = 86_400;
        // Half the budget left, burning 15x over a 30-day period: one day.
        assert_eq!(
            Exhaustion::project(0.5, 15.0, 30 * day),
            Exhaustion::In { secs: day }
        );
        assert_eq!(
            Exhaustion::project(-0.1, 2.0, 30 * day),
            Exhaustion::Exhausted
        );
        assert_eq!(
            Exhaustion::project(0.9, 0.0, 30 * day),
            Exhaustion::NotBurning
        );
    }

    #[test]
    fn sources_and_scopes_parse_and_name_the_choices_on_error() {
        assert_eq!("prometheus".parse(), Ok(SourceChoice::Prometheus));
        assert_eq!("canary".parse(), Ok(SloScope::Canary));
        let error = "grafana".parse::<SourceChoice>().expect_err("refused");
        assert!(error.contains("auto, embedded or prometheus"), "{error}");
        let query = SloQuery {
            source: SourceChoice::Embedded,
            scope: SloScope::Stable,
        };
        assert_eq!(query.query_string(), "source=embedded&scope=stable");
    }
}
