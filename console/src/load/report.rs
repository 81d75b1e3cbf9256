//! What a load run measured: the final report (`--json` prints it as is) and the
//! running totals published while it runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::mix::Operation;

/// Latency percentiles in milliseconds; all zero when nothing was answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// The figures of one operation (`create`, `run`, `read`, `list`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationReport {
    /// Requests of this operation that were answered or failed.
    pub requests: u64,
    pub by_status: BTreeMap<u16, u64>,
    pub transport_errors: u64,
    pub latency_ms: Percentiles,
}

/// The whole run.
///
/// `requests` counts every request sent; each ended in exactly one of
/// `by_status` (an HTTP answer), `transport_errors` (no answer: refused, reset,
/// timed out) or `unfinished` (still in flight when the run ended). Slots of
/// the schedule that were not sent because `max_in_flight` requests were
/// outstanding are `skipped`, not requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    pub base_url: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub target_rps: u32,
    /// The duration asked for, in seconds.
    pub planned_secs: f64,
    /// How long requests were sent, in seconds (shorter when stopped early).
    pub elapsed_secs: f64,
    /// The run was cancelled before its duration was up.
    pub stopped_early: bool,
    pub requests: u64,
    pub by_status: BTreeMap<u16, u64>,
    pub transport_errors: u64,
    /// `connect`, `timeout`, `body` or `other`.
    pub transport_errors_by_kind: BTreeMap<String, u64>,
    pub skipped: u64,
    pub unfinished: u64,
    pub max_in_flight: usize,
    /// Tasks this run created (201 answers to `POST /tasks`).
    pub tasks_created: u64,
    pub latency_ms: Percentiles,
    /// Requests sent per second while sending.
    pub achieved_rps: f64,
    pub operations: BTreeMap<Operation, OperationReport>,
}

impl LoadReport {
    /// Answers outside 2xx.
    pub fn non_2xx(&self) -> u64 {
        non_2xx(&self.by_status)
    }

    /// Answers with a 5xx status.
    pub fn server_errors(&self) -> u64 {
        self.by_status
            .iter()
            .filter(|(status, _)| (500..600).contains(*status))
            .map(|(_, count)| count)
            .sum()
    }

    /// Non-2xx answers and transport errors over the requests that ended; 0 when none did.
    pub fn error_ratio(&self) -> f64 {
        error_ratio(
            self.non_2xx() + self.transport_errors,
            self.requests.saturating_sub(self.unfinished),
        )
    }

    /// The report as the operator reads it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "load against {}: {} requests in {:.1}s ({:.1}/s, target {}/s){}",
            self.base_url,
            self.requests,
            self.elapsed_secs,
            self.achieved_rps,
            self.target_rps,
            if self.stopped_early {
                ", stopped early"
            } else {
                ""
            }
        );
        let _ = writeln!(
            out,
            "  status codes:     {}",
            format_statuses(&self.by_status)
        );
        let _ = writeln!(
            out,
            "  transport errors: {}{}",
            self.transport_errors,
            format_kinds(&self.transport_errors_by_kind)
        );
        let _ = writeln!(
            out,
            "  skipped:          {} (at most {} in flight)",
            self.skipped, self.max_in_flight
        );
        if self.unfinished > 0 {
            let _ = writeln!(
                out,
                "  unfinished:       {} (no answer when the run ended)",
                self.unfinished
            );
        }
        let _ = writeln!(out, "  tasks created:    {}", self.tasks_created);
        let _ = writeln!(
            out,
            "  error ratio:      {:.2}%",
            self.error_ratio() * 100.0
        );
        let _ = writeln!(
            out,
            "  latency:          {}",
            format_percentiles(&self.latency_ms)
        );
        let _ = writeln!(out, "  by operation:");
        for (operation, figures) in &self.operations {
            let _ = writeln!(
                out,
                "    {:<6} {:>8} requests  {}  errors {}  {}",
                operation.as_str(),
                figures.requests,
                format_statuses(&figures.by_status),
                figures.transport_errors,
                format_percentiles(&figures.latency_ms)
            );
        }
        out
    }
}

