//! PromQL for an SLO's indicator: selectors, event rates and error ratios.

use super::duration::PromDuration;
use super::spec::{Indicator, LatencyIndicator, MatchOp, Matcher};

/// The label that tells stable from canary series.
pub const TRACK_LABEL: &str = "track";

/// Which series an expression aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// One result per `track`: what the recording rules keep.
    PerTrack,
    /// Only the series of one track, summed into one result: canary analysis.
    Track(&'a str),
}

/// `metric{label="value",...}`, with `extra` matchers appended.
pub fn selector(metric: &str, matchers: &[Matcher], extra: &[(&str, MatchOp, &str)]) -> String {
    let rendered: Vec<String> = matchers
        .iter()
        .map(|m| render_matcher(&m.label, m.op, &m.value))
        .chain(
            extra
                .iter()
                .map(|(label, op, value)| render_matcher(label, *op, value)),
        )
        .collect();
    if rendered.is_empty() {
        metric.to_owned()
    } else {
        format!("{metric}{{{}}}", rendered.join(","))
    }
}

/// Error events per second over `window`.
pub fn error_rate(indicator: &Indicator, window: PromDuration, scope: Scope) -> String {
    match indicator {
        Indicator::Ratio(ratio) => {
            counter_rate(&ratio.errors.metric, &ratio.errors.matchers, window, scope)
        }
        Indicator::Latency(latency) => format!(
            "(\n  {}\n  -\n  {}\n)",
            total_rate(indicator, window, scope),
            good_latency_rate(latency, window, scope)
        ),
    }
}

/// All events per second over `window`.
pub fn total_rate(indicator: &Indicator, window: PromDuration, scope: Scope) -> String {
    match indicator {
        Indicator::Ratio(ratio) => {
            counter_rate(&ratio.total.metric, &ratio.total.matchers, window, scope)
        }
        Indicator::Latency(latency) => counter_rate(
            &format!("{}_count", latency.histogram),
            &latency.matchers,
            window,
            scope,
        ),
    }
}

/// Error events per second over `window`, present wherever [`total_rate`] is:
/// 0 (not absent) before the first error, and 0 (not NaN) while idle, so that
/// it can be summed over time.
pub fn error_events_rate(indicator: &Indicator, window: PromDuration, scope: Scope) -> String {
    match indicator {
        // A counter of errors only exists after the first error; without the
        // `or` the rate would be missing instead of 0 until then.
        Indicator::Ratio(ratio) => format!(
            "(\n  {}\n  or\n  0 * {}\n)",
            counter_rate(&ratio.errors.metric, &ratio.errors.matchers, window, scope),
            total_rate(indicator, window, scope)
        ),
        Indicator::Latency(_) => error_rate(indicator, window, scope),
    }
}

/// Error events over all events in `window`: 0 when nothing failed, NaN (0/0)
/// when the counters exist but no event happened in the window, absent when
/// the counters do not exist.
pub fn error_ratio(indicator: &Indicator, window: PromDuration, scope: Scope) -> String {
    format!(
        "{}\n/\n{}",
        error_events_rate(indicator, window, scope),
        total_rate(indicator, window, scope)
    )
}

/// Events at or under the latency threshold over all events in `window`.
pub fn good_latency_ratio(
    latency: &LatencyIndicator,
    window: PromDuration,
    scope: Scope,
) -> String {
    let total = counter_rate(
        &format!("{}_count", latency.histogram),
        &latency.matchers,
        window,
        scope,
    );
    format!("{}\n/\n{total}", good_latency_rate(latency, window, scope))
}

/// A number as PromQL and YAML print it: shortest form, 12 decimals at most.
pub fn number(value: f64) -> String {
    let rounded = (value * 1e12).round() / 1e12;
    format!("{rounded}")
}

/// Matches the bucket bound as exporters print it (`30`) and as Prometheus 3
/// stores it after normalising `le` on ingestion (`30.0`).
pub fn le_matcher_value(bound: f64) -> (MatchOp, String) {
    let printed = number(bound);
    if printed.contains('.') {
        (MatchOp::Equal, printed)
    } else {
        (MatchOp::Regex, format!("{printed}(\\.0)?"))
    }
}

fn good_latency_rate(latency: &LatencyIndicator, window: PromDuration, scope: Scope) -> String {
    let (op, bound) = le_matcher_value(latency.threshold_seconds);
    let bucket = format!("{}_bucket", latency.histogram);
    summed_rate(
        &bucket,
        &latency.matchers,
        &[("le", op, &bound)],
        window,
        scope,
    )
}

fn counter_rate(metric: &str, matchers: &[Matcher], window: PromDuration, scope: Scope) -> String {
    summed_rate(metric, matchers, &[], window, scope)
}

fn summed_rate(
    metric: &str,
    matchers: &[Matcher],
    extra: &[(&str, MatchOp, &str)],
    window: PromDuration,
    scope: Scope,
) -> String {
    match scope {
        Scope::PerTrack => format!(
            "sum by ({TRACK_LABEL}) (rate({}[{window}]))",
            selector(metric, matchers, extra)
        ),
        Scope::Track(track) => {
            let mut extra = extra.to_vec();
            extra.push((TRACK_LABEL, MatchOp::Equal, track));
            format!(
                "sum(rate({}[{window}]))",
                selector(metric, matchers, &extra)
            )
        }
    }
}

/// A label matcher with the value quoted as a PromQL double-quoted string.
fn render_matcher(label: &str, op: MatchOp, value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '\n' => quoted.push_str("\\n"),
            c => quoted.push(c),
        }
    }
    format!("{label}{}\"{quoted}\"", op.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(label: &str, op: MatchOp, value: &str) -> Matcher {
        Matcher {
            label: label.into(),
            op,
            value: value.into(),
        }
    }

    #[test]
    fn selectors_quote_values_for_promql() {
        let matchers = [
            matcher("route", MatchOp::Regex, "/tasks.*"),
            matcher("path", MatchOp::Equal, "a\"b\\c"),
        ];
        assert_eq!(
            selector(
                "http_requests_total",
                &matchers,
                &[("track", MatchOp::Equal, "canary")]
            ),
            r#"http_requests_total{route=~"/tasks.*",path="a\"b\\c",track="canary"}"#
        );
        assert_eq!(selector("up", &[], &[]), "up");
    }

    #[test]
    fn numbers_print_as_people_write_them() {
        assert_eq!(number(1.0 - 0.999), "0.001");
        assert_eq!(number(14.4), "14.4");
        assert_eq!(number(30.0), "30");
        assert_eq!(number(0.005), "0.005");
    }

    #[test]
    fn integer_bucket_bounds_match_both_le_spellings() {
        assert_eq!(le_matcher_value(0.3), (MatchOp::Equal, "0.3".into()));
        assert_eq!(le_matcher_value(30.0), (MatchOp::Regex, r"30(\.0)?".into()));
    }
}
