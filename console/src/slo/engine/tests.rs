//! Scenarios through the whole engine: scrapes in, SLO status out.

use std::time::Duration;

use super::history::SeriesHistory;
use super::layout::TierLayout;
use super::*;
use crate::slo::spec::SloSpec;
use crate::slo::PromDuration;

const SECOND: u64 = 1_000;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
/// An arbitrary start, not aligned to any bucket.
const START: UnixMillis = 1_700_000_007_000;

/// One ratio SLO at 99.9%: the error budget is 0.001.
const RATIO_SPEC: &str = r#"
version: 1
dashboard: /d/opsbox-slos
slos:
  - name: api-availability
    service: api
    description: Task requests are answered without a server error
    objective: 99.9
    period: 30d
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
          good: { method: POST, route: /tasks, status: "201" }
          error: { method: POST, route: /tasks, status: "503" }
"#;

fn ratio_engine(config: StoreConfig) -> SloEngine {
    let spec = SloSpec::from_yaml(RATIO_SPEC).expect("valid spec");
    SloEngine::new(spec, config).expect("compiles")
}

fn committed_spec() -> SloSpec {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../observability/slo.yaml"
    ))
    .expect("the committed spec");
    SloSpec::from_yaml(&text).expect("valid spec")
}

fn requests(status: &str, track: &str, value: f64) -> CounterSample {
    CounterSample::new(
        "http_requests_total",
        vec![
            ("method".into(), "GET".into()),
            ("route".into(), "/tasks".into()),
            ("status".into(), status.into()),
            ("track".into(), track.into()),
        ],
        None,
        value,
    )
}

/// Scrapes one instance every `step` from `from` to `to` (inclusive), where
/// `error_ratio(t)` says which share of the 100 requests of each step failed.
struct Traffic {
    good: f64,
    failed: f64,
}

impl Traffic {
    fn new() -> Self {
        Self {
            good: 0.0,
            failed: 0.0,
        }
    }

    fn run(
        &mut self,
        engine: &mut SloEngine,
        (from, to, step): (UnixMillis, UnixMillis, u64),
        error_ratio: impl Fn(UnixMillis) -> f64,
    ) {
        let mut at = from;
        while at <= to {
            let ratio = error_ratio(at);
            self.good += 100.0 * (1.0 - ratio);
            self.failed += 100.0 * ratio;
            engine.store_mut().ingest(
                "api-0",
                at,
                [
                    requests("200", "stable", self.good),
                    requests("500", "stable", self.failed),
                ],
            );
            at += step;
        }
    }
}

fn ratio(status: &SloStatus, window: PromDuration) -> Reading<f64> {
    status
        .window(window)
        .map_or(Reading::NoTraffic, |window| window.error_ratio)
}

fn minutes(count: u64) -> PromDuration {
    PromDuration::from_minutes(count)
}

/// Three days of clean traffic, then `last` at `factor` times the budget.
fn alert_after(factor: f64, last: u64) -> AlertState {
    let mut engine = ratio_engine(StoreConfig::default());
    let now = START + 3 * DAY;
    let burn_from = now - last;
    Traffic::new().run(&mut engine, (START, now, 15 * SECOND), |at| {
        if at > burn_from {
            factor * 0.001
        } else {
            0.0
        }
    });
    let status = &engine.evaluate(now, TrackScope::AllTracks)[0];
    status.alert
}

#[test]
fn burning_just_above_fourteen_point_four_over_the_hour_and_five_minutes_pages() {
    assert_eq!(alert_after(14.5, HOUR), AlertState::Page);
}

#[test]
fn burning_just_below_the_page_threshold_does_not_alert() {
    assert_eq!(alert_after(14.3, HOUR), AlertState::None);
    assert_eq!(alert_after(13.0, HOUR), AlertState::None);
}

#[test]
fn a_five_minute_spike_alone_does_not_page() {
    // 100x for 5 minutes lifts the 5m window far over 14.4x, the 1h one only to 8.3x.
    assert_eq!(alert_after(100.0, 5 * MINUTE), AlertState::None);
}

#[test]
fn a_steady_slow_burn_opens_a_ticket() {
    // 3.5x for a day and more: above 3x over 1d and 2h, far under the page pairs.
    assert_eq!(alert_after(3.5, DAY + HOUR), AlertState::Ticket);
}