/// Running totals while a load runs, published about every quarter second.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadProgress {
    pub elapsed: Duration,
    /// Requests sent so far.
    pub requests: u64,
    /// Requests answered or failed so far.
    pub finished: u64,
    pub in_flight: u64,
    pub skipped: u64,
    pub by_status: BTreeMap<u16, u64>,
    pub non_2xx: u64,
    pub transport_errors: u64,
    pub tasks_created: u64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    /// Requests sent per second so far.
    pub achieved_rps: f64,
}

impl LoadProgress {
    /// Non-2xx answers and transport errors over finished requests; 0 when none finished.
    pub fn error_ratio(&self) -> f64 {
        error_ratio(self.non_2xx + self.transport_errors, self.finished)
    }

    /// One line for the live summary.
    pub fn summary_line(&self) -> String {
        format!(
            "{:>6.1}s  {} sent ({:.1}/s)  {} in flight  {} skipped  status {}  errors {}  p50 {:.1} ms  p99 {:.1} ms  tasks {}",
            self.elapsed.as_secs_f64(),
            self.requests,
            self.achieved_rps,
            self.in_flight,
            self.skipped,
            format_statuses(&self.by_status),
            self.transport_errors,
            self.latency_p50_ms,
            self.latency_p99_ms,
            self.tasks_created
        )
    }
}

pub(super) fn non_2xx(by_status: &BTreeMap<u16, u64>) -> u64 {
    by_status
        .iter()
        .filter(|(status, _)| !(200..300).contains(*status))
        .map(|(_, count)| count)
        .sum()
}

fn error_ratio(errors: u64, finished: u64) -> f64 {
    if finished == 0 {
        0.0
    } else {
        errors as f64 / finished as f64
    }
}

fn format_statuses(by_status: &BTreeMap<u16, u64>) -> String {
    if by_status.is_empty() {
        return "none".to_owned();
    }
    by_status
        .iter()
        .map(|(status, count)| format!("{status}×{count}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn format_kinds(kinds: &BTreeMap<String, u64>) -> String {
    if kinds.is_empty() {
        return String::new();
    }
    let kinds: Vec<String> = kinds
        .iter()
        .map(|(kind, count)| format!("{kind} {count}"))
        .collect();
    format!(" ({})", kinds.join(", "))
}

fn format_percentiles(latency: &Percentiles) -> String {
    format!(
        "p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        latency.p50, latency.p90, latency.p99, latency.max
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> LoadReport {
        let now = Utc::now();
        LoadReport {
            base_url: "http://127.0.0.1:1".to_owned(),
            started_at: now,
            finished_at: now,
            target_rps: 10,
            planned_secs: 1.0,
            elapsed_secs: 1.0,
            stopped_early: false,
            requests: 10,
            by_status: BTreeMap::from([(201, 5), (404, 1), (503, 2)]),
            transport_errors: 1,
            transport_errors_by_kind: BTreeMap::from([("connect".to_owned(), 1)]),
            skipped: 0,
            unfinished: 1,
            max_in_flight: 4,
            tasks_created: 5,
            latency_ms: Percentiles::default(),
            achieved_rps: 10.0,
            operations: BTreeMap::new(),
        }
    }

    #[test]
    fn error_ratio_counts_non_2xx_and_transport_errors_over_finished_requests() {
        let report = report();
        assert_eq!(report.non_2xx(), 3);
        assert_eq!(report.server_errors(), 2);
        // (3 non-2xx + 1 transport error) / (10 sent - 1 unfinished)
        assert!((report.error_ratio() - 4.0 / 9.0).abs() < 1e-12);
        let idle = LoadReport {
            requests: 0,
            by_status: BTreeMap::new(),
            transport_errors: 0,
            unfinished: 0,
            ..report
        };
        assert_eq!(idle.error_ratio(), 0.0);
        assert_eq!(LoadProgress::default().error_ratio(), 0.0);
    }

    #[test]
    fn the_report_round_trips_through_json_and_renders() {
        let report = report();
        let json = serde_json::to_string(&report).expect("serializes");
        let back: LoadReport = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, report);
        let text = report.render();
        assert!(text.contains("201×5 404×1 503×2"), "{text}");
        assert!(text.contains("transport errors: 1 (connect 1)"), "{text}");
        assert!(text.contains("unfinished:       1"), "{text}");
    }
}
