//! Unit tests of spec parsing: the committed spec parses, and each kind of mistake is rejected by name.

use super::*;

const VALID: &str = r#"
version: 1
dashboard: /d/opsbox-slos
slos:
  - name: api-availability
    service: api
    description: Task requests without a server error
    objective: 99.9
    runbook: docs/runbooks/slo-api-availability.md
    indicator:
      ratio:
        errors:
          metric: http_requests_total
          matchers:
            - { label: route, op: "=~", value: "/tasks.*" }
            - { label: status, op: "=~", value: "5.." }
        total:
          metric: http_requests_total
          matchers:
            - { label: route, op: "=~", value: "/tasks.*" }
        examples:
          good: { route: /tasks, status: "200" }
          error: { route: /tasks, status: "500" }
    threshold_alerts:
      - { name: ApiHighErrorRate, signal: error_ratio, above: 0.05, for: 5m, severity: page, summary: Many 5xx }
  - name: api-latency
    service: api
    description: Task requests within 300 ms
    objective: 99
    period: 28d
    runbook: https://runbooks.example/api-latency
    indicator:
      latency:
        histogram: http_request_duration_seconds
        threshold_seconds: 0.3
        buckets: [0.1, 0.3, 1]
        example: { route: /tasks }
"#;

/// Parses VALID with `from` replaced by `to`, expecting a rejection.
fn rejection(from: &str, to: &str) -> SpecError {
    assert!(
        VALID.contains(from),
        "test edits text that is not there: {from}"
    );
    match SloSpec::from_yaml(&VALID.replacen(from, to, 1)) {
        Ok(_) => panic!("accepted a spec with `{from}` replaced by `{to}`"),
        Err(err) => err,
    }
}

/// Asserts the rejection names the SLO and the field, and says `why`.
fn assert_rejects(from: &str, to: &str, slo: &str, field: &str, why: &str) {
    let err = rejection(from, to);
    let message = err.to_string();
    match &err {
        SpecError::Field {
            slo: named,
            field: named_field,
            reason,
        } => {
            assert_eq!(named, slo, "{message}");
            assert!(
                named_field.contains(field),
                "field `{field}` not named: {message}"
            );
            assert!(reason.contains(why), "reason lacks `{why}`: {message}");
        }
        SpecError::Document(_) => panic!("expected an error naming SLO {slo}: {message}"),
    }
}

#[test]
fn parses_a_valid_spec_with_defaults() {
    let spec = SloSpec::from_yaml(VALID).expect("valid");
    assert_eq!(spec.slos.len(), 2);
    let availability = &spec.slos[0];
    assert_eq!(availability.period, DEFAULT_PERIOD);
    assert_eq!(availability.objective_ratio(), 0.999);
    assert_eq!(availability.error_budget(), 0.001);
    assert_eq!(
        availability.burn_rate_alert_name(),
        "ApiAvailabilityErrorBudgetBurn"
    );
    assert_eq!(spec.slos[1].period.to_string(), "28d");
    assert!(spec.slos[1].threshold_alerts.is_empty());
    assert_eq!(spec.services(), vec!["api"]);
}

#[test]
fn the_committed_spec_is_valid() {
    let text = include_str!("../../../../observability/slo.yaml");
    let spec = SloSpec::from_yaml(text).expect("observability/slo.yaml");
    let names: Vec<&str> = spec.slos.iter().map(|slo| slo.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "api-availability",
            "api-latency",
            "jobs-success",
            "queue-freshness"
        ]
    );
}

#[test]
fn rejects_an_unknown_indicator_kind() {
    assert_rejects(
        "      latency:\n",
        "      histogram:\n",
        "api-latency",
        "indicator",
        "unknown indicator kind `histogram`",
    );
}

#[test]
fn rejects_objectives_outside_0_to_100() {
    for objective in ["0", "100", "-5", "150", ".nan"] {
        assert_rejects(
            "objective: 99\n",
            &format!("objective: {objective}\n"),
            "api-latency",
            "objective",
            "between 0 and 100",
        );
    }
}

#[test]
fn rejects_an_objective_that_is_not_a_number() {
    assert_rejects(
        "objective: 99\n",
        "objective: high\n",
        "api-latency",
        "objective",
        "invalid type",
    );
}

