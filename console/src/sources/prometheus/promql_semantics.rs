//! The source's all-tracks queries evaluated by the real PromQL engine (`promtool test
//! rules`) over the generated rules, with two tracks of different traffic and error
//! ratio: every window and the period come out as all errors over all events.
//!
//! The fake Prometheus of `tests.rs` only checks which query is sent; this checks what
//! the queries mean. Needs `promtool` on PATH (Debian package `prometheus`).

use std::path::Path;
use std::process::Command;

use serde_json::json;

use super::window_query;
use crate::model::slo::SloScope;
use crate::slo::rules::rule_file;
use crate::slo::{PromDuration, Slo, SloSpec, SLI_WINDOWS};

/// Minutes of synthetic history, one scrape and one rule evaluation a minute.
const HISTORY_MINUTES: u64 = 240;
/// The stable track: every minute, `STABLE_EVENTS` requests, `STABLE_ERRORS` of them 5xx.
const STABLE_EVENTS: u64 = 1_000;
const STABLE_ERRORS: u64 = 2;
/// The canary: a tenth of the traffic failing at 30%, between these minutes, then gone.
const CANARY_FROM: u64 = 60;
const CANARY_UNTIL: u64 = 120;
const CANARY_EVENTS: u64 = 100;
const CANARY_ERRORS: u64 = 30;
/// How close to the expected ratio a query must come: `rate()` extrapolates a series
/// that ends inside a window by half a scrape (under 1% here).
const TOLERANCE: f64 = 0.02;

fn availability() -> Slo {
    let spec =
        SloSpec::from_yaml(include_str!("../../../../observability/slo.yaml")).expect("valid spec");
    spec.slos
        .into_iter()
        .find(|slo| slo.name == "api-availability")
        .expect("api-availability in the spec")
}

/// Error events and all events of both tracks between minutes `from` and `until`.
fn events(from: u64, until: u64) -> (u64, u64) {
    let overlap = |start: u64, end: u64| until.min(end).saturating_sub(from.max(start));
    let stable = overlap(0, HISTORY_MINUTES);
    let canary = overlap(CANARY_FROM, CANARY_UNTIL);
    (
        stable * STABLE_ERRORS + canary * CANARY_ERRORS,
        stable * STABLE_EVENTS + canary * CANARY_EVENTS,
    )
}

/// All errors over all events in the minutes of `window` ending at minute `at`.
fn events_ratio(at: u64, window: PromDuration) -> f64 {
    let (errors, total) = events(at.saturating_sub(window.minutes()), at);
    errors as f64 / total as f64
}

/// The period as its rule counts it: the 5m event rates recorded at every evaluation up
/// to `at`, added up, so an event younger than 5 minutes counts only in part.
fn recorded_period_ratio(at: u64) -> f64 {
    let (errors, total) = (1..=at)
        .map(|minute| events(minute.saturating_sub(5), minute))
        .fold((0, 0), |(errors, total), (e, t)| (errors + e, total + t));
    errors as f64 / total as f64
}

/// What a query over `window` at minute `at` must come to.
fn expected(slo: &Slo, at: u64, window: PromDuration) -> f64 {
    if window == slo.period {
        recorded_period_ratio(at)
    } else {
        events_ratio(at, window)
    }
}

/// Counter values a minute apart, from `from` to `until` minutes, then stale.
fn counter(from: u64, until: u64, per_minute: u64) -> String {
    let values = format!("0+{per_minute}x{}", until - from);
    if from == 0 {
        values
    } else {
        format!("_x{from} {values} stale")
    }
}

fn input_series() -> serde_json::Value {
    let series = |track: &str, status: &str, values: String| {
        json!({
            "series": format!("http_requests_total{{route=\"/tasks\",status=\"{status}\",track=\"{track}\"}}"),
            "values": values,
        })
    };
    json!([
        series(
            "stable",
            "200",
            counter(0, HISTORY_MINUTES, STABLE_EVENTS - STABLE_ERRORS)
        ),
        series("stable", "503", counter(0, HISTORY_MINUTES, STABLE_ERRORS)),
        series(
            "canary",
            "200",
            counter(CANARY_FROM, CANARY_UNTIL, CANARY_EVENTS - CANARY_ERRORS)
        ),
        series(
            "canary",
            "500",
            counter(CANARY_FROM, CANARY_UNTIL, CANARY_ERRORS)
        ),
    ])
}

