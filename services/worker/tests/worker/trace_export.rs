//! End to end over OTLP: the API's request span and the worker's job span,
//! exported by two processes to a collector, belong to one trace.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use opsbox_common::model::TaskStatus;
use serde_json::Value;

use crate::helpers::{eventually, TestWorld};

/// A span as the collector received it.
#[derive(Debug, Clone)]
struct ExportedSpan {
    service: String,
    name: String,
    trace_id: String,
    parent_span_id: String,
    attributes: HashMap<String, String>,
}

type Received = Arc<Mutex<Vec<ExportedSpan>>>;

/// An OTLP/HTTP (JSON encoding) trace receiver, like a collector's.
async fn start_collector() -> (SocketAddr, Received) {
    let received: Received = Arc::default();
    let app = Router::new()
        .route("/v1/traces", post(receive))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, received)
}

async fn receive(State(received): State<Received>, Json(request): Json<Value>) -> Json<Value> {
    let mut spans = received.lock().expect("lock");
    for resource in request["resourceSpans"].as_array().into_iter().flatten() {
        let service = attribute(&resource["resource"]["attributes"], "service.name");
        for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
            for span in scope["spans"].as_array().into_iter().flatten() {
                let attributes = span["attributes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| Some((a["key"].as_str()?.to_owned(), scalar(&a["value"]))))
                    .collect();
                spans.push(ExportedSpan {
                    service: service.clone(),
                    name: span["name"].as_str().unwrap_or_default().to_owned(),
                    trace_id: span["traceId"].as_str().unwrap_or_default().to_owned(),
                    parent_span_id: span["parentSpanId"].as_str().unwrap_or_default().to_owned(),
                    attributes,
                });
            }
        }
    }
    Json(serde_json::json!({}))
}

fn attribute(attributes: &Value, key: &str) -> String {
    attributes
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["key"] == key)
        .map(|a| scalar(&a["value"]))
        .unwrap_or_default()
}

fn scalar(value: &Value) -> String {
    ["stringValue", "intValue", "boolValue", "doubleValue"]
        .iter()
        .find_map(|k| value.get(*k))
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string())
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_workers_span_joins_the_api_requests_trace_over_otlp() {
    let (collector, received) = start_collector().await;
    let endpoint = format!("http://{collector}");
    // The exporter of this process (the in-process API) reads the standard
    // variables; they are set before the pipeline is built, once.
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint);
    std::env::set_var("OTEL_BSP_SCHEDULE_DELAY", "100");
    let _telemetry =
        opsbox_common::telemetry::init("opsbox-api", "test", "stable").expect("telemetry");

    let world = TestWorld::start().await;
    let config = opsbox_api::config::Config {
        stack: opsbox_api::config::StackConfig {
            database_url: world.database_url.parse().expect("infallible"),
            redis_url: world.deps.redis_url().parse().expect("infallible"),
            queue_prefix: world.queue.keys().prefix().to_owned(),
            release: "test".to_owned(),
            track: opsbox_api::config::Track::Stable,
        },
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        db_max_connections: 4,
        shutdown_delay: Duration::ZERO,
        drain_timeout: Duration::from_secs(1),
        fault_error_rate: 0.0,
        fault_latency_ms: 0,
        admin_token: None,
        flags_file: None,
        flags_poll_interval: Duration::from_secs(5),
    };
    let api = opsbox_api::startup::Application::build(config)
        .await
        .expect("api");
    let base = format!("http://{}", api.local_addr());
    tokio::spawn(api.run_until_stopped(std::future::pending()));
    let _worker = world
        .worker()
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone())
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .spawn()
        .await;

    let http = reqwest::Client::new();
    let task: Value = http
        .post(format!("{base}/tasks"))
        .json(&serde_json::json!({"title": "traced", "payload": {"ms": 1}}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let id: uuid::Uuid = task["id"].as_str().expect("id").parse().expect("uuid");
    let run = http
        .post(format!("{base}/tasks/{id}/run"))
        .send()
        .await
        .expect("run");
    assert_eq!(run.status(), 202);
    world.until_status(id, TaskStatus::Done).await;

    let (request, job) = eventually("both spans at the collector", || async {
        let spans = received.lock().expect("lock").clone();
        let request = spans.iter().find(|s| {
            s.service == "opsbox-api"
                && s.name == "http_request"
                && s.attributes.get("route").map(String::as_str) == Some("/tasks/{id}/run")
        })?;
        let job = spans
            .iter()
            .find(|s| s.service == "opsbox-worker" && s.name == "job")?;
        Some((request.clone(), job.clone()))
    })
    .await;
    assert_eq!(request.trace_id.len(), 32, "{request:?}");
    assert_eq!(
        job.trace_id, request.trace_id,
        "the job continues the request's trace"
    );
    assert!(
        !job.parent_span_id.is_empty(),
        "the job span has a parent in the API: {job:?}"
    );
}