#[test]
fn a_counter_reset_counts_what_the_restarted_process_counted() {
    let mut engine = ratio_engine(StoreConfig::default());
    let store = engine.store_mut();
    store.ingest("api-0", START, [requests("200", "stable", 90.0)]);
    store.ingest(
        "api-0",
        START + 15 * SECOND,
        [requests("200", "stable", 100.0)],
    );
    // The instance restarted: 100 -> 5 means 5 new requests, not -95.
    store.ingest(
        "api-0",
        START + 30 * SECOND,
        [requests("200", "stable", 5.0)],
    );
    let now = START + 5 * MINUTE;
    store.ingest("api-0", now, [requests("200", "stable", 5.0)]);
    let events = store.window_events(0, 5 * MINUTE, now, TrackScope::AllTracks);
    assert_eq!(
        events,
        Reading::Value(WindowEvents {
            errors: 0.0,
            total: 15.0
        })
    );
}

#[test]
fn an_hour_window_with_twenty_minutes_of_data_says_so() {
    let mut engine = ratio_engine(StoreConfig::default());
    let now = START + 20 * MINUTE;
    Traffic::new().run(&mut engine, (START, now, 15 * SECOND), |_| 0.01);
    let status = &engine.evaluate(now, TrackScope::AllTracks)[0];
    let covered = Duration::from_secs(20 * 60);
    assert_eq!(
        ratio(status, minutes(60)),
        Reading::Insufficient { covered }
    );
    assert_eq!(status.sli, Reading::Insufficient { covered });
    assert_eq!(
        status.error_budget_remaining,
        Reading::Insufficient { covered }
    );
    assert_eq!(status.alert, AlertState::Undetermined);
    let five = ratio(status, minutes(5))
        .value()
        .copied()
        .expect("5m covered");
    assert!((five - 0.01).abs() < 1e-12, "{five}");
    assert_eq!(
        ratio(status, minutes(30)),
        Reading::Insufficient { covered }
    );
    let burn = status.burn_rate(minutes(5));
    assert!(
        matches!(burn, Reading::Value(rate) if (rate - 10.0).abs() < 1e-9),
        "{burn:?}"
    );
}

#[test]
fn no_traffic_has_no_ratio_rather_than_zero_or_nan() {
    let mut engine = ratio_engine(StoreConfig::default());
    let store = engine.store_mut();
    store.ingest("api-0", START, [requests("200", "stable", 7.0)]);
    store.ingest(
        "api-0",
        START + 10 * MINUTE,
        [requests("200", "stable", 7.0)],
    );
    let status = &engine.evaluate(START + 10 * MINUTE, TrackScope::AllTracks)[0];
    assert_eq!(ratio(status, minutes(5)), Reading::NoTraffic);
    assert_eq!(status.burn_rate(minutes(5)), Reading::NoTraffic);
}

#[test]
fn tracks_are_evaluated_apart_and_summed_over_instances() {
    let mut engine = ratio_engine(StoreConfig::default());
    let store = engine.store_mut();
    for (instance, track, errors) in [
        ("api-0", "stable", 1.0),
        ("api-1", "stable", 0.0),
        ("api-c", "canary", 10.0),
    ] {
        store.ingest(
            instance,
            START,
            [requests("200", track, 0.0), requests("500", track, 0.0)],
        );
        store.ingest(
            instance,
            START + 5 * MINUTE,
            [
                requests("200", track, 100.0 - errors),
                requests("500", track, errors),
            ],
        );
    }
    let now = START + 5 * MINUTE;
    let events = |scope| store.window_events(0, 5 * MINUTE, now, scope);
    assert_eq!(
        events(TrackScope::Track("canary")),
        Reading::Value(WindowEvents {
            errors: 10.0,
            total: 100.0
        })
    );
    assert_eq!(
        events(TrackScope::Track("stable")),
        Reading::Value(WindowEvents {
            errors: 1.0,
            total: 200.0
        })
    );
    assert_eq!(
        events(TrackScope::AllTracks),
        Reading::Value(WindowEvents {
            errors: 11.0,
            total: 300.0
        })
    );
    assert_eq!(
        store.tracks(),
        vec!["canary".to_owned(), "stable".to_owned()]
    );
}

#[test]
fn a_series_born_after_its_instance_was_first_scraped_counts_from_zero() {
    // The 5xx series only exists after the first server error.
    let mut engine = ratio_engine(StoreConfig::default());
    let store = engine.store_mut();
    store.ingest("api-0", START, [requests("200", "stable", 50.0)]);
    let now = START + 5 * MINUTE;
    store.ingest(
        "api-0",
        now,
        [
            requests("200", "stable", 148.0),
            requests("500", "stable", 2.0),
        ],
    );
    assert_eq!(
        store.window_events(0, 5 * MINUTE, now, TrackScope::AllTracks),
        Reading::Value(WindowEvents {
            errors: 2.0,
            total: 100.0
        })
    );
}

