//! SLO status read from Prometheus: the recording rules and alerts generated from the same spec.
//!
//! Per track the error ratio of a window is the recording rule itself
//! (`slo:sli_error:ratio_rate5m{slo, track}`). For all tracks together, the recorded
//! ratio of each track is weighted by the track's event rate over the same window, which
//! is the ratio of all errors to all events. The period is the exception: its rule adds
//! up the recorded 5m event rates over the period, so all tracks together add up the
//! same records of every track (see [`period_query`]). The SLI and the error budget left
//! come from the period's ratio as the embedded engine derives them. The alert is what
//! Prometheus fires (`ALERTS`), not recomputed here.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;

use super::super::slo_summary;
use super::client::{PrometheusClient, PrometheusError};
use crate::model::slo::{AlertLevel, Measured, SloScope, SloSummary, WindowReport};
use crate::slo::promql::{self, Scope};
use crate::slo::rules::{
    error_events_record, sli_error_record, total_events_record, SHORTEST_WINDOW,
};
use crate::slo::{PromDuration, Slo, SloSpec, SLI_WINDOWS};

/// How long Prometheus has held data: its TSDB's oldest sample, which it exposes
/// about itself (milliseconds). Absent when it does not scrape itself.
pub const COVERAGE_QUERY: &str = "time() - min(prometheus_tsdb_lowest_timestamp) / 1000";

/// Present for every SLO whose generated rules are loaded (`vector(objective)`).
pub const RULES_LOADED_QUERY: &str = "slo:objective:ratio";

/// Why the SLOs could not be read from Prometheus.
#[derive(Debug, thiserror::Error)]
pub enum PrometheusSloError {
    #[error(transparent)]
    Api(#[from] PrometheusError),
    #[error(
        "Prometheus at {url} has no recording rules for SLO {missing}: load the rule files \
         `opsbox slo rules` generates (observability/prometheus/rules)"
    )]
    MissingRules { url: String, missing: String },
}

/// What Prometheus says about every SLO of the spec.
#[derive(Debug, Clone, PartialEq)]
pub struct PrometheusSlos {
    pub slos: Vec<SloSummary>,
    pub coverage_secs: Option<u64>,
}

/// Reads every SLO of `spec` as of `at`, in spec order.
pub async fn read_slos(
    client: &PrometheusClient,
    spec: &SloSpec,
    scope: SloScope,
    at: DateTime<Utc>,
) -> Result<PrometheusSlos, PrometheusSloError> {
    rules_loaded(client, spec, at).await?;
    let coverage_secs = coverage(client, at).await?;
    let alerts = firing_alerts(client, spec, scope, at).await?;
    let mut slos = Vec::with_capacity(spec.slos.len());
    for slo in &spec.slos {
        let windows = read_windows(client, slo, scope, at, coverage_secs).await?;
        let alert = alerts.get(&slo.name).copied().unwrap_or(AlertLevel::None);
        slos.push(summary(slo, windows, alert));
    }
    Ok(PrometheusSlos {
        slos,
        coverage_secs,
    })
}

/// The error ratio of `slo` over `window` in `scope`, from the recording rules.
pub fn window_query(slo: &Slo, window: PromDuration, scope: SloScope) -> String {
    let record = sli_error_record(window);
    match scope.track() {
        Some(track) => format!(
            "{record}{{slo=\"{}\",track=\"{}\"}}",
            slo.name,
            track.as_str()
        ),
        None if window == slo.period && period_adds_up_event_records(slo) => period_query(slo),
        None => {
            // `>= 0` drops a track's NaN (0/0: no events there), which would poison the sum.
            let ratio = format!("({record}{{slo=\"{}\"}} >= 0)", slo.name);
            let events = promql::total_rate(&slo.indicator, window, Scope::PerTrack);
            format!("sum(\n{ratio}\n* on (track)\n{events}\n)\n/\nsum(\n{events}\nand on (track)\n{ratio}\n)")
        }
    }
}

/// The error ratio of `slo` over its period, all tracks together: every track's
/// recorded 5m error events over every track's recorded 5m events, added up over the
/// period, exactly as the period rule does per track (`rules.rs`), so the number is the
/// sum of what Prometheus records and nothing else.
///
/// Weighing each track's recorded period ratio by a `rate()` of the raw counters over
/// the period, as the other windows do, mixes two different counts: the raw counters
/// reach back to whatever the TSDB holds (an earlier run of the stack, samples from
/// before these rules were loaded) while the records start with the rules, and it reads
/// the whole period of raw samples at every report. Adding up the records counts an
/// event younger than 5 minutes only in part (it is in fewer 5m windows yet), as the
/// per-track rule does: the period lags by up to 5 minutes, in every scope alike.
pub fn period_query(slo: &Slo) -> String {
    let over_period = |record: String| {
        format!(
            "sum by (slo) (sum_over_time({record}{{slo=\"{}\"}}[{}]))",
            slo.name, slo.period
        )
    };
    format!(
        "{}\n/\n{}",
        over_period(error_events_record(SHORTEST_WINDOW)),
        over_period(total_events_record(SHORTEST_WINDOW))
    )
}

/// Whether the period's rule adds up the 5m event records: the rules generate it so
/// unless the period is one of the SLI windows, whose rules take a `rate()` instead.
fn period_adds_up_event_records(slo: &Slo) -> bool {
    !SLI_WINDOWS.contains(&slo.period)
}

/// Firing burn-rate alerts: `track` is one of their labels, so a scope keeps its own.
pub fn alerts_query(scope: SloScope) -> String {
    match scope.track() {
        Some(track) => format!(
            "ALERTS{{alertstate=\"firing\",slo!=\"\",track=\"{}\"}}",
            track.as_str()
        ),
        None => "ALERTS{alertstate=\"firing\",slo!=\"\"}".to_owned(),
    }
}

