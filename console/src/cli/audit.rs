//! `opsbox audit`: who did what to the environment, when, and how it ended; with
//! `--metrics`, the delivery metrics computed from it.

use std::fmt::Write as _;
use std::time::Duration;

use clap::Args;

use crate::audit::{AuditEntry, Outcome, MAX_ENTRIES_READ};
use crate::env::{AnyEnvironment, Environment};

mod metrics;

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Print the entries as JSON lines, as they are stored.
    #[arg(long)]
    pub json: bool,
    /// Show only the newest N entries.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=MAX_ENTRIES_READ as u64))]
    pub limit: u64,
    /// Delivery metrics over the period instead of the entries: deployment frequency,
    /// change failure rate, time to restore, canary to full, rollbacks.
    #[arg(long, conflicts_with = "limit")]
    pub metrics: bool,
    /// The period of `--metrics`, up to now (e.g. 7d, 30d, 12h).
    #[arg(long, default_value = "30d", value_parser = parse_period, requires = "metrics")]
    pub since: Duration,
}

/// A period above zero.
fn parse_period(text: &str) -> Result<Duration, String> {
    let period = opsbox_common::duration::parse(text)?;
    if period.is_zero() {
        return Err("the period must be longer than 0, e.g. 30d".to_owned());
    }
    chrono::Duration::from_std(period)
        .map_err(|_| "the period is too long".to_owned())
        .map(|_| period)
}

pub fn run(environment: &AnyEnvironment, args: &AuditArgs) -> anyhow::Result<()> {
    let log = environment.records().audit_log();
    if args.metrics {
        return metrics::run(&log, args.since, args.json);
    }
    let limit = usize::try_from(args.limit).unwrap_or(MAX_ENTRIES_READ);
    let read = log.read_recent(limit)?;
    if args.json {
        for entry in &read.entries {
            println!("{}", serde_json::to_string(entry)?);
        }
    } else if read.entries.is_empty() {
        println!("no operations recorded in {}", log.path().display());
    } else {
        print!("{}", render(&read.entries));
    }
    if read.unreadable_lines > 0 {
        eprintln!(
            "opsbox: skipped {} unreadable line(s) in {}",
            read.unreadable_lines,
            log.path().display()
        );
    }
    Ok(())
}

fn render(entries: &[AuditEntry]) -> String {
    let mut out = format!(
        "{:<20} {:<10} {:<16} {:<14} {}\n",
        "TIME (UTC)", "USER", "ACTION", "TARGET", "OUTCOME"
    );
    for entry in entries {
        let outcome = match &entry.outcome {
            Outcome::Ok => "ok".to_owned(),
            Outcome::Error(message) => format!("error: {message}"),
        };
        let _ = writeln!(
            out,
            "{:<20} {:<10} {:<16} {:<14} {}",
            entry.time.format("%Y-%m-%d %H:%M:%S"),
            entry.user,
            entry.action,
            entry.target,
            outcome
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_failures_with_their_message() {
        let entries = [
            AuditEntry::by_current_user(
                "local",
                "rollout.start",
                "v2",
                serde_json::json!({}),
                Outcome::Ok,
            ),
            AuditEntry::by_current_user(
                "local",
                "rollout.promote",
                "api",
                serde_json::json!({ "full": false }),
                Outcome::Error("no rollout in progress".into()),
            ),
        ];
        let table = render(&entries);
        assert!(
            table.contains("rollout.start    v2             ok"),
            "{table}"
        );
        assert!(table.contains("error: no rollout in progress"), "{table}");
    }
}