#[test]
fn an_instance_started_in_view_counts_its_first_scrape_from_zero() {
    // A canary that served 40 requests (10 failed) before its first scrape: started
    // after the store began, so all of them count; an old instance's first values do not.
    let mut engine = ratio_engine(StoreConfig::default());
    let store = engine.store_mut();
    store.ingest("api-0", START, [requests("200", "stable", 1000.0)]);
    let now = START + MINUTE;
    store.ingest("api-0", now, [requests("200", "stable", 1000.0)]);
    store.ingest_process(
        "api-canary-1",
        now,
        [
            requests("200", "canary", 30.0),
            requests("500", "canary", 10.0),
        ],
        true,
    );
    store.ingest_process("api-old", now, [requests("500", "stable", 99.0)], false);
    assert_eq!(
        store.window_events(0, MINUTE, now, TrackScope::AllTracks),
        Reading::Value(WindowEvents {
            errors: 10.0,
            total: 40.0
        })
    );
}

#[test]
fn downsampled_tiers_keep_increases_exact_between_bucket_boundaries() {
    let layout = TierLayout::for_scrape_interval(15 * SECOND, 30 * DAY);
    let minute_start = 28_333_334 * MINUTE; // a minute boundary
    let mut history = SeriesHistory::new(minute_start + 7 * SECOND, 0.0, false, &layout);
    let mut exact = vec![(minute_start + 7 * SECOND, 0.0)];
    let mut exposed = 0.0;
    let mut cumulative = 0.0;
    let mut at = minute_start + 7 * SECOND;
    // Two days of irregular increments (and one reset), scraped every 15 s.
    for step in 1..(2 * DAY / (15 * SECOND)) {
        at += 15 * SECOND;
        let increment = (step % 7) as f64 * 1.5;
        if step == 5_000 {
            exposed = increment;
        } else {
            exposed += increment;
        }
        cumulative += increment;
        assert!(history.record(at, exposed));
        exact.push((at, cumulative));
    }
    let exact_at = |t: UnixMillis| {
        exact
            .iter()
            .take_while(|(sample_at, _)| *sample_at <= t)
            .last()
            .map_or(0.0, |(_, value)| *value)
    };
    // Minute tier (older than the 1h raw ring), then ten-minute tier (older than 1d).
    for (from, to) in [
        (at - 20 * HOUR + MINUTE, at - 2 * HOUR),
        (minute_start + 30 * MINUTE, minute_start + 40 * HOUR),
        (minute_start + 20 * MINUTE, at),
    ] {
        let from = from - from % MINUTE;
        let to_boundary = to - to % MINUTE;
        let (from, to) = if from < at - DAY {
            (
                from - from % (10 * MINUTE),
                to_boundary - to_boundary % (10 * MINUTE),
            )
        } else {
            (from, to_boundary)
        };
        let stored = history.cumulative_at(to) - history.cumulative_at(from);
        let expected = exact_at(to) - exact_at(from);
        assert_eq!(stored, expected, "from {from} to {to}");
    }
}

#[test]
fn the_series_cap_refuses_new_series_until_old_ones_fall_silent() {
    let mut engine = ratio_engine(StoreConfig {
        scrape_interval_ms: 15 * SECOND,
        max_series: 3,
    });
    let store = engine.store_mut();
    let statuses = ["200", "201", "500", "502", "503"];
    let report = store.ingest(
        "api-0",
        START,
        statuses.map(|status| requests(status, "stable", 1.0)),
    );
    assert_eq!((report.new_series, report.refused_series), (3, 2));
    assert_eq!(store.series_count(), 3);
    assert_eq!(store.refused_series(), 2);
    // Once the kept series are silent for longer than the period, they make room.
    let later = START + 31 * DAY;
    let report = store.ingest("api-1", later, [requests("504", "stable", 1.0)]);
    assert_eq!((report.new_series, report.refused_series), (1, 0));
    assert_eq!(store.series_count(), 1);
}

#[test]
fn series_the_spec_does_not_read_are_not_kept() {
    let mut engine = ratio_engine(StoreConfig::default());
    let report = engine.ingest_exposition(
        "api-0",
        START,
        "opsbox_build_info{version=\"1\"} 1\nhttp_requests_total{route=\"/metrics\",status=\"200\"} 9\n",
    );
    assert_eq!(report.new_series, 0);
    assert_eq!(engine.store().series_count(), 0);
}

