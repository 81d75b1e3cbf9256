//! The embedded SLO engine: evaluation of 20 SLOs x 8 windows, and ingest and memory of 500 series over 3 days.
//!
//! ```text
//! cargo bench -p opsbox --bench slo_engine
//! ```
//!
//! The store is filled with 500 series (20 instances x 5 routes x {200, 500,
//! 503, the 0.3 s bucket, the count}) scraped every 15 s for 3 days, straight
//! through `SampleStore::ingest` (parsed samples), timed once; its memory is
//! computed from its structures' sizes and capacities. Criterion then times a
//! full evaluation and one instance's scrape parsed from exposition text.
//! Without `--bench` (as `cargo test --all-targets` runs it) the history is
//! 10 minutes, to check the wiring only.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use opsbox::slo::engine::{CounterSample, SloEngine, StoreConfig, TrackScope, UnixMillis};
use opsbox::slo::SloSpec;

const SCRAPE_MS: u64 = 15_000;
const INSTANCES: usize = 20;
const ROUTES: [&str; 5] = [
    "/tasks",
    "/tasks/{id}",
    "/tasks/{id}/run",
    "/tasks/{id}/cancel",
    "/tasks/search",
];
const START: UnixMillis = 1_700_000_000_000;

/// 20 SLOs, half ratio and half latency, all over the same series, so every
/// SLO sums real data in each of its 8 windows.
fn spec_of_twenty() -> SloSpec {
    let mut yaml = String::from("version: 1\ndashboard: /d/opsbox-slos\nslos:\n");
    for index in 0..10 {
        yaml.push_str(&format!(
            r#"  - name: availability-{index}
    service: api
    description: Task requests without a server error
    objective: 99.9
    runbook: docs/runbooks/slo-api-availability.md
    indicator:
      ratio:
        errors:
          metric: http_requests_total
          matchers:
            - {{ label: route, op: "=~", value: "/tasks.*" }}
            - {{ label: status, op: "=~", value: "5.." }}
        total:
          metric: http_requests_total
          matchers:
            - {{ label: route, op: "=~", value: "/tasks.*" }}
        examples:
          good: {{ method: GET, route: /tasks, status: "200" }}
          error: {{ method: GET, route: /tasks, status: "503" }}
  - name: latency-{index}
    service: api
    description: Task requests within 300 ms
    objective: 99
    runbook: docs/runbooks/slo-api-latency.md
    indicator:
      latency:
        histogram: http_request_duration_seconds
        matchers:
          - {{ label: route, op: "=~", value: "/tasks.*" }}
        threshold_seconds: 0.3
        buckets: [0.1, 0.3, 1]
        example: {{ method: GET, route: /tasks }}
"#
        ));
    }
    match SloSpec::from_yaml(&yaml) {
        Ok(spec) => spec,
        Err(err) => panic!("benchmark spec: {err}"),
    }
}

fn labels(route: &str, status: Option<&str>) -> Vec<(String, String)> {
    let mut labels = vec![
        ("method".to_owned(), "GET".to_owned()),
        ("route".to_owned(), route.to_owned()),
        ("track".to_owned(), "stable".to_owned()),
    ];
    if let Some(status) = status {
        labels.push(("status".to_owned(), status.to_owned()));
    }
    labels
}

/// The 25 series of one instance after `scrape` scrapes of 100 requests each.
fn instance_samples(scrape: u64) -> Vec<CounterSample> {
    let requests = scrape as f64 * 100.0;
    let mut samples = Vec::with_capacity(ROUTES.len() * 5);
    for route in ROUTES {
        for (status, share) in [("200", 0.995), ("500", 0.003), ("503", 0.002)] {
            samples.push(CounterSample::new(
                "http_requests_total",
                labels(route, Some(status)),
                None,
                requests * share,
            ));
        }
        samples.push(CounterSample::new(
            "http_request_duration_seconds_bucket",
            labels(route, None),
            Some(0.3),
            requests * 0.99,
        ));
        samples.push(CounterSample::new(
            "http_request_duration_seconds_count",
            labels(route, None),
            None,
            requests,
        ));
    }
    samples
}

fn exposition(scrape: u64) -> String {
    let mut text = String::new();
    for sample in instance_samples(scrape) {
        let mut rendered: Vec<String> = sample
            .labels
            .iter()
            .map(|(name, value)| format!("{name}=\"{value}\""))
            .collect();
        if let Some(le) = sample.le {
            rendered.push(format!("le=\"{le}\""));
        }
        text.push_str(&format!(
            "{}{{{}}} {}\n",
            sample.metric,
            rendered.join(","),
            sample.value
        ));
    }
    text
}

fn filled_engine(history: Duration) -> (SloEngine, UnixMillis, Duration) {
    let config = StoreConfig {
        scrape_interval_ms: SCRAPE_MS,
        max_series: 1_000,
    };
    let mut engine = match SloEngine::new(spec_of_twenty(), config) {
        Ok(engine) => engine,
        Err(err) => panic!("benchmark engine: {err}"),
    };
    let scrapes = history.as_millis() as u64 / SCRAPE_MS;
    let instances: Vec<String> = (0..INSTANCES).map(|i| format!("10.0.0.{i}:8080")).collect();
    let started = Instant::now();
    for scrape in 0..=scrapes {
        let at = START + scrape * SCRAPE_MS;
        for instance in &instances {
            engine
                .store_mut()
                .ingest(instance, at, instance_samples(scrape));
        }
    }
    (engine, START + scrapes * SCRAPE_MS, started.elapsed())
}

fn main() {
    let measure = std::env::args().any(|arg| arg == "--bench");
    let history = if measure {
        Duration::from_secs(3 * 86_400)
    } else {
        Duration::from_secs(600)
    };
    let (engine, now, ingest_time) = filled_engine(history);
    let store = engine.store();
    let series = store.series_count();
    let samples = series as u64 * (history.as_secs() / (SCRAPE_MS / 1_000) + 1);
    let bytes = store.memory_bytes();
    println!(
        "store: {series} series, {history:?} of 15 s samples ({samples} samples) ingested in {ingest_time:.2?} \
         ({:.0} ns/sample); memory {bytes} bytes = {:.1} MiB, {} bytes/series \
         (ring bound at 30 d: {} bytes/series)",
        ingest_time.as_nanos() as f64 / samples.max(1) as f64,
        bytes as f64 / (1024.0 * 1024.0),
        bytes / series.max(1),
        store.layout().max_ring_bytes(),
    );

    let mut criterion = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    criterion.bench_function("evaluate 20 SLOs x 8 windows, 500 series", |bench| {
        bench.iter(|| black_box(engine.evaluate(black_box(now), TrackScope::AllTracks)))
    });
    criterion.bench_function(
        "evaluate 20 SLOs x 8 windows, track=canary scope",
        |bench| {
            bench.iter(|| black_box(engine.evaluate(black_box(now), TrackScope::Track("canary"))))
        },
    );
    let mut engine = engine;
    let text = exposition(1);
    let mut at = now;
    criterion.bench_function(
        "parse and ingest one instance's /metrics (25 series)",
        |bench| {
            bench.iter(|| {
                at += SCRAPE_MS;
                black_box(engine.ingest_exposition("10.0.0.0:8080", at, black_box(&text)))
            })
        },
    );
    criterion.final_summary();
}
