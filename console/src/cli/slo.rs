//! `opsbox slo`: every SLO's status in the running environment, as a table or JSON.
//!
//! The exit code is [`PAGE_EXIT_CODE`] while any SLO's page alert is active, so a
//! pipeline can run `opsbox slo` before a deploy and stop on a page.

use std::fmt::Write;

use clap::Args;

use super::{runtime, ExitWith, SloCommand};
use crate::env::{AnyEnvironment, Environment};
use crate::model::slo::{
    AlertLevel, Exhaustion, Measured, SloReport, SloScope, SloSource, SloSummary, SourceChoice,
};
use crate::slo::windows::SLI_WINDOWS;

/// Exit code of `opsbox slo` while a page alert is active (1 means it could not tell).
pub const PAGE_EXIT_CODE: u8 = 3;

/// `opsbox slo [--json] [--source ...] [--scope ...]`, or `opsbox slo rules`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SloArgs {
    #[command(subcommand)]
    pub command: Option<SloCommand>,
    #[command(flatten)]
    pub status: SloStatusArgs,
}

#[derive(Debug, Args)]
pub struct SloStatusArgs {
    /// Print the report as JSON (the control endpoint's `GET /slo`).
    #[arg(long)]
    pub json: bool,
    /// Where the numbers come from: auto (Prometheus when the environment runs one,
    /// else the embedded engine), embedded, or prometheus.
    #[arg(long, default_value_t = SourceChoice::Auto)]
    pub source: SourceChoice,
    /// Which series count: all, stable, or canary.
    #[arg(long, default_value_t = SloScope::All)]
    pub scope: SloScope,
}

/// Prints the report; fails with [`PAGE_EXIT_CODE`] when a page alert is active.
pub fn status(environment: &AnyEnvironment, args: &SloStatusArgs) -> anyhow::Result<()> {
    let query = crate::model::slo::SloQuery {
        source: args.source,
        scope: args.scope,
    };
    let report = runtime()?.block_on(environment.slo(query))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    let paging = report.paging();
    if paging.is_empty() {
        return Ok(());
    }
    Err(ExitWith {
        code: PAGE_EXIT_CODE,
        message: format!(
            "page alert active for {} ({} source); see the runbooks",
            paging.join(", "),
            report.source
        ),
    }
    .into())
}