#[test]
fn rejects_a_missing_field() {
    assert_rejects(
        "    objective: 99\n",
        "",
        "api-latency",
        "objective",
        "missing field",
    );
    assert_rejects(
        "        threshold_seconds: 0.3\n",
        "",
        "api-latency",
        "indicator",
        "missing field `threshold_seconds`",
    );
}

#[test]
fn rejects_an_unknown_field() {
    assert_rejects(
        "    objective: 99\n",
        "    objective: 99\n    objectiv: 99\n",
        "api-latency",
        "objectiv",
        "unknown field",
    );
    assert_rejects(
        "        threshold_seconds: 0.3\n",
        "        threshold_seconds: 0.3\n        thresold: 1\n",
        "api-latency",
        "indicator",
        "unknown field `thresold`",
    );
    let err = rejection("version: 1\n", "version: 1\nextra: true\n");
    assert!(
        matches!(err, SpecError::Document(ref m) if m.contains("unknown field `extra`")),
        "{err}"
    );
}

#[test]
fn rejects_a_duplicate_name() {
    assert_rejects(
        "  - name: api-latency\n",
        "  - name: api-availability\n",
        "api-availability",
        "name",
        "already has this name",
    );
}

#[test]
fn rejects_a_threshold_that_is_not_a_bucket() {
    assert_rejects(
        "threshold_seconds: 0.3",
        "threshold_seconds: 0.2",
        "api-latency",
        "threshold_seconds",
        "not one of the histogram's buckets",
    );
}

#[test]
fn rejects_unsorted_buckets() {
    assert_rejects(
        "buckets: [0.1, 0.3, 1]",
        "buckets: [0.3, 0.1, 1]",
        "api-latency",
        "buckets",
        "increasing",
    );
}

#[test]
fn rejects_a_period_shorter_than_the_longest_alert_window() {
    assert_rejects(
        "period: 28d",
        "period: 2d",
        "api-latency",
        "period",
        "shorter than the longest alert window",
    );
    assert_rejects(
        "period: 28d",
        "period: 28 days",
        "api-latency",
        "period",
        "unknown unit",
    );
}

#[test]
fn rejects_matchers_on_generator_labels_and_bad_operators() {
    assert_rejects(
        r#"{ label: status, op: "=~", value: "5.." }"#,
        r#"{ label: track, op: "=", value: "stable" }"#,
        "api-availability",
        "indicator.ratio.errors.matchers",
        "set by the generators",
    );
    assert_rejects(
        r#"op: "=~", value: "5..""#,
        r#"op: "~", value: "5..""#,
        "api-availability",
        "indicator",
        "unknown variant `~`",
    );
}

#[test]
fn rejects_examples_that_contradict_the_selectors() {
    assert_rejects(
        "good: { route: /tasks, status: \"200\" }",
        "good: { status: \"200\" }",
        "api-availability",
        "examples.good",
        "route=~",
    );
    assert_rejects(
        "error: { route: /tasks, status: \"500\" }",
        "error: { route: /tasks, status: \"200\" }",
        "api-availability",
        "examples",
        "must differ",
    );
}

#[test]
fn rejects_bad_names() {
    assert_rejects(
        "name: api-latency",
        "name: Api_Latency",
        "Api_Latency",
        "name",
        "lowercase",
    );
    assert_rejects(
        "name: ApiHighErrorRate",
        "name: api-high",
        "api-availability",
        "threshold_alerts",
        "CamelCase",
    );
}

#[test]
fn rejects_threshold_alerts_that_cannot_fire() {
    assert_rejects(
        "above: 0.05",
        "above: 1.5",
        "api-availability",
        "above",
        "never fire",
    );
    assert_rejects(
        "above: 0.05",
        "above: -1",
        "api-availability",
        "above",
        "zero or more",
    );
    assert_rejects(
        "severity: page",
        "severity: sms",
        "api-availability",
        "threshold_alerts",
        "unknown variant `sms`",
    );
}

#[test]
fn rejects_a_wrong_version_or_an_empty_list() {
    let err = rejection("version: 1", "version: 2");
    assert!(
        matches!(err, SpecError::Document(ref m) if m.contains("version")),
        "{err}"
    );
    let err = SloSpec::from_yaml("version: 1\ndashboard: /d/x\nslos: []\n").unwrap_err();
    assert!(err.to_string().contains("at least one SLO"), "{err}");
}
