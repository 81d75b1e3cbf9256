//! The Prometheus source against an in-process server that answers like Prometheus
//! does, including each way it fails.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Form;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use chrono::Utc;
use serde_json::json;

use super::*;
use crate::model::slo::{AlertLevel, Exhaustion, Measured, SloScope};
use crate::slo::{SloSpec, SLI_WINDOWS};

pub(super) type Answer = (StatusCode, String);

/// A fake Prometheus: `answer` sees the `query` form field and says what to send back.
async fn fake_prometheus(answer: impl Fn(&str) -> Answer + Send + Sync + 'static) -> String {
    let answer = Arc::new(answer);
    let app = Router::new().route(
        "/api/v1/query",
        post(move |Form(form): Form<HashMap<String, String>>| {
            let answer = answer.clone();
            async move {
                let query = form.get("query").cloned().unwrap_or_default();
                assert!(
                    form.contains_key("time"),
                    "every query is pinned to one time"
                );
                answer(&query)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn client(url: &str) -> PrometheusClient {
    PrometheusClient::new(url, Duration::from_millis(500)).expect("valid URL")
}

fn ok(body: serde_json::Value) -> Answer {
    (StatusCode::OK, body.to_string())
}

pub(super) fn vector(samples: &[(serde_json::Value, &str)]) -> Answer {
    let result: Vec<serde_json::Value> = samples
        .iter()
        .map(|(metric, value)| json!({"metric": metric, "value": [1_700_000_000.5, value]}))
        .collect();
    ok(json!({"status": "success", "data": {"resultType": "vector", "result": result}}))
}

pub(super) fn committed_spec() -> SloSpec {
    SloSpec::from_yaml(include_str!("../../../../observability/slo.yaml")).expect("valid spec")
}

#[tokio::test]
async fn vectors_and_scalars_are_read_with_their_labels() {
    let url = fake_prometheus(|query| match query {
        "up" => vector(&[
            (json!({"instance": "api-1"}), "1"),
            (json!({"instance": "api-2"}), "0"),
        ]),
        _ => ok(
            json!({"status": "success", "data": {"resultType": "scalar", "result": [1.0, "42.5"]}}),
        ),
    })
    .await;
    let prometheus = client(&url);
    let samples = prometheus
        .query("up", Some(Utc::now()))
        .await
        .expect("read");
    assert_eq!(samples.len(), 2);
    assert_eq!(samples[0].labels["instance"], "api-1");
    assert_eq!(samples[1].value, 0.0);
    assert_eq!(
        prometheus
            .query_value("time()", Some(Utc::now()))
            .await
            .expect("read"),
        Some(42.5)
    );
}

#[tokio::test]
async fn an_unreachable_prometheus_is_named_with_the_reason() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let error = client(&format!("http://{addr}"))
        .query("up", Some(Utc::now()))
        .await
        .expect_err("nothing listens");
    assert!(
        matches!(error, PrometheusError::Unreachable { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&addr.to_string()), "{message}");
    assert!(message.contains("refused"), "{message}");
}

#[tokio::test]
async fn a_prometheus_that_hangs_times_out() {
    let app = Router::new().route(
        "/api/v1/query",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            vector(&[])
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let error = client(&url)
        .query("up", Some(Utc::now()))
        .await
        .expect_err("too slow");
    assert!(
        matches!(error, PrometheusError::Timeout { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("did not answer within"),
        "{error}"
    );
}

#[tokio::test]
async fn http_errors_carry_prometheus_own_explanation_or_the_body() {
    let url = fake_prometheus(|query| match query {
        "rate(" => (
            StatusCode::BAD_REQUEST,
            json!({"status": "error", "errorType": "bad_data", "error": "parse error: unclosed left parenthesis"}).to_string(),
        ),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable".to_owned()),
    })
    .await;
    let prometheus = client(&url);
    let error = prometheus
        .query("rate(", Some(Utc::now()))
        .await
        .expect_err("bad query");
    assert!(
        matches!(error, PrometheusError::Status { status: 400, .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("HTTP 400 to `rate(`: bad_data: parse error: unclosed left parenthesis"),
        "{error}"
    );
    let error = prometheus
        .query("up", Some(Utc::now()))
        .await
        .expect_err("not ready");
    assert!(
        matches!(error, PrometheusError::Status { status: 503, .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().ends_with("Service Unavailable"),
        "{error}"
    );
}

#[tokio::test]
async fn an_error_status_in_the_body_is_an_error_even_with_http_200() {
    let url = fake_prometheus(|_| {
        ok(json!({"status": "error", "errorType": "timeout", "error": "query timed out in expression evaluation"}))
    })
    .await;
    let error = client(&url)
        .query("up", Some(Utc::now()))
        .await
        .expect_err("refused");
    assert!(
        matches!(error, PrometheusError::QueryFailed { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("timeout: query timed out in expression evaluation"),
        "{error}"
    );
}

#[tokio::test]
async fn nan_infinity_and_several_series_are_refused_as_single_values() {
    let url = fake_prometheus(|query| match query {
        "nan" => vector(&[(json!({}), "NaN")]),
        "inf" => vector(&[(json!({}), "+Inf")]),
        _ => vector(&[
            (json!({"track": "stable"}), "1"),
            (json!({"track": "canary"}), "2"),
        ]),
    })
    .await;
    let prometheus = client(&url);
    let nan = prometheus
        .query_value("nan", Some(Utc::now()))
        .await
        .expect_err("NaN");
    assert!(
        matches!(nan, PrometheusError::NotANumber { ref value, .. } if value == "NaN"),
        "{nan:?}"
    );
    assert!(nan.to_string().contains("no events in the window"), "{nan}");
    let inf = prometheus
        .query_value("inf", Some(Utc::now()))
        .await
        .expect_err("Inf");
    assert!(
        matches!(inf, PrometheusError::NotANumber { ref value, .. } if value == "+Inf"),
        "{inf:?}"
    );
    let several = prometheus
        .query_value("by_track", Some(Utc::now()))
        .await
        .expect_err("two series");
    assert!(
        matches!(several, PrometheusError::Ambiguous { count: 2, .. }),
        "{several:?}"
    );
}

#[tokio::test]
async fn answers_that_are_not_query_results_are_malformed() {
    let url = fake_prometheus(|query| match query {
        "html" => (StatusCode::OK, "<html>login</html>".to_owned()),
        _ => ok(json!({"status": "success", "data": {"resultType": "matrix", "result": []}})),
    })
    .await;
    let prometheus = client(&url);
    for query in ["html", "up[5m]"] {
        let error = prometheus
            .query(query, Some(Utc::now()))
            .await
            .expect_err("malformed");
        assert!(
            matches!(error, PrometheusError::Malformed { .. }),
            "{query}: {error:?}"
        );
    }
}

#[test]
fn urls_without_a_scheme_are_refused_at_once() {
    let error =
        PrometheusClient::new("localhost:9090", Duration::from_secs(1)).expect_err("no scheme");
    assert!(error.to_string().contains("http://host:port"), "{error}");
}

#[test]
fn window_queries_read_the_recording_rules_and_parse_as_promql() {
    let spec = committed_spec();
    for slo in &spec.slos {
        for window in SLI_WINDOWS.iter().copied().chain([slo.period]) {
            for scope in [SloScope::All, SloScope::Stable, SloScope::Canary] {
                let query = window_query(slo, window, scope);
                let read = if window == slo.period && scope == SloScope::All {
                    format!(
                        "sum_over_time(slo:sli_total_events:rate5m{{slo=\"{}\"}}",
                        slo.name
                    )
                } else {
                    format!("slo:sli_error:ratio_rate{window}{{slo=\"{}\"", slo.name)
                };
                assert!(query.contains(&read), "{query}");
                if window == slo.period {
                    // The period is read from records only: never a `rate()` over weeks of
                    // raw samples.
                    assert!(!query.contains("rate("), "{query}");
                }
                if let Err(error) = promql_parser::parser::parse(&query) {
                    panic!("{query}\ndoes not parse: {error}");
                }
            }
        }
    }
    let availability = &spec.slos[0];
    assert_eq!(
        window_query(availability, availability.period, SloScope::All),
        "sum by (slo) (sum_over_time(slo:sli_error_events:rate5m{slo=\"api-availability\"}[30d]))\n\
         /\n\
         sum by (slo) (sum_over_time(slo:sli_total_events:rate5m{slo=\"api-availability\"}[30d]))"
    );
    assert_eq!(
        window_query(availability, availability.period, SloScope::Canary),
        "slo:sli_error:ratio_rate30d{slo=\"api-availability\",track=\"canary\"}"
    );
    let stable = window_query(&spec.slos[0], SLI_WINDOWS[0], SloScope::Stable);
    assert_eq!(
        stable,
        "slo:sli_error:ratio_rate5m{slo=\"api-availability\",track=\"stable\"}"
    );
    for scope in [SloScope::All, SloScope::Canary] {
        if let Err(error) = promql_parser::parser::parse(&alerts_query(scope)) {
            panic!("{}: {error}", alerts_query(scope));
        }
    }
}

/// A Prometheus with the generated rules loaded, 120 s of history, api-availability
/// failing at 25% on the stable track (paging), and no other traffic.
pub(super) fn answer_with_rules(query: &str, names: &[String]) -> Answer {
    if query == RULES_LOADED_QUERY {
        let samples: Vec<(serde_json::Value, &str)> = names
            .iter()
            .map(|name| {
                (
                    json!({"__name__": "slo:objective:ratio", "slo": name}),
                    "0.99",
                )
            })
            .collect();
        return vector(&samples);
    }
    if query == COVERAGE_QUERY {
        return vector(&[(json!({}), "120.4")]);
    }
    if query.starts_with("ALERTS") {
        return vector(&[
            (
                json!({"alertname": "ApiAvailabilityErrorBudgetBurn", "severity": "page", "slo": "api-availability", "track": "stable"}),
                "1",
            ),
            (
                json!({"alertname": "ApiHighErrorRate", "severity": "page", "slo": "api-latency", "track": "stable"}),
                "1",
            ),
        ]);
    }
    if query.contains("slo=\"api-availability\"") {
        return vector(&[(json!({}), "0.25")]);
    }
    if query.contains("slo=\"jobs-success\"") {
        // 0/0: the rule exists, no job ended.
        return vector(&[(json!({}), "NaN")]);
    }
    vector(&[])
}

#[tokio::test]
async fn slo_status_comes_from_the_rules_with_coverage_and_alerts_as_prometheus_says() {
    let spec = committed_spec();
    let names: Vec<String> = spec.slos.iter().map(|slo| slo.name.clone()).collect();
    let url = fake_prometheus(move |query| answer_with_rules(query, &names)).await;
    let read = read_slos(&client(&url), &spec, SloScope::All, Utc::now())
        .await
        .expect("read");
    assert_eq!(read.coverage_secs, Some(120));
    assert_eq!(read.slos.len(), spec.slos.len());

    let availability = &read.slos[0];
    assert_eq!(availability.name, "api-availability");
    assert_eq!(availability.alert, AlertLevel::Page);
    let five_minutes = availability.window("5m").expect("5m window");
    // 120 s of history cannot fill 5 minutes: said so, with the value over the 120 s.
    assert_eq!(
        five_minutes.error_ratio,
        Measured::Insufficient {
            covered_secs: 120,
            covered_value: Some(0.25)
        }
    );
    let burn = five_minutes
        .burn_rate
        .over_available_data()
        .copied()
        .expect("burn over the covered part");
    assert!((burn - 250.0).abs() < 1e-9, "{burn}");
    assert_eq!(availability.windows.len(), 8);
    assert_eq!(availability.windows[7].window, "30d");
    assert!(
        matches!(availability.sli, Measured::Insufficient { covered_value: Some(sli), .. } if (sli - 0.75).abs() < 1e-9)
    );

    // A threshold alert of api-latency is not its burn-rate alert.
    assert_eq!(read.slos[1].alert, AlertLevel::None);
    let jobs = &read.slos[2];
    assert_eq!(
        jobs.window("5m").map(|window| window.error_ratio),
        Some(Measured::Insufficient {
            covered_secs: 120,
            covered_value: None
        })
    );
}

#[tokio::test]
async fn without_coverage_windows_are_values_and_nan_is_no_traffic() {
    let spec = committed_spec();
    let names: Vec<String> = spec.slos.iter().map(|slo| slo.name.clone()).collect();
    let url = fake_prometheus(move |query| {
        if query == COVERAGE_QUERY {
            vector(&[])
        } else {
            answer_with_rules(query, &names)
        }
    })
    .await;
    let read = read_slos(&client(&url), &spec, SloScope::Stable, Utc::now())
        .await
        .expect("read");
    assert_eq!(read.coverage_secs, None);
    assert_eq!(
        read.slos[0].window("1h").map(|window| window.burn_rate),
        Some(Measured::Value { value: 250.0 })
    );
    assert_eq!(
        read.slos[2].window("1h").map(|window| window.error_ratio),
        Some(Measured::NoTraffic)
    );
}

#[tokio::test]
async fn missing_rules_are_named_instead_of_reported_as_no_traffic() {
    let spec = committed_spec();
    let url = fake_prometheus(|query| {
        if query == RULES_LOADED_QUERY {
            vector(&[(json!({"slo": "api-availability"}), "0.999")])
        } else {
            vector(&[])
        }
    })
    .await;
    let error = read_slos(&client(&url), &spec, SloScope::All, Utc::now())
        .await
        .expect_err("rules missing");
    let message = error.to_string();
    assert!(
        message.contains("api-latency, jobs-success, queue-freshness"),
        "{message}"
    );
    assert!(message.contains("opsbox slo rules"), "{message}");
}

fn single(value: &str) -> Answer {
    vector(&[(json!({}), value)])
}

fn rules_loaded_for(names: &[String]) -> Answer {
    let samples: Vec<(serde_json::Value, &str)> = names
        .iter()
        .map(|name| (json!({"slo": name}), "0.99"))
        .collect();
    vector(&samples)
}

/// What a real Prometheus answered about api-availability, replayed: a local stack's
/// TSDB reused across runs of the stack (its raw counters reach back 25 minutes, to a run
/// before the SLO's event records existed, with drills failing many requests), read
/// right after a bad canary failed a third of its requests, while the stable track had
/// no error since the records began.
mod replay {
    pub const COVERAGE_SECS: &str = "1532.5";
    /// `slo:sli_error:ratio_rate30d` of each track.
    pub const STABLE_PERIOD: &str = "0";
    pub const CANARY_PERIOD: &str = "0.3313919070861225";
    /// Every track's recorded 5m error events over every track's 5m events, added up.
    pub const ALL_TRACKS_PERIOD: f64 = 0.022579640370424366;
    /// Each track's period ratio weighed by a `rate()` of its raw counters over 30d,
    /// which counts the earlier run's stable traffic the records never saw.
    pub const RAW_WEIGHTED_PERIOD: &str = "0.004729425635238628";
}

fn replayed_answer(query: &str, names: &[String]) -> Answer {
    let availability = query.contains("slo=\"api-availability\"");
    if query == RULES_LOADED_QUERY {
        rules_loaded_for(names)
    } else if query == COVERAGE_QUERY {
        single(replay::COVERAGE_SECS)
    } else if availability && query.contains("rate(http_requests_total") && query.contains("[30d]")
    {
        single(replay::RAW_WEIGHTED_PERIOD)
    } else if availability && query.contains("sum_over_time(slo:sli_total_events:rate5m") {
        single(&replay::ALL_TRACKS_PERIOD.to_string())
    } else if query == "slo:sli_error:ratio_rate30d{slo=\"api-availability\",track=\"stable\"}" {
        single(replay::STABLE_PERIOD)
    } else if query == "slo:sli_error:ratio_rate30d{slo=\"api-availability\",track=\"canary\"}" {
        single(replay::CANARY_PERIOD)
    } else {
        vector(&[])
    }
}

fn close(actual: Option<&f64>, expected: f64) -> bool {
    actual.is_some_and(|actual| (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0))
}

#[tokio::test]
async fn the_all_tracks_period_adds_up_the_event_records_of_every_track() {
    let spec = committed_spec();
    let names: Vec<String> = spec.slos.iter().map(|slo| slo.name.clone()).collect();
    let url = fake_prometheus(move |query| replayed_answer(query, &names)).await;
    let prometheus = client(&url);
    let read = read_slos(&prometheus, &spec, SloScope::All, Utc::now())
        .await
        .expect("read");
    let availability = &read.slos[0];
    let budget = availability.error_budget;
    let ratio = replay::ALL_TRACKS_PERIOD;

    let period = availability.windows.last().expect("the period");
    assert_eq!(period.window, "30d");
    assert!(
        matches!(
            period.error_ratio,
            Measured::Insufficient {
                covered_secs: 1532,
                ..
            }
        ),
        "{period:?}"
    );
    assert!(
        close(period.error_ratio.over_available_data(), ratio),
        "{period:?}"
    );
    assert!(
        close(period.burn_rate.over_available_data(), ratio / budget),
        "{period:?}"
    );
    // SLI and budget left as the embedded engine derives them from the period's ratio,
    // said over the 1532 s covered, like the period itself.
    assert!(
        matches!(
            availability.sli,
            Measured::Insufficient {
                covered_secs: 1532,
                ..
            }
        ),
        "{:?}",
        availability.sli
    );
    assert!(
        close(availability.sli.over_available_data(), 1.0 - ratio),
        "SLI {:?}, expected {}",
        availability.sli,
        1.0 - ratio
    );
    assert!(
        close(
            availability.error_budget_remaining.over_available_data(),
            1.0 - ratio / budget
        ),
        "budget left {:?}, expected {}",
        availability.error_budget_remaining,
        1.0 - ratio / budget
    );
    assert_eq!(
        availability.budget_exhaustion,
        Measured::Insufficient {
            covered_secs: 1532,
            covered_value: Some(Exhaustion::Exhausted)
        }
    );

    // Each track alone reads its own recorded period ratio.
    for (scope, track_ratio) in [
        (SloScope::Stable, replay::STABLE_PERIOD),
        (SloScope::Canary, replay::CANARY_PERIOD),
    ] {
        let read = read_slos(&prometheus, &spec, scope, Utc::now())
            .await
            .expect("read");
        let track_ratio: f64 = track_ratio.parse().expect("number");
        let availability = &read.slos[0];
        assert!(
            close(availability.sli.over_available_data(), 1.0 - track_ratio),
            "{scope}: {:?}",
            availability.sli
        );
        assert!(
            close(
                availability.error_budget_remaining.over_available_data(),
                1.0 - track_ratio / budget
            ),
            "{scope}: {:?}",
            availability.error_budget_remaining
        );
    }
}

#[tokio::test]
async fn a_covered_period_gives_sli_budget_and_exhaustion_as_the_engine_derives_them() {
    let spec = committed_spec();
    let names: Vec<String> = spec.slos.iter().map(|slo| slo.name.clone()).collect();
    let url = fake_prometheus(move |query| {
        if query == RULES_LOADED_QUERY {
            rules_loaded_for(&names)
        } else if query == COVERAGE_QUERY {
            // Longer than the period: nothing is `insufficient`.
            single("2678400")
        } else if query.contains("slo=\"api-availability\"") {
            // Half the budget spent over the period, burning at 0.5 over every window.
            single("0.0005")
        } else if query.contains("slo=\"jobs-success\"") {
            // 0/0: the records exist, no job ended.
            single("NaN")
        } else {
            vector(&[])
        }
    })
    .await;
    let read = read_slos(&client(&url), &spec, SloScope::All, Utc::now())
        .await
        .expect("read");
    assert_eq!(read.coverage_secs, Some(2_678_400));

    let availability = &read.slos[0];
    let budget = availability.error_budget;
    assert!(
        matches!(availability.sli, Measured::Value { value } if (value - 0.9995).abs() < 1e-12),
        "{:?}",
        availability.sli
    );
    let remaining = 1.0 - 0.0005 / budget;
    assert!(
        matches!(availability.error_budget_remaining, Measured::Value { value } if (value - remaining).abs() < 1e-12),
        "{:?}",
        availability.error_budget_remaining
    );
    // Half the budget left at a burn of 0.5 lasts a whole period.
    match availability.budget_exhaustion {
        Measured::Value {
            value: Exhaustion::In { secs },
        } => assert!(secs.abs_diff(30 * 86_400) <= 1, "{secs}"),
        other => panic!("{other:?}"),
    }

    // No events over the period: no SLI, no budget, nothing to exhaust, not a number.
    let jobs = &read.slos[2];
    assert_eq!(jobs.name, "jobs-success");
    assert_eq!(jobs.sli, Measured::NoTraffic);
    assert_eq!(jobs.error_budget_remaining, Measured::NoTraffic);
    assert_eq!(jobs.budget_exhaustion, Measured::NoTraffic);
    // No records at all (the counters never existed): the same.
    assert_eq!(read.slos[1].sli, Measured::NoTraffic);
}