/// One check per window at each time: while the canary runs, and long after it left.
fn checks(slo: &Slo) -> Vec<(u64, PromDuration, String, f64)> {
    [100, HISTORY_MINUTES]
        .into_iter()
        .flat_map(|at| {
            SLI_WINDOWS
                .iter()
                .copied()
                .chain([slo.period])
                .map(move |window| (at, window))
        })
        .map(|(at, window)| {
            (
                at,
                window,
                window_query(slo, window, SloScope::All),
                expected(slo, at, window),
            )
        })
        .collect()
}

/// A promtool test file over `rules.yaml`; `expression` turns a check into a test.
fn test_file(
    slo: &Slo,
    expression: impl Fn(&(u64, PromDuration, String, f64)) -> serde_json::Value,
) -> String {
    let tests: Vec<serde_json::Value> = checks(slo).iter().map(expression).collect();
    let file = json!({
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": input_series(),
            "promql_expr_test": tests,
        }],
    });
    serde_yaml::to_string(&file).expect("test file as YAML")
}

fn promtool(dir: &Path, file: &str, contents: &str) -> std::process::Output {
    std::fs::write(dir.join(file), contents).expect("write the test file");
    Command::new("promtool")
        .args(["test", "rules", file])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| {
            panic!("promtool must be on PATH (Debian package `prometheus`): {error}")
        })
}

#[test]
fn all_tracks_windows_and_period_are_all_errors_over_all_events_in_promql() {
    let slo = availability();
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = serde_yaml::to_string(&rule_file(&slo, "/d/slos")).expect("rules as YAML");
    std::fs::write(dir.path().join("rules.yaml"), rules).expect("write the rules");

    // `bool` gives 1 or 0: promtool compares values exactly, the ratios are not exact.
    let within_tolerance = test_file(&slo, |(at, window, query, expected)| {
        let labels = if *window == slo.period {
            format!("{{slo=\"{}\"}}", slo.name)
        } else {
            "{}".to_owned()
        };
        json!({
            "expr": format!("abs(({query}) / {expected} - 1) <= bool {TOLERANCE}"),
            "eval_time": format!("{at}m"),
            "exp_samples": [{"labels": labels, "value": 1}],
        })
    });
    let checked = promtool(dir.path(), "checks.yaml", &within_tolerance);
    if !checked.status.success() {
        // The same queries bare, expecting nothing: promtool then prints what it got.
        let values = test_file(
            &slo,
            |(at, _, query, _)| json!({"expr": query, "eval_time": format!("{at}m"), "exp_samples": []}),
        );
        let got = promtool(dir.path(), "values.yaml", &values);
        let expected: Vec<String> = checks(&slo)
            .iter()
            .map(|(at, window, _, expected)| format!("{window} at {at}m: {expected:.6}"))
            .collect();
        panic!(
            "a query is off by more than {TOLERANCE} relative.\nexpected:\n{}\n\
             promtool on the checks:\n{}{}\nwhat the queries return:\n{}",
            expected.join("\n"),
            String::from_utf8_lossy(&checked.stdout),
            String::from_utf8_lossy(&checked.stderr),
            String::from_utf8_lossy(&got.stdout),
        );
    }
}

#[test]
fn the_synthetic_history_has_the_ratios_the_checks_expect() {
    let slo = availability();
    let five_minutes = SLI_WINDOWS[0];
    // While the canary runs: 2 + 30 errors of 1,000 + 100 events a minute.
    assert!((events_ratio(100, five_minutes) - 32.0 / 1_100.0).abs() < 1e-12);
    // Long after: the stable track's 0.2% alone over short windows ...
    assert!((events_ratio(HISTORY_MINUTES, five_minutes) - 0.002).abs() < 1e-12);
    // ... and the canary's hour still in the period: (480 + 1,800) / (240,000 + 6,000).
    let period = events_ratio(HISTORY_MINUTES, slo.period);
    assert!((period - 2_280.0 / 246_000.0).abs() < 1e-12, "{period}");
    // The rule's count lags: the last 5 minutes weigh 1/5 .. 5/5, here only the stable
    // track's, so the ratio is a little above (0.8%) ...
    let recorded = recorded_period_ratio(HISTORY_MINUTES);
    assert!(
        recorded > period && recorded < period * 1.01,
        "{recorded} vs {period}"
    );
    // ... but right after the canary started failing, its newest errors weigh less.
    let while_failing = recorded_period_ratio(100);
    let (errors, total) = events(0, 100);
    assert!(
        while_failing < errors as f64 / total as f64 * 0.98,
        "{while_failing}"
    );
    assert_eq!(counter(0, 2, 5), "0+5x2");
    assert_eq!(counter(3, 5, 5), "_x3 0+5x2 stale");
}
