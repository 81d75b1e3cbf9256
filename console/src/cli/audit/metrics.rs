//! `opsbox audit --metrics [--since 30d] [--json]`: the delivery metrics of the audit log.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use serde::Serialize;

use crate::audit::metrics::{self, percent_or_no_data, seconds_or_no_data, DeliveryMetrics};
use crate::audit::{AuditLog, MAX_ENTRIES_READ};

/// What `--json` prints: the metrics, and how much of the period the log read covers.
#[derive(Debug, Serialize)]
struct MetricsReport<'a> {
    #[serde(flatten)]
    metrics: &'a DeliveryMetrics,
    log: String,
    /// Set when only the newest entries were read and they start after the period does.
    covered_from: Option<chrono::DateTime<Utc>>,
    unreadable_lines: u64,
}

pub fn run(log: &AuditLog, period: Duration, json: bool) -> anyhow::Result<()> {
    let read = log.read_recent(MAX_ENTRIES_READ)?;
    let until = Utc::now();
    let since = until - chrono::Duration::from_std(period).context("the period is too long")?;
    // Reading stops at the newest entries: older ones of the period are on disk but not
    // counted, so the report says from when it really counts.
    let covered_from = (read.entries.len() == MAX_ENTRIES_READ)
        .then(|| read.entries.first().map(|entry| entry.time))
        .flatten()
        .filter(|first| *first > since);
    let metrics = metrics::compute(&read.entries, since, until);
    let report = MetricsReport {
        metrics: &metrics,
        log: log.path().display().to_string(),
        covered_from,
        unreadable_lines: read.unreadable_lines,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report, period));
    }
    Ok(())
}

fn render(report: &MetricsReport<'_>, period: Duration) -> String {
    let metrics = report.metrics;
    let mut out = format!(
        "Delivery metrics over the last {:.1} days ({} to {} UTC), from {} audit entries in {}\n",
        period.as_secs_f64() / 86_400.0,
        metrics.since.format("%Y-%m-%d %H:%M"),
        metrics.until.format("%Y-%m-%d %H:%M"),
        metrics.entries,
        report.log
    );
    let per_day = metrics.deployments_per_day.map_or_else(
        || "no data".to_owned(),
        |rate| format!("{rate:.2}/day, {:.2}/week", rate * 7.0),
    );
    let rows = [
        (
            "deployment frequency",
            format!("{per_day} ({} reached full)", metrics.deployments),
        ),
        (
            "change failure rate",
            format!(
                "{} ({} of {} rollouts aborted or undone)",
                percent_or_no_data(metrics.change_failure_rate),
                metrics.failed_rollouts,
                metrics.rollouts_started
            ),
        ),
        (
            "time to restore",
            format!(
                "{} (mean of {} restores)",
                seconds_or_no_data(metrics.mean_time_to_restore_secs),
                metrics.restores
            ),
        ),
        (
            "canary to full",
            format!(
                "{} (mean of {} rollouts)",
                seconds_or_no_data(metrics.mean_canary_to_full_secs),
                metrics.canary_to_full_count
            ),
        ),
        (
            "rollback frequency",
            format!(
                "{} ({} undos; {} aborts)",
                metrics
                    .rollbacks_per_week
                    .map_or_else(|| "no data".to_owned(), |rate| format!("{rate:.2}/week")),
                metrics.rollbacks,
                metrics.aborts
            ),
        ),
    ];
    for (name, value) in rows {
        let _ = writeln!(out, "  {name:<22} {value}");
    }
    if let Some(from) = report.covered_from {
        let _ = writeln!(
            out,
            "note: only the newest {MAX_ENTRIES_READ} entries are read; they start at {} UTC, \
             so the figures cover the period from there",
            from.format("%Y-%m-%d %H:%M")
        );
    }
    if report.unreadable_lines > 0 {
        let _ = writeln!(
            out,
            "note: {} unreadable line(s) skipped",
            report.unreadable_lines
        );
    }
    let _ = writeln!(out, "based on: {}", metrics.basis);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_log_reads_no_data_and_says_what_it_is_based_on() {
        let now = Utc::now();
        let metrics = metrics::compute(&[], now - chrono::Duration::days(30), now);
        let report = MetricsReport {
            metrics: &metrics,
            log: "/tmp/audit.jsonl".to_owned(),
            covered_from: None,
            unreadable_lines: 2,
        };
        let text = render(&report, Duration::from_secs(30 * 86_400));
        assert!(text.contains("over the last 30.0 days"), "{text}");
        assert!(
            text.contains("deployment frequency   no data (0 reached full)"),
            "{text}"
        );
        assert!(
            text.contains("change failure rate    no data (0 of 0 rollouts"),
            "{text}"
        );
        assert!(
            text.contains("time to restore        no data (mean of 0 restores)"),
            "{text}"
        );
        assert!(text.contains("2 unreadable line(s)"), "{text}");
        assert!(text.contains("based on: audit log only"), "{text}");
        let json = serde_json::to_value(&report).expect("json");
        assert_eq!(json["change_failure_rate"], serde_json::Value::Null);
        assert_eq!(json["rollouts_started"], 0);
    }
}