async fn rules_loaded(
    client: &PrometheusClient,
    spec: &SloSpec,
    at: DateTime<Utc>,
) -> Result<(), PrometheusSloError> {
    let loaded: BTreeSet<String> = client
        .query(RULES_LOADED_QUERY, Some(at))
        .await?
        .into_iter()
        .filter_map(|sample| sample.labels.get("slo").cloned())
        .collect();
    let missing: Vec<&str> = spec
        .slos
        .iter()
        .map(|slo| slo.name.as_str())
        .filter(|name| !loaded.contains(*name))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(PrometheusSloError::MissingRules {
            url: client.base_url().to_owned(),
            missing: missing.join(", "),
        })
    }
}

async fn coverage(
    client: &PrometheusClient,
    at: DateTime<Utc>,
) -> Result<Option<u64>, PrometheusError> {
    match client.query_value(COVERAGE_QUERY, Some(at)).await {
        // Before its first sample the TSDB reports the largest timestamp there is.
        Ok(Some(seconds)) => Ok(Some(if seconds > 0.0 { seconds as u64 } else { 0 })),
        Ok(None) | Err(PrometheusError::NotANumber { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

async fn firing_alerts(
    client: &PrometheusClient,
    spec: &SloSpec,
    scope: SloScope,
    at: DateTime<Utc>,
) -> Result<BTreeMap<String, AlertLevel>, PrometheusError> {
    let alert_names: BTreeMap<String, &str> = spec
        .slos
        .iter()
        .map(|slo| (slo.burn_rate_alert_name(), slo.name.as_str()))
        .collect();
    let mut levels = BTreeMap::new();
    for sample in client.query(&alerts_query(scope), Some(at)).await? {
        let Some(slo) = sample
            .labels
            .get("alertname")
            .and_then(|name| alert_names.get(name))
        else {
            // Threshold alerts carry `slo` too; the table shows the burn-rate alert.
            continue;
        };
        let level = match sample.labels.get("severity").map(String::as_str) {
            Some("page") => AlertLevel::Page,
            Some("ticket") => AlertLevel::Ticket,
            _ => continue,
        };
        let entry = levels.entry((*slo).to_owned()).or_insert(level);
        if level == AlertLevel::Page {
            *entry = AlertLevel::Page;
        }
    }
    Ok(levels)
}

/// Every window's error ratio, queried a few at a time (one task per window).
async fn read_windows(
    client: &PrometheusClient,
    slo: &Slo,
    scope: SloScope,
    at: DateTime<Utc>,
    coverage_secs: Option<u64>,
) -> Result<Vec<WindowReport>, PrometheusError> {
    let windows: Vec<PromDuration> = SLI_WINDOWS
        .iter()
        .copied()
        .chain(std::iter::once(slo.period))
        .collect();
    let mut queries = JoinSet::new();
    for (index, window) in windows.iter().enumerate() {
        let client = client.clone();
        let query = window_query(slo, *window, scope);
        queries.spawn(async move { (index, error_ratio(&client, &query, at).await) });
    }
    let mut ratios: Vec<Option<Option<f64>>> = vec![None; windows.len()];
    while let Some(joined) = queries.join_next().await {
        let (index, ratio) = joined.map_err(|error| PrometheusError::Malformed {
            url: client.base_url().to_owned(),
            query: String::new(),
            reason: format!("the query task failed: {error}"),
        })?;
        if let Some(slot) = ratios.get_mut(index) {
            *slot = Some(ratio?);
        }
    }
    let budget = slo.error_budget();
    Ok(windows
        .iter()
        .zip(ratios)
        .map(|(window, ratio)| {
            let error_ratio = measured(ratio.flatten(), window.seconds(), coverage_secs);
            WindowReport {
                window: window.to_string(),
                window_secs: window.seconds(),
                error_ratio,
                burn_rate: error_ratio.map(|ratio| ratio / budget),
            }
        })
        .collect())
}

/// `None` for no events: no series (nothing was ever counted) or NaN (0/0).
async fn error_ratio(
    client: &PrometheusClient,
    query: &str,
    at: DateTime<Utc>,
) -> Result<Option<f64>, PrometheusError> {
    match client.query_value(query, Some(at)).await {
        Ok(ratio) => Ok(ratio),
        Err(PrometheusError::NotANumber { value, .. }) if value == "NaN" => Ok(None),
        Err(error) => Err(error),
    }
}

/// Prometheus evaluates a window longer than its history over the history it has;
/// said as such, like the embedded engine does, when its coverage is known.
fn measured(ratio: Option<f64>, window_secs: u64, coverage_secs: Option<u64>) -> Measured<f64> {
    match coverage_secs {
        Some(covered_secs) if covered_secs < window_secs => Measured::Insufficient {
            covered_secs,
            covered_value: ratio,
        },
        _ => ratio.map_or(Measured::NoTraffic, |value| Measured::Value { value }),
    }
}

fn summary(slo: &Slo, windows: Vec<WindowReport>, alert: AlertLevel) -> SloSummary {
    let period_ratio = windows
        .last()
        .map_or(Measured::NoTraffic, |window| window.error_ratio);
    let budget = slo.error_budget();
    let sli = period_ratio.map(|ratio| 1.0 - ratio);
    let error_budget_remaining = period_ratio.map(|ratio| 1.0 - ratio / budget);
    slo_summary(slo, windows, sli, error_budget_remaining, alert)
}
