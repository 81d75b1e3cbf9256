//! Prometheus rules for one SLO: SLI recordings, metadata, burn-rate and threshold alerts.

use std::collections::BTreeMap;

use serde::Serialize;

use super::duration::PromDuration;
use super::promql::{self, Scope};
use super::spec::{Signal, Slo, ThresholdAlert};
use super::windows::{burn_rate_alerts, Severity, SLI_WINDOWS};

/// Window of the rate behind the threshold alerts and `slo:current_burn_rate:ratio`.
pub const SHORTEST_WINDOW: PromDuration = SLI_WINDOWS[0];

/// A Prometheus rule file (`groups:`), serialised as promtool reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleFile {
    pub groups: Vec<RuleGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleGroup {
    pub name: String,
    pub rules: Vec<Rule>,
}

/// A recording rule (`record`) or an alerting rule (`alert`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    pub expr: String,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_duration: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// `slo:sli_error:ratio_rate5m`: the error ratio of an SLO over a window.
pub fn sli_error_record(window: PromDuration) -> String {
    format!("slo:sli_error:ratio_rate{window}")
}

/// `slo:sli_error_events:rate5m`: error events per second of an SLO over a
/// window; 0 while idle, so that it can be summed over the period.
pub fn error_events_record(window: PromDuration) -> String {
    format!("slo:sli_error_events:rate{window}")
}

/// `slo:sli_total_events:rate5m`: all events per second of an SLO over a window.
pub fn total_events_record(window: PromDuration) -> String {
    format!("slo:sli_total_events:rate{window}")
}

/// The rules of one SLO, one group per purpose as Sloth lays them out.
pub fn rule_file(slo: &Slo, dashboard: &str) -> RuleFile {
    RuleFile {
        groups: vec![
            RuleGroup {
                name: format!("opsbox-slo-sli-recordings-{}", slo.name),
                rules: sli_recordings(slo),
            },
            RuleGroup {
                name: format!("opsbox-slo-meta-recordings-{}", slo.name),
                rules: meta_recordings(slo),
            },
            RuleGroup {
                name: format!("opsbox-slo-alerts-{}", slo.name),
                rules: [Severity::Page, Severity::Ticket]
                    .into_iter()
                    .map(|severity| burn_rate_alert(slo, severity, dashboard))
                    .chain(
                        slo.threshold_alerts
                            .iter()
                            .map(|alert| threshold_alert(slo, alert, dashboard)),
                    )
                    .collect(),
            },
        ],
    }
}

fn sli_recordings(slo: &Slo) -> Vec<Rule> {
    let mut rules = vec![
        record(
            slo,
            error_events_record(SHORTEST_WINDOW),
            promql::error_events_rate(&slo.indicator, SHORTEST_WINDOW, Scope::PerTrack),
        ),
        record(
            slo,
            total_events_record(SHORTEST_WINDOW),
            promql::total_rate(&slo.indicator, SHORTEST_WINDOW, Scope::PerTrack),
        ),
    ];
    rules.extend(SLI_WINDOWS.iter().map(|window| {
        record(
            slo,
            sli_error_record(*window),
            promql::error_ratio(&slo.indicator, *window, Scope::PerTrack),
        )
    }));
    if !SLI_WINDOWS.contains(&slo.period) {
        rules.push(record(
            slo,
            sli_error_record(slo.period),
            period_error_ratio(slo),
        ));
    }
    rules
}

/// The error ratio over the whole period. A rate over the period would read
/// weeks of raw samples at every evaluation, so it adds up the recorded 5m
/// event rates instead: all error events over all events, weighted by events
/// like the embedded engine. Averaging the recorded 5m ratio (as Sloth does)
/// would be NaN for the whole period after a single 5m window without events
/// (0/0), and would weigh a quiet hour as much as a busy one. Every event is
/// counted once per evaluation whose 5m window covers it, in the numerator
/// and the denominator alike, so that factor cancels.
fn period_error_ratio(slo: &Slo) -> String {
    let over_period = |record_name: String| {
        format!(
            "sum_over_time({record_name}{{slo=\"{}\"}}[{}])",
            slo.name, slo.period
        )
    };
    format!(
        "{}\n/\n{}",
        over_period(error_events_record(SHORTEST_WINDOW)),
        over_period(total_events_record(SHORTEST_WINDOW))
    )
}

fn meta_recordings(slo: &Slo) -> Vec<Rule> {
    let this = format!("{{slo=\"{}\"}}", slo.name);
    let per_budget = |record_name: String| {
        format!("{record_name}{this}\n/ on (slo) group_left\nslo:error_budget:ratio{this}")
    };
    vec![
        record(
            slo,
            "slo:objective:ratio".into(),
            format!("vector({})", promql::number(slo.objective_ratio())),
        ),
        record(
            slo,
            "slo:error_budget:ratio".into(),
            format!("vector({})", promql::number(slo.error_budget())),
        ),
        record(
            slo,
            "slo:time_period:days".into(),
            format!("vector({})", promql::number(slo.period.days())),
        ),
        record(
            slo,
            "slo:current_burn_rate:ratio".into(),
            per_budget(sli_error_record(SHORTEST_WINDOW)),
        ),
        record(
            slo,
            "slo:period_burn_rate:ratio".into(),
            per_budget(sli_error_record(slo.period)),
        ),
        record(
            slo,
            "slo:period_error_budget_remaining:ratio".into(),
            format!("1 - slo:period_burn_rate:ratio{this}"),
        ),
    ]
}

