//! The gate's SLO check: no page alert, and no SLO burning its error budget faster than
//! the allowed factor over the last hour, read from the same report `opsbox slo` prints.

use super::{Check, CheckStatus};
use crate::model::slo::{AlertLevel, Measured, SloReport};

/// The window the burn rate is read over: the page alert's long window, and the one the
/// time to exhaustion projects from.
pub const BURN_WINDOW: &str = "1h";

/// The check of a report against `max_burn_rate`.
pub fn check(report: &SloReport, max_burn_rate: f64) -> Check {
    let named = |status, detail: String| Check::new("slo", status, detail);
    if report.slos.is_empty() {
        return named(
            CheckStatus::Unknown,
            format!("the {} source reports no SLO", report.source),
        );
    }
    let paging = report.paging();
    if !paging.is_empty() {
        return named(
            CheckStatus::Fail,
            format!("page alert active for {}", paging.join(", ")),
        );
    }
    let mut too_fast = Vec::new();
    let mut cannot_tell = Vec::new();
    let mut undetermined = Vec::new();
    let mut highest: Option<(f64, &str)> = None;
    for slo in &report.slos {
        if slo.alert == AlertLevel::Undetermined {
            undetermined.push(slo.name.as_str());
        }
        match slo.window(BURN_WINDOW).map(|window| window.burn_rate) {
            Some(Measured::Value { value }) => {
                if value > max_burn_rate {
                    too_fast.push(format!("{} at {value:.2}x", slo.name));
                }
                if highest.is_none_or(|(burn, _)| value > burn) {
                    highest = Some((value, slo.name.as_str()));
                }
            }
            // Covered, and nothing happened: nothing burns.
            Some(Measured::NoTraffic) => {}
            Some(Measured::Insufficient { covered_secs, .. }) => cannot_tell.push(format!(
                "{}: only {} of history, the {BURN_WINDOW} burn rate needs the whole window",
                slo.name,
                crate::durations::precise(std::time::Duration::from_secs(covered_secs))
            )),
            None => cannot_tell.push(format!("{}: no {BURN_WINDOW} window", slo.name)),
        }
    }
    if !too_fast.is_empty() {
        return named(
            CheckStatus::Fail,
            format!(
                "burning the error budget faster than {max_burn_rate}x over {BURN_WINDOW}: {}",
                too_fast.join(", ")
            ),
        );
    }
    if !cannot_tell.is_empty() {
        return named(CheckStatus::Unknown, cannot_tell.join("; "));
    }
    let mut detail = match highest {
        Some((burn, name)) => format!(
            "no page alert; highest {BURN_WINDOW} burn rate {burn:.2}x ({name}), at most \
             {max_burn_rate}x allowed ({} source)",
            report.source
        ),
        None => format!(
            "no page alert; no traffic in the last {BURN_WINDOW} ({} source)",
            report.source
        ),
    };
    if !undetermined.is_empty() {
        // The 6h/3d alert windows are not covered yet; the hour that decides a page is.
        detail.push_str(&format!(
            "; alerts with longer windows undetermined for {} (history shorter than 6h)",
            undetermined.join(", ")
        ));
    }
    named(CheckStatus::Pass, detail)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::model::slo::{
        Exhaustion, SloScope, SloSource, SloSummary, SourceChoice, WindowReport,
    };

    fn slo(name: &str, alert: AlertLevel, burn: Measured<f64>) -> SloSummary {
        SloSummary {
            name: name.to_owned(),
            service: "api".to_owned(),
            objective_percent: 99.9,
            period: "30d".to_owned(),
            period_secs: 30 * 86_400,
            error_budget: 0.001,
            runbook: String::new(),
            sli: Measured::NoTraffic,
            error_budget_remaining: Measured::NoTraffic,
            windows: vec![WindowReport {
                window: "1h".to_owned(),
                window_secs: 3_600,
                error_ratio: Measured::NoTraffic,
                burn_rate: burn,
            }],
            alert,
            budget_exhaustion: Measured::Value {
                value: Exhaustion::NotBurning,
            },
        }
    }

    fn report(slos: Vec<SloSummary>) -> SloReport {
        SloReport {
            source: SloSource::Embedded,
            requested: SourceChoice::Auto,
            scope: SloScope::All,
            evaluated_at: Utc::now(),
            coverage_secs: Some(7_200),
            prometheus_url: None,
            slos,
            targets: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn burning(value: f64) -> Measured<f64> {
        Measured::Value { value }
    }

    #[test]
    fn a_page_fails_whatever_the_burn() {
        let check = check(
            &report(vec![
                slo("api-availability", AlertLevel::Page, burning(0.5)),
                slo("api-latency", AlertLevel::None, burning(0.1)),
            ]),
            10.0,
        );
        assert_eq!(check.status, CheckStatus::Fail);
        assert_eq!(check.detail, "page alert active for api-availability");
    }

    #[test]
    fn burning_above_the_factor_fails_and_at_the_factor_passes() {
        let slos = vec![
            slo("api-availability", AlertLevel::Ticket, burning(2.5)),
            slo("jobs-success", AlertLevel::None, Measured::NoTraffic),
        ];
        let failed = check(&report(slos.clone()), 2.0);
        assert_eq!(failed.status, CheckStatus::Fail);
        assert!(
            failed
                .detail
                .contains("faster than 2x over 1h: api-availability at 2.50x"),
            "{}",
            failed.detail
        );
        let passed = check(&report(slos), 2.5);
        assert_eq!(passed.status, CheckStatus::Pass, "{}", passed.detail);
        assert!(
            passed
                .detail
                .contains("highest 1h burn rate 2.50x (api-availability)"),
            "{}",
            passed.detail
        );
    }

    #[test]
    fn less_than_an_hour_of_history_or_no_slo_cannot_tell() {
        let young = check(
            &report(vec![slo(
                "api-availability",
                AlertLevel::Undetermined,
                Measured::Insufficient {
                    covered_secs: 600,
                    covered_value: Some(0.2),
                },
            )]),
            1.0,
        );
        assert_eq!(young.status, CheckStatus::Unknown);
        assert!(
            young.detail.contains("only 10m00s of history"),
            "{}",
            young.detail
        );
        assert_eq!(check(&report(Vec::new()), 1.0).status, CheckStatus::Unknown);
    }

    #[test]
    fn an_undetermined_long_alert_is_said_when_the_hour_is_covered() {
        let passed = check(
            &report(vec![slo(
                "api-latency",
                AlertLevel::Undetermined,
                Measured::NoTraffic,
            )]),
            1.0,
        );
        assert_eq!(passed.status, CheckStatus::Pass);
        assert!(
            passed.detail.contains("no traffic in the last 1h")
                && passed.detail.contains("undetermined for api-latency"),
            "{}",
            passed.detail
        );
    }
}