#[test]
fn a_late_scrape_of_an_instance_is_ignored() {
    let mut engine = ratio_engine(StoreConfig::default());
    let store = engine.store_mut();
    store.ingest("api-0", START, [requests("200", "stable", 1.0)]);
    let report = store.ingest("api-0", START, [requests("200", "stable", 9.0)]);
    assert!(report.stale_scrape);
}

#[test]
fn the_budget_runs_out_at_the_current_burn() {
    // Ten-minute scrapes keep 30 days of history quick to build.
    let mut engine = ratio_engine(StoreConfig {
        scrape_interval_ms: 10 * MINUTE,
        max_series: 10,
    });
    let now = START + 30 * DAY;
    Traffic::new().run(&mut engine, (START, now, 10 * MINUTE), |_| 0.0005);
    let status = &engine.evaluate(now, TrackScope::AllTracks)[0];
    let remaining = *status
        .error_budget_remaining
        .value()
        .expect("period covered");
    assert!((remaining - 0.5).abs() < 1e-9, "{remaining}");
    let sli = *status.sli.value().expect("period covered");
    assert!((sli - 0.9995).abs() < 1e-12, "{sli}");
    // Half the budget left at 0.5x: another 30 days.
    let Reading::Value(BudgetExhaustion::In(left)) = status.budget_exhaustion else {
        panic!("{:?}", status.budget_exhaustion);
    };
    assert!(
        (left.as_secs_f64() - (30 * DAY / SECOND) as f64).abs() < 1.0,
        "{left:?}"
    );
    assert_eq!(status.alert, AlertState::None);
}

/// The exposition as the API's `/metrics` emits it (prometheus crate text
/// encoder, `track` as a constant label, route templates with braces).
fn api_exposition(ok: u64, failed: u64, fast: u64, slow: u64) -> String {
    let all = fast + slow;
    format!(
        r#"# HELP http_request_duration_seconds HTTP request latency.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{{method="GET",route="/tasks/{{id}}",track="stable",le="0.1"}} {fast}
http_request_duration_seconds_bucket{{method="GET",route="/tasks/{{id}}",track="stable",le="0.25"}} {fast}
http_request_duration_seconds_bucket{{method="GET",route="/tasks/{{id}}",track="stable",le="0.3"}} {fast}
http_request_duration_seconds_bucket{{method="GET",route="/tasks/{{id}}",track="stable",le="0.5"}} {all}
http_request_duration_seconds_bucket{{method="GET",route="/tasks/{{id}}",track="stable",le="+Inf"}} {all}
http_request_duration_seconds_sum{{method="GET",route="/tasks/{{id}}",track="stable"}} 12.5
http_request_duration_seconds_count{{method="GET",route="/tasks/{{id}}",track="stable"}} {all}
# HELP http_requests_total HTTP requests by matched route template and status.
# TYPE http_requests_total counter
http_requests_total{{method="GET",route="/tasks",status="200",track="stable"}} {ok}
http_requests_total{{method="GET",route="/tasks/{{id}}",status="503",track="stable"}} {failed}
http_requests_total{{method="GET",route="/metrics",status="200",track="stable"}} 40
# HELP opsbox_build_info Build of this process.
# TYPE opsbox_build_info gauge
opsbox_build_info{{track="stable",version="0.1.0"}} 1
"#
    )
}

#[test]
fn real_exposition_text_feeds_ratio_and_latency_slos() {
    let mut engine = SloEngine::new(committed_spec(), StoreConfig::default()).expect("compiles");
    let first = engine.ingest_exposition("127.0.0.1:8081", START, &api_exposition(5, 0, 3, 0));
    // 2 task request series + the 0.3 s bucket + the count: nothing else is kept.
    assert_eq!(first.new_series, 4, "{first:?}");
    let now = START + 5 * MINUTE;
    let second = engine.ingest_exposition("127.0.0.1:8081", now, &api_exposition(995, 5, 983, 20));
    assert_eq!((second.new_series, second.recorded), (0, 4), "{second:?}");
    let statuses = engine.evaluate(now, TrackScope::Track("stable"));
    let availability = &statuses[0];
    let latency = &statuses[1];
    assert_eq!(ratio(availability, minutes(5)), Reading::Value(5.0 / 995.0));
    assert_eq!(ratio(latency, minutes(5)), Reading::Value(20.0 / 1_000.0));
    // Worker SLOs saw no scrape of theirs: no traffic, no invented ratio.
    assert_eq!(ratio(&statuses[2], minutes(5)), Reading::NoTraffic);
    assert!(engine.store().memory_bytes() > 0);
}