/// Multiwindow, multi-burn-rate alert without `for:`: the short window
/// already proves the burn is still going on, and `for:` would only delay
/// the page and keep it firing after recovery.
fn burn_rate_alert(slo: &Slo, severity: Severity, dashboard: &str) -> Rule {
    let budget = promql::number(slo.error_budget());
    let this = format!("{{slo=\"{}\"}}", slo.name);
    let pairs: Vec<String> = burn_rate_alerts(severity)
        .map(|pair| {
            let threshold = format!("({} * {budget})", promql::number(pair.factor));
            format!(
                "(\n  {long}{this} > {threshold}\n  and\n  {short}{this} > {threshold}\n)",
                long = sli_error_record(pair.long),
                short = sli_error_record(pair.short),
            )
        })
        .collect();
    let conditions: Vec<String> = burn_rate_alerts(severity)
        .map(|pair| {
            format!(
                "{}x over {} and {}",
                promql::number(pair.factor),
                pair.long,
                pair.short
            )
        })
        .collect();
    let pace = match severity {
        Severity::Page => "fast",
        Severity::Ticket => "steadily",
    };
    let exhausted = burn_rate_alerts(severity)
        .next()
        .map(|pair| {
            format!(
                " At {}x the whole budget is gone in {} days.",
                promql::number(pair.factor),
                promql::number((slo.period.days() / pair.factor * 10.0).round() / 10.0)
            )
        })
        .unwrap_or_default();
    Rule {
        record: None,
        alert: Some(slo.burn_rate_alert_name()),
        expr: pairs.join("\nor\n"),
        for_duration: None,
        labels: alert_labels(slo, severity),
        annotations: annotations(
            slo,
            dashboard,
            format!(
                "{} is burning its error budget {pace} on the {{{{ $labels.track }}}} track",
                slo.name
            ),
            format!(
                "{}. Objective {}% over {}. The error ratio is above {}.{exhausted}",
                slo.description.trim_end_matches('.'),
                promql::number(slo.objective),
                slo.period,
                conditions.join(", or ")
            ),
        ),
    }
}

fn threshold_alert(slo: &Slo, alert: &ThresholdAlert, dashboard: &str) -> Rule {
    let (expr, what) = match alert.signal {
        Signal::ErrorRatio => (
            format!(
                "{}{{slo=\"{}\"}} > {}",
                sli_error_record(SHORTEST_WINDOW),
                slo.name,
                promql::number(alert.above)
            ),
            format!(
                "The error ratio over {SHORTEST_WINDOW} has been above {}",
                promql::number(alert.above)
            ),
        ),
        Signal::ErrorRate => (
            format!(
                "{} > {}",
                promql::error_rate(&slo.indicator, SHORTEST_WINDOW, Scope::PerTrack),
                promql::number(alert.above)
            ),
            format!(
                "Error events have been above {} per second (over {SHORTEST_WINDOW})",
                promql::number(alert.above)
            ),
        ),
    };
    Rule {
        record: None,
        alert: Some(alert.name.clone()),
        expr,
        for_duration: Some(alert.for_duration.to_string()),
        labels: alert_labels(slo, alert.severity),
        annotations: annotations(
            slo,
            dashboard,
            format!("{} ({{{{ $labels.track }}}} track)", alert.summary),
            format!(
                "{what} for {} on the {{{{ $labels.track }}}} track. SLO {}: {}",
                alert.for_duration, slo.name, slo.description
            ),
        ),
    }
}

fn record(slo: &Slo, name: String, expr: String) -> Rule {
    Rule {
        record: Some(name),
        alert: None,
        expr,
        for_duration: None,
        labels: BTreeMap::from([("slo".to_owned(), slo.name.clone())]),
        annotations: BTreeMap::new(),
    }
}

/// Labels an alert carries besides those of its series (`track`).
pub fn alert_labels(slo: &Slo, severity: Severity) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("severity".to_owned(), severity.to_string()),
        ("slo".to_owned(), slo.name.clone()),
        ("service".to_owned(), slo.service.clone()),
    ])
}

fn annotations(
    slo: &Slo,
    dashboard: &str,
    summary: String,
    description: String,
) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("summary".to_owned(), summary),
        ("description".to_owned(), description),
        ("runbook_url".to_owned(), slo.runbook.clone()),
        (
            "dashboard".to_owned(),
            format!("{dashboard}?var-slo={}", slo.name),
        ),
    ])
}
