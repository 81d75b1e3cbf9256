//! promtool unit tests for one SLO's rules: each alert fires just above its threshold and stays silent just below.

use std::collections::BTreeMap;

use serde::Serialize;

use super::duration::PromDuration;
use super::promql::{self, TRACK_LABEL};
use super::rules::{self, RuleFile, SHORTEST_WINDOW};
use super::spec::{Indicator, MatchOp, Matcher, Signal, Slo, ThresholdAlert};
use super::windows::{BurnRateAlert, Severity, BURN_RATE_ALERTS, LONGEST_ALERT_WINDOW};

/// Scrape interval of the synthetic series: fine enough for `rate(...[5m])`.
const STEP: PromDuration = PromDuration::from_minutes(1);

/// Rule evaluation interval. promtool evaluates every rule at every step up
/// to the last check, over windows of up to 3d: at 1m the suite takes
/// minutes, at 5m it is five times faster and still resolves `for: 5m`.
const EVALUATION: PromDuration = PromDuration::from_minutes(5);

/// Histories tried for a burn-rate scenario, shortest first: the longest
/// windows must see enough clean traffic to stay quiet, but every extra day
/// of history is paid for at every evaluation.
const HISTORIES: [PromDuration; 3] = [
    PromDuration::from_minutes(24 * 60),
    PromDuration::from_minutes(2 * 24 * 60),
    LONGEST_ALERT_WINDOW,
];

/// Events per minute at full traffic. Counters grow by whole events so
/// that promtool's float arithmetic stays exact: a counter that came out a
/// hair lower than the one before would read as a reset.
const EVENTS_PER_MINUTE: u64 = 100_000;

/// Distance from a threshold that counts as "just" above or below it: far
/// beyond float noise, close enough that a wrong factor or window fails.
const ABOVE: f64 = 1.05;
const BELOW: f64 = 0.95;

/// How far above its factor the long window stays after a burn stopped.
const ABOVE_LONG: f64 = 1.1;