/// The table `opsbox slo` prints.
pub fn render(report: &SloReport) -> String {
    let mut out = String::new();
    let source = match (report.source, &report.prometheus_url) {
        (SloSource::Prometheus, Some(url)) => format!("Prometheus at {url}"),
        (SloSource::Prometheus, None) => "Prometheus".to_owned(),
        (SloSource::Embedded, _) => "the embedded engine".to_owned(),
    };
    let history = report.coverage_secs.map_or_else(
        || "unknown".to_owned(),
        |secs| crate::durations::precise(std::time::Duration::from_secs(secs)),
    );
    let _ = writeln!(
        out,
        "SLOs from {source} (scope {}), history {history}",
        report.scope
    );
    let _ = write!(
        out,
        "\n{:<18} {:>9} {:>10} {:>12}  BURN",
        "SLO", "OBJECTIVE", "SLI", "BUDGET LEFT"
    );
    // Burn-rate columns: the SLI windows, not the period.
    for window in SLI_WINDOWS {
        let _ = write!(out, " {:>9}", window.to_string());
    }
    let _ = writeln!(out, "  {:<12} EXHAUSTED IN", "ALERT");
    for slo in &report.slos {
        let _ = writeln!(out, "{}", row(slo));
    }
    let partial = report.slos.iter().any(|slo| {
        slo.windows
            .iter()
            .any(|window| matches!(window.burn_rate, Measured::Insufficient { .. }))
    });
    if partial {
        let _ = writeln!(
            out,
            "\n(x) = over the {history} of history only: the window (or period) is longer \
             than what the source holds, so alerts do not use it"
        );
        out.push_str("-   = no events in the window; ?   = no events in the history\n");
    }
    for target in &report.targets {
        if let Some(error) = &target.last_error {
            let _ = writeln!(
                out,
                "scrape of {} ({}): {error}",
                target.instance, target.url
            );
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

fn row(slo: &SloSummary) -> String {
    let mut line = format!(
        "{:<18} {:>9} {:>10} {:>12}      ",
        slo.name,
        format!("{}%", slo.objective_percent),
        cell(&slo.sli, |sli| format!("{:.3}%", sli * 100.0)),
        cell(&slo.period_budget_left(), |left| format!(
            "{:.1}%",
            left * 100.0
        )),
    );
    for window in SLI_WINDOWS {
        let burn = slo.window(&window.to_string()).map_or_else(
            || "?".to_owned(),
            |report| cell(&report.burn_rate, burn_rate),
        );
        let _ = write!(line, " {burn:>9}");
    }
    let _ = write!(
        line,
        "  {:<12} {}",
        alert(slo.alert),
        cell(&slo.budget_exhaustion, exhaustion)
    );
    line.trim_end().to_owned()
}

/// A value as is; over the covered part in parentheses; `-` no traffic, `?` nothing covered.
fn cell<T>(measured: &Measured<T>, format: impl Fn(&T) -> String) -> String {
    match measured {
        Measured::Value { value } => format(value),
        Measured::NoTraffic => "-".to_owned(),
        Measured::Insufficient {
            covered_value: Some(value),
            ..
        } => format!("({})", format(value)),
        Measured::Insufficient {
            covered_value: None,
            ..
        } => "?".to_owned(),
    }
}

fn burn_rate(burn: &f64) -> String {
    if *burn >= 100.0 {
        format!("{burn:.0}")
    } else {
        format!("{burn:.2}")
    }
}

fn alert(level: AlertLevel) -> &'static str {
    match level {
        AlertLevel::Page => "PAGE",
        AlertLevel::Ticket => "ticket",
        AlertLevel::None => "none",
        AlertLevel::Undetermined => "undetermined",
    }
}

fn exhaustion(exhaustion: &Exhaustion) -> String {
    match exhaustion {
        Exhaustion::NotBurning => "not burning".to_owned(),
        Exhaustion::Exhausted => "exhausted".to_owned(),
        Exhaustion::In { secs } => crate::durations::precise(std::time::Duration::from_secs(*secs)),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::model::slo::WindowReport;

    fn summary(alert: AlertLevel, burn: Measured<f64>) -> SloSummary {
        SloSummary {
            name: "api-availability".to_owned(),
            service: "api".to_owned(),
            objective_percent: 99.9,
            period: "30d".to_owned(),
            period_secs: 30 * 86_400,
            error_budget: 0.001,
            runbook: "docs/runbooks/slo-api-availability.md".to_owned(),
            sli: Measured::Insufficient {
                covered_secs: 125,
                covered_value: Some(0.75),
            },
            error_budget_remaining: Measured::Insufficient {
                covered_secs: 125,
                covered_value: None,
            },
            windows: vec![
                WindowReport {
                    window: "5m".to_owned(),
                    window_secs: 300,
                    error_ratio: burn.map(|burn| burn / 1000.0),
                    burn_rate: burn,
                },
                WindowReport {
                    window: "30m".to_owned(),
                    window_secs: 1_800,
                    error_ratio: Measured::NoTraffic,
                    burn_rate: Measured::NoTraffic,
                },
            ],
            alert,
            budget_exhaustion: Measured::Value {
                value: Exhaustion::In { secs: 90_000 },
            },
        }
    }

    fn report(slo: SloSummary) -> SloReport {
        SloReport {
            source: SloSource::Embedded,
            requested: SourceChoice::Auto,
            scope: SloScope::All,
            evaluated_at: Utc::now(),
            coverage_secs: Some(125),
            prometheus_url: None,
            slos: vec![slo],
            targets: Vec::new(),
            notes: vec!["a note".to_owned()],
        }
    }

    #[test]
    fn the_table_marks_partial_windows_and_missing_traffic() {
        let table = render(&report(summary(
            AlertLevel::Undetermined,
            Measured::Insufficient {
                covered_secs: 125,
                covered_value: Some(250.0),
            },
        )));
        assert!(
            table.contains("embedded engine (scope all), history 2m05s"),
            "{table}"
        );
        let row = table
            .lines()
            .find(|line| line.starts_with("api-availability"))
            .expect("a row");
        assert!(row.contains("(75.000%)"), "{row}");
        assert!(row.contains("(250)"), "{row}");
        assert!(row.contains(" - "), "{row}");
        assert!(row.contains("undetermined"), "{row}");
        assert!(row.ends_with("1d01h"), "{row}");
        assert!(
            table.contains("(x) = over the 2m05s of history only"),
            "{table}"
        );
        assert!(table.contains("note: a note"), "{table}");
    }

    #[test]
    fn a_page_alert_is_shown_and_paging() {
        let report = report(summary(AlertLevel::Page, Measured::Value { value: 20.0 }));
        assert!(render(&report).contains("PAGE"));
        assert_eq!(report.paging(), ["api-availability"]);
    }
}