/// The track every scenario runs on.
const TRACK: &str = "stable";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestFile {
    pub rule_files: Vec<String>,
    pub evaluation_interval: String,
    /// Without it promtool evaluates groups in map order, and an alert may
    /// read the recording of the previous evaluation instead of this one.
    pub group_eval_order: Vec<String>,
    pub tests: Vec<TestGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestGroup {
    pub name: String,
    pub interval: String,
    pub input_series: Vec<InputSeries>,
    pub alert_rule_test: Vec<AlertRuleTest>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub promql_expr_test: Vec<PromqlExprTest>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputSeries {
    pub series: String,
    pub values: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRuleTest {
    pub eval_time: String,
    pub alertname: String,
    pub exp_alerts: Vec<ExpectedAlert>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpectedAlert {
    pub exp_labels: BTreeMap<String, String>,
    pub exp_annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromqlExprTest {
    pub expr: String,
    pub eval_time: String,
    pub exp_samples: Vec<ExpectedSample>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpectedSample {
    pub labels: String,
    pub value: f64,
}

/// A stretch of constant traffic with a constant share of error events.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    pub minutes: u64,
    pub events_per_minute: u64,
    pub error_ratio: f64,
}

impl Phase {
    /// Full traffic with `error_ratio` of it failing.
    pub const fn steady(minutes: u64, error_ratio: f64) -> Self {
        Self {
            minutes,
            events_per_minute: EVENTS_PER_MINUTE,
            error_ratio,
        }
    }

    /// No events at all: the counters exist but stand still.
    pub const fn idle(minutes: u64) -> Self {
        Self {
            minutes,
            events_per_minute: 0,
            error_ratio: 0.0,
        }
    }

    fn error_events(&self) -> u64 {
        (self.events_per_minute as f64 * self.error_ratio).round() as u64
    }
}

/// Synthetic history of one SLO's events, and what it should trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub kind: ScenarioKind,
    pub phases: Vec<Phase>,
}

/// What a scenario demonstrates, which decides the extra checks it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScenarioKind {
    /// A steady burn just above or below one pair's factor.
    Burn,
    /// A burst that lifts only the shortest window: must not page.
    Spike,
    /// A burn that stopped one short window ago: must have resolved.
    Recovered,
    /// Above or below a threshold alert.
    Threshold,
    /// Traffic, an hour without events, traffic: the period SLI stays a number.
    IdleGap,
}

impl Scenario {
    fn new(name: String, kind: ScenarioKind, phases: Vec<Phase>) -> Self {
        let phases = phases
            .into_iter()
            .filter(|phase| phase.minutes > 0)
            .collect();
        Self { name, kind, phases }
    }

    /// Minutes from the first sample to the last: when everything is checked.
    pub fn end_minute(&self) -> u64 {
        self.phases.iter().map(|phase| phase.minutes).sum()
    }

    /// Error events and all events in minute `minute` (the one ending then).
    fn events_at_minute(&self, minute: u64) -> (u64, u64) {
        let mut start = 0;
        for phase in &self.phases {
            if minute <= start + phase.minutes {
                return (phase.error_events(), phase.events_per_minute);
            }
            start += phase.minutes;
        }
        (0, 0)
    }

    /// Error events, all events and minutes in `window` ending at `at`.
    fn window_events(&self, at: u64, window: PromDuration) -> (u64, u64, u64) {
        let first = at.saturating_sub(window.minutes()) + 1;
        (first..=at)
            .map(|minute| self.events_at_minute(minute))
            .fold((0, 0, 0), |(errors, total, minutes), (e, t)| {
                (errors + e, total + t, minutes + 1)
            })
    }

    /// The error ratio Prometheus computes over `window` ending at `at`:
    /// error events over all events in the minutes covered, 0 without events
    /// (where Prometheus has NaN, which no alert condition exceeds either).
    pub fn window_ratio(&self, at: u64, window: PromDuration) -> f64 {
        let (errors, total, _) = self.window_events(at, window);
        if total == 0 {
            return 0.0;
        }
        errors as f64 / total as f64
    }

    /// Severities of the burn-rate alert that fire at the end.
    pub fn burn_rate_severities(&self, error_budget: f64) -> Vec<Severity> {
        let end = self.end_minute();
        let mut severities: Vec<Severity> = BURN_RATE_ALERTS
            .iter()
            .filter(|pair| {
                let threshold = pair.factor * error_budget;
                self.window_ratio(end, pair.long) > threshold
                    && self.window_ratio(end, pair.short) > threshold
            })
            .map(|pair| pair.severity)
            .collect();
        severities.dedup();
        severities
    }

    /// Whether a threshold alert is firing at the end: its condition has
    /// held at every evaluation since one at least `for` ago.
    pub fn threshold_alert_fires(&self, alert: &ThresholdAlert) -> bool {
        let holds = |minute: u64| {
            let value = match alert.signal {
                Signal::ErrorRatio => self.window_ratio(minute, SHORTEST_WINDOW),
                Signal::ErrorRate => {
                    let (errors, _, minutes) = self.window_events(minute, SHORTEST_WINDOW);
                    errors as f64 / (minutes.max(1) * 60) as f64
                }
            };
            value > alert.above
        };
        let end = self.end_minute();
        let step = EVALUATION.minutes();
        let mut pending_since = None;
        let mut minute = end;
        while holds(minute) {
            pending_since = Some(minute);
            if minute < step {
                break;
            }
            minute -= step;
        }
        pending_since.is_some_and(|since| end - since >= alert.for_duration.minutes())
    }

    /// The same events after a clean history that makes the whole scenario
    /// last `total` minutes.
    fn with_history(&self, total: u64) -> Self {
        let clean = Phase::steady(total.saturating_sub(self.end_minute()), 0.0);
        Scenario::new(
            self.name.clone(),
            self.kind,
            std::iter::once(clean)
                .chain(self.phases.iter().copied())
                .collect(),
        )
    }

    /// The shortest history after which exactly `severities` fire, if any.
    fn with_shortest_history(&self, error_budget: f64, severities: &[Severity]) -> Option<Self> {
        HISTORIES
            .iter()
            .map(|history| self.with_history(history.minutes()))
            .find(|scenario| scenario.burn_rate_severities(error_budget) == severities)
    }
}

/// The burn-rate scenarios: above and below each pair's factor, then the two
/// cases the short windows exist for, each after the shortest clean history
/// that keeps the other pairs quiet. A case no history can isolate (the 3x
/// pair always drags the 1x pair along) is left out.
pub fn burn_rate_scenarios(slo: &Slo) -> Vec<Scenario> {
    let budget = slo.error_budget();
    let mut scenarios = Vec::new();
    for pair in &BURN_RATE_ALERTS {
        for scale in [ABOVE, BELOW] {
            let fires = if scale > 1.0 {
                vec![pair.severity]
            } else {
                Vec::new()
            };
            let burn = Scenario::new(
                format!(
                    "{} at {}x over {} (threshold {}x over {} and {})",
                    slo.name,
                    promql::number(pair.factor * scale),
                    pair.long,
                    promql::number(pair.factor),
                    pair.long,
                    pair.short
                ),
                ScenarioKind::Burn,
                vec![Phase::steady(
                    pair.long.minutes(),
                    pair.factor * scale * budget,
                )],
            );
            scenarios.extend(burn.with_shortest_history(budget, &fires));
        }
    }
    let fastest = &BURN_RATE_ALERTS[0];
    let spike = Scenario::new(
        format!(
            "{}: a spike that only lifts the {} window",
            slo.name, fastest.short
        ),
        ScenarioKind::Spike,
        vec![Phase::steady(
            fastest.short.minutes(),
            spike_ratio(budget, fastest.factor),
        )],
    );
    scenarios.extend(spike.with_shortest_history(budget, &[]));
    for pair in &BURN_RATE_ALERTS {
        scenarios.extend(recovered(slo, pair).with_shortest_history(budget, &[]));
    }
    scenarios
}

/// A burn that stopped one short window ago: the long window still reads
/// 1.1x the factor, but the short one is clean, so the alert has resolved.
fn recovered(slo: &Slo, pair: &BurnRateAlert) -> Scenario {
    let burning = pair.long.minutes() - pair.short.minutes();
    let factor = ABOVE_LONG * pair.factor * pair.long.minutes() as f64 / burning as f64;
    Scenario::new(
        format!(
            "{}: {}x for {} then {} clean (threshold {}x over {} and {})",
            slo.name,
            promql::number((factor * 100.0).round() / 100.0),
            PromDuration::from_minutes(burning),
            pair.short,
            promql::number(pair.factor),
            pair.long,
            pair.short
        ),
        ScenarioKind::Recovered,
        vec![
            Phase::steady(burning, factor * slo.error_budget()),
            Phase::steady(pair.short.minutes(), 0.0),
        ],
    )
}

/// Ten times the page threshold, capped so that good events remain; a 5m
/// spike of it averages to under the threshold over 1h.
fn spike_ratio(budget: f64, factor: f64) -> f64 {
    (10.0 * factor * budget).min(0.9)
}

/// How long the idle gap and each stretch of traffic around it last: whole
/// evaluation intervals, so that the 5m windows promtool evaluates never
/// straddle two phases.
const IDLE_GAP_MINUTES: u64 = 60;

/// An hour at full traffic with half the budget's share of errors, an hour
/// without any event (every 5m ratio in it is 0/0 = NaN), then an hour at a
/// quarter of the traffic with twice the budget's share. Weighted by events
/// the period spends 0.8 of the budget; averaging the two hours' ratios
/// would say 1.25, and averaging the 5m ratios says NaN.
pub fn idle_gap_scenario(slo: &Slo) -> Scenario {
    let budget = slo.error_budget();
    let before = Phase::steady(IDLE_GAP_MINUTES, 0.5 * budget);
    let after = Phase {
        minutes: IDLE_GAP_MINUTES,
        events_per_minute: EVENTS_PER_MINUTE / 4,
        error_ratio: 2.0 * budget,
    };
    Scenario::new(
        format!(
            "{}: the period SLI stays a number through {} without events \
             ({}x the budget at full traffic, then {}x at a quarter of it)",
            slo.name,
            PromDuration::from_minutes(IDLE_GAP_MINUTES),
            promql::number(before.error_ratio / budget),
            promql::number(after.error_ratio / budget),
        ),
        ScenarioKind::IdleGap,
        vec![before, Phase::idle(IDLE_GAP_MINUTES), after],
    )
}

/// Above and below one threshold alert, after 30 clean minutes.
pub fn threshold_scenarios(slo: &Slo, alert: &ThresholdAlert) -> Vec<Scenario> {
    // Long enough to fill the rate window and then the `for`, ending on an
    // evaluation so that promtool checks exactly the modelled instant.
    let step = EVALUATION.minutes();
    let minutes =
        (alert.for_duration.minutes() + 2 * SHORTEST_WINDOW.minutes()).div_ceil(step) * step;
    let ratio_for = |scale: f64| match alert.signal {
        Signal::ErrorRatio => alert.above * scale,
        // Zero threshold: the "above" case needs some errors, "below" none.
        Signal::ErrorRate if alert.above == 0.0 => {
            if scale > 1.0 {
                0.01
            } else {
                0.0
            }
        }
        Signal::ErrorRate => alert.above * scale * 60.0 / EVENTS_PER_MINUTE as f64,
    };
    [(1.2, "above"), (0.8, "below")]
        .into_iter()
        .map(|(scale, side)| {
            let ratio = ratio_for(scale);
            Scenario::new(
                format!(
                    "{}: {} {side} its threshold, error ratio {} for {minutes}m",
                    slo.name,
                    alert.name,
                    promql::number(ratio),
                ),
                ScenarioKind::Threshold,
                vec![Phase::steady(30, 0.0), Phase::steady(minutes, ratio)],
            )
        })
        .collect()
}

/// The promtool test file of one SLO, checking the rules in `rule_file`.
pub fn test_file(slo: &Slo, rule_file: &RuleFile, rule_file_path: &str) -> TestFile {
    let mut tests: Vec<TestGroup> = burn_rate_scenarios(slo)
        .iter()
        .enumerate()
        .map(|(index, scenario)| burn_rate_group(slo, rule_file, scenario, index))
        .collect();
    tests.push(idle_gap_group(slo, rule_file, &idle_gap_scenario(slo)));
    for alert in &slo.threshold_alerts {
        for scenario in threshold_scenarios(slo, alert) {
            let fires = scenario.threshold_alert_fires(alert);
            tests.push(TestGroup {
                name: scenario.name.clone(),
                interval: STEP.to_string(),
                input_series: input_series(slo, &scenario),
                alert_rule_test: vec![AlertRuleTest {
                    eval_time: PromDuration::from_minutes(scenario.end_minute()).to_string(),
                    alertname: alert.name.clone(),
                    exp_alerts: fires
                        .then(|| expected_alert(slo, rule_file, &alert.name, alert.severity))
                        .into_iter()
                        .collect(),
                }],
                promql_expr_test: Vec::new(),
            });
        }
    }
    TestFile {
        rule_files: vec![rule_file_path.to_owned()],
        evaluation_interval: EVALUATION.to_string(),
        group_eval_order: rule_file
            .groups
            .iter()
            .map(|group| group.name.clone())
            .collect(),
        tests,
    }
}

fn burn_rate_group(
    slo: &Slo,
    rule_file: &RuleFile,
    scenario: &Scenario,
    index: usize,
) -> TestGroup {
    let alertname = slo.burn_rate_alert_name();
    let eval_time = PromDuration::from_minutes(scenario.end_minute()).to_string();
    let this = format!("{{slo=\"{}\"}}", slo.name);
    let series_labels = format!("{{slo=\"{}\", {TRACK_LABEL}=\"{TRACK}\"}}", slo.name);
    let budget = slo.error_budget();
    let mut exprs = Vec::new();
    // The metadata rules in the scenarios where their value is clear-cut.
    if index == 0 {
        exprs.push(PromqlExprTest {
            expr: format!("slo:error_budget:ratio{this}"),
            eval_time: eval_time.clone(),
            exp_samples: vec![ExpectedSample {
                labels: format!("slo:error_budget:ratio{this}"),
                value: budget,
            }],
        });
        exprs.push(PromqlExprTest {
            expr: format!("slo:objective:ratio{this}"),
            eval_time: eval_time.clone(),
            exp_samples: vec![ExpectedSample {
                labels: format!("slo:objective:ratio{this}"),
                value: slo.objective_ratio(),
            }],
        });
    }
    // The same burn since records began: the period's budget is overspent
    // exactly when the burn is above 1x.
    if scenario.kind == ScenarioKind::Burn && scenario.phases.len() == 1 {
        let comparison = if scenario.phases[0].error_ratio > budget {
            "<"
        } else {
            ">"
        };
        exprs.push(PromqlExprTest {
            expr: format!("slo:period_error_budget_remaining:ratio{this} {comparison} bool 0"),
            eval_time: eval_time.clone(),
            exp_samples: vec![ExpectedSample {
                labels: series_labels.clone(),
                value: 1.0,
            }],
        });
    }
    if scenario.kind == ScenarioKind::Spike {
        // Prove the spike did lift the short window over the page threshold.
        let fastest = &BURN_RATE_ALERTS[0];
        exprs.push(PromqlExprTest {
            expr: format!(
                "{}{this} > bool ({} * {})",
                rules::sli_error_record(fastest.short),
                promql::number(fastest.factor),
                promql::number(budget)
            ),
            eval_time: eval_time.clone(),
            exp_samples: vec![ExpectedSample {
                labels: series_labels,
                value: 1.0,
            }],
        });
    }
    TestGroup {
        name: scenario.name.clone(),
        interval: STEP.to_string(),
        input_series: input_series(slo, scenario),
        alert_rule_test: vec![AlertRuleTest {
            eval_time,
            alertname: alertname.clone(),
            exp_alerts: scenario
                .burn_rate_severities(budget)
                .into_iter()
                .map(|severity| expected_alert(slo, rule_file, &alertname, severity))
                .collect(),
        }],
        promql_expr_test: exprs,
    }
}

/// Checks that an idle stretch leaves the period SLI and the budget
/// remaining numbers: errors over events of the whole history, not NaN.
fn idle_gap_group(slo: &Slo, rule_file: &RuleFile, scenario: &Scenario) -> TestGroup {
    let alertname = slo.burn_rate_alert_name();
    let end = scenario.end_minute();
    let this = format!("{{slo=\"{}\"}}", slo.name);
    let series_labels = format!("{{slo=\"{}\", {TRACK_LABEL}=\"{TRACK}\"}}", slo.name);
    let budget = slo.error_budget();
    // The middle of the idle hour.
    let idle_at = PromDuration::from_minutes(IDLE_GAP_MINUTES * 3 / 2).to_string();
    let end_at = PromDuration::from_minutes(end).to_string();
    // The history is shorter than the period, so the period is all of it.
    let period_ratio = scenario.window_ratio(end, slo.period);
    let remaining = 1.0 - period_ratio / budget;
    let holds = |expr: String, eval_time: &str| PromqlExprTest {
        expr,
        eval_time: eval_time.to_owned(),
        exp_samples: vec![ExpectedSample {
            labels: series_labels.clone(),
            value: 1.0,
        }],
    };
    let idle_rate = |record_name: String| PromqlExprTest {
        expr: format!("{record_name}{this}"),
        eval_time: idle_at.clone(),
        exp_samples: vec![ExpectedSample {
            labels: format!(
                "{record_name}{{slo=\"{}\", {TRACK_LABEL}=\"{TRACK}\"}}",
                slo.name
            ),
            value: 0.0,
        }],
    };
    let ratio_5m = rules::sli_error_record(SHORTEST_WINDOW);
    let ratio_period = rules::sli_error_record(slo.period);
    let exprs = vec![
        // The scenario does what it is for: while idle the 5m ratio is NaN
        // (only NaN differs from itself) ...
        holds(
            format!("{ratio_5m}{this} != bool {ratio_5m}{this}"),
            &idle_at,
        ),
        // ... and the recorded event rates are 0, not NaN or absent.
        idle_rate(rules::error_events_record(SHORTEST_WINDOW)),
        idle_rate(rules::total_events_record(SHORTEST_WINDOW)),
        // promtool compares values exactly; the sums of rates are floats.
        holds(
            format!(
                "abs({ratio_period}{this} / {} - 1) < bool 1e-9",
                promql::number(period_ratio)
            ),
            &end_at,
        ),
        holds(
            format!(
                "abs(slo:period_error_budget_remaining:ratio{this} - {}) < bool 1e-9",
                promql::number(remaining)
            ),
            &end_at,
        ),
    ];
    TestGroup {
        name: scenario.name.clone(),
        interval: STEP.to_string(),
        input_series: input_series(slo, scenario),
        alert_rule_test: vec![AlertRuleTest {
            eval_time: end_at,
            alertname: alertname.clone(),
            exp_alerts: scenario
                .burn_rate_severities(budget)
                .into_iter()
                .map(|severity| expected_alert(slo, rule_file, &alertname, severity))
                .collect(),
        }],
        promql_expr_test: exprs,
    }
}

/// Labels and annotations of a firing alert, taken from the generated rule
/// with the track filled in, as Prometheus renders them.
fn expected_alert(
    slo: &Slo,
    rule_file: &RuleFile,
    alertname: &str,
    severity: Severity,
) -> ExpectedAlert {
    let mut exp_labels = rules::alert_labels(slo, severity);
    exp_labels.insert(TRACK_LABEL.to_owned(), TRACK.to_owned());
    let exp_annotations = rule_file
        .groups
        .iter()
        .flat_map(|group| &group.rules)
        .find(|rule| {
            rule.alert.as_deref() == Some(alertname)
                && rule.labels.get("severity").map(String::as_str) == Some(severity.as_str())
        })
        .map(|rule| {
            rule.annotations
                .iter()
                .map(|(key, value)| (key.clone(), value.replace("{{ $labels.track }}", TRACK)))
                .collect()
        })
        .unwrap_or_default();
    ExpectedAlert {
        exp_labels,
        exp_annotations,
    }
}

/// Counter series that carry the scenario's events, shaped like the
/// service's own: one good and one error series, or a full histogram.
fn input_series(slo: &Slo, scenario: &Scenario) -> Vec<InputSeries> {
    let bad: Vec<u64> = scenario.phases.iter().map(Phase::error_events).collect();
    let all: Vec<u64> = scenario
        .phases
        .iter()
        .map(|phase| phase.events_per_minute)
        .collect();
    let good: Vec<u64> = all.iter().zip(&bad).map(|(all, bad)| all - bad).collect();
    let minutes: Vec<u64> = scenario.phases.iter().map(|phase| phase.minutes).collect();
    let counter = |metric: &str,
                   labels: &BTreeMap<String, String>,
                   extra: Option<(&str, String)>,
                   slopes: &[u64]| {
        let mut labels = labels.clone();
        labels.insert(TRACK_LABEL.to_owned(), TRACK.to_owned());
        if let Some((label, value)) = extra {
            labels.insert(label.to_owned(), value);
        }
        InputSeries {
            series: series_name(metric, &labels),
            values: expanding_values(&minutes, slopes),
        }
    };
    match &slo.indicator {
        Indicator::Ratio(ratio) => {
            let mut series = vec![
                counter(&ratio.total.metric, &ratio.examples.good, None, &good),
                counter(&ratio.total.metric, &ratio.examples.error, None, &bad),
            ];
            // Errors counted by a metric of their own must show up there too.
            if ratio.errors.metric != ratio.total.metric {
                series.push(counter(
                    &ratio.errors.metric,
                    &ratio.examples.error,
                    None,
                    &bad,
                ));
            }
            series
        }
        Indicator::Latency(latency) => {
            // Good events land in the smallest bucket, slow ones just above
            // the threshold, so only the threshold bucket tells them apart.
            let bucket = format!("{}_bucket", latency.histogram);
            let mut series: Vec<InputSeries> = latency
                .buckets
                .iter()
                .map(|bound| {
                    let slopes = if *bound > latency.threshold_seconds {
                        &all
                    } else {
                        &good
                    };
                    counter(
                        &bucket,
                        &latency.example,
                        Some(("le", promql::number(*bound))),
                        slopes,
                    )
                })
                .collect();
            series.push(counter(
                &bucket,
                &latency.example,
                Some(("le", "+Inf".into())),
                &all,
            ));
            series.push(counter(
                &format!("{}_count", latency.histogram),
                &latency.example,
                None,
                &all,
            ));
            series
        }
    }
}

fn series_name(metric: &str, labels: &BTreeMap<String, String>) -> String {
    let matchers: Vec<Matcher> = labels
        .iter()
        .map(|(label, value)| Matcher {
            label: label.clone(),
            op: MatchOp::Equal,
            value: value.clone(),
        })
        .collect();
    promql::selector(metric, &matchers, &[])
}

/// promtool's expanding notation for a counter that starts at 0 and grows
/// by `slopes[i]` per minute for `minutes[i]` minutes.
fn expanding_values(minutes: &[u64], slopes: &[u64]) -> String {
    let mut parts = Vec::new();
    let mut value = 0;
    for (index, (minutes, slope)) in minutes.iter().zip(slopes).enumerate() {
        if index == 0 {
            // `0+sxN` is N+1 samples: the first one is the start at t=0.
            parts.push(format!("0+{slope}x{minutes}"));
        } else {
            parts.push(format!("{}+{slope}x{}", value + slope, minutes - 1));
        }
        value += slope * minutes;
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::spec::SloSpec;

    const SPEC: &str = include_str!("../../../observability/slo.yaml");

    #[test]
    fn each_pair_fires_just_above_its_factor_and_not_just_below() {
        let spec = SloSpec::from_yaml(SPEC).expect("committed spec is valid");
        for slo in &spec.slos {
            let budget = slo.error_budget();
            let scenarios = burn_rate_scenarios(slo);
            // Two per pair, the spike, and the recoveries of 14.4x, 6x and 1x.
            assert_eq!(
                scenarios.len(),
                2 * BURN_RATE_ALERTS.len() + 1 + 3,
                "{}",
                slo.name
            );
            for (pair, cases) in BURN_RATE_ALERTS.iter().zip(scenarios.chunks(2)) {
                assert_eq!(
                    cases[0].burn_rate_severities(budget),
                    vec![pair.severity],
                    "{}",
                    cases[0].name
                );
                assert_eq!(
                    cases[1].burn_rate_severities(budget),
                    vec![],
                    "{}",
                    cases[1].name
                );
            }
            for scenario in &scenarios[BURN_RATE_ALERTS.len() * 2..] {
                assert_eq!(
                    scenario.burn_rate_severities(budget),
                    vec![],
                    "{}",
                    scenario.name
                );
            }
        }
    }

    #[test]
    fn recoveries_would_fire_without_their_short_window() {
        let spec = SloSpec::from_yaml(SPEC).expect("committed spec is valid");
        for slo in &spec.slos {
            for pair in &BURN_RATE_ALERTS {
                let scenario = recovered(slo, pair);
                let end = scenario.end_minute();
                let threshold = pair.factor * slo.error_budget();
                assert!(
                    scenario.window_ratio(end, pair.long) > threshold,
                    "{}",
                    scenario.name
                );
                assert_eq!(
                    scenario.window_ratio(end, pair.short),
                    0.0,
                    "{}",
                    scenario.name
                );
            }
        }
    }

    #[test]
    fn threshold_alerts_fire_above_and_not_below() {
        let spec = SloSpec::from_yaml(SPEC).expect("committed spec is valid");
        for slo in &spec.slos {
            for alert in &slo.threshold_alerts {
                let fires: Vec<bool> = threshold_scenarios(slo, alert)
                    .iter()
                    .map(|scenario| scenario.threshold_alert_fires(alert))
                    .collect();
                assert_eq!(fires, vec![true, false], "{}", alert.name);
            }
        }
    }

    #[test]
    fn idle_gap_weighs_events_not_minutes() {
        let spec = SloSpec::from_yaml(SPEC).expect("committed spec is valid");
        for slo in &spec.slos {
            let scenario = idle_gap_scenario(slo);
            let end = scenario.end_minute();
            assert_eq!(end % EVALUATION.minutes(), 0, "{}", scenario.name);
            let spent = scenario.window_ratio(end, slo.period) / slo.error_budget();
            assert!((spent - 0.8).abs() < 1e-9, "{}: {spent}", scenario.name);
            // The idle hour has no events, and no alert fires at the end.
            let idle = PromDuration::from_minutes(IDLE_GAP_MINUTES);
            assert_eq!(scenario.window_events(2 * IDLE_GAP_MINUTES, idle).1, 0);
            assert!(scenario.burn_rate_severities(slo.error_budget()).is_empty());
        }
    }

    #[test]
    fn expanding_values_continue_each_counter() {
        assert_eq!(
            expanding_values(&[3, 2, 2], &[10, 5, 0]),
            "0+10x3 35+5x1 40+0x1"
        );
    }
}
