//! Prometheus through the API server's service proxy, against a mocked API server
//! (`tower-test`): the same SLO read as a direct one, sent as GETs to the proxy path,
//! and the API server's own refusals told apart from Prometheus' answers.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::StatusCode;
use chrono::Utc;
use http::{Method, Request, Response};
use kube::client::Body;
use serde_json::json;
use tower_test::mock;

use super::tests::{answer_with_rules, committed_spec, vector, Answer};
use super::*;
use crate::model::slo::{AlertLevel, SloScope};

const PROXY: &str = "/api/v1/namespaces/monitoring/services/http:prometheus-operated:9090/proxy";

fn service() -> ServiceRef {
    "monitoring/prometheus-operated:9090"
        .parse()
        .expect("a valid service")
}

/// An API server that forwards every query to `answer`, checking that each is a GET of
/// the proxy path with the query and its time in the query string.
fn api_server(answer: impl Fn(&str) -> Answer + Send + 'static) -> kube::Client {
    let (mock, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
    tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            assert_eq!(request.method(), Method::GET, "{}", request.uri());
            assert_eq!(request.uri().path(), format!("{PROXY}/api/v1/query"));
            let params: HashMap<String, String> =
                form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
                    .into_owned()
                    .collect();
            assert!(
                params.contains_key("time"),
                "every query is pinned to one time"
            );
            let (status, body) = answer(params.get("query").map_or("", String::as_str));
            send.send_response(
                Response::builder()
                    .status(status)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.into_bytes()))
                    .expect("response"),
            );
        }
    });
    kube::Client::new(mock, "opsbox")
}

fn client(api_server: kube::Client) -> PrometheusClient {
    PrometheusClient::through_service_proxy(api_server, &service(), Duration::from_secs(2))
}

/// What the API server says when it does not forward.
fn refusal(code: u16, message: &str) -> Answer {
    let status = StatusCode::from_u16(code).expect("a status");
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "code": code});
    (status, body.to_string())
}

#[tokio::test]
async fn slos_are_read_through_the_service_proxy_as_they_are_read_directly() {
    let spec = committed_spec();
    let names: Vec<String> = spec.slos.iter().map(|slo| slo.name.clone()).collect();
    let prometheus = client(api_server(move |query| answer_with_rules(query, &names)));
    let read = read_slos(&prometheus, &spec, SloScope::All, Utc::now())
        .await
        .expect("read through the proxy");
    assert_eq!(read.coverage_secs, Some(120));
    assert_eq!(read.slos.len(), spec.slos.len());
    assert_eq!(read.slos[0].alert, AlertLevel::Page);
    assert_eq!(
        prometheus.base_url(),
        "service monitoring/prometheus-operated:9090 (through the API server's proxy)"
    );
}

#[tokio::test]
async fn the_api_servers_refusals_say_why_nothing_was_forwarded() {
    for (code, message, expected) in [
        (
            403,
            "services \"prometheus-operated:9090\" is forbidden: User \"viewer\" cannot get resource \"services/proxy\"",
            "refused by RBAC (403)",
        ),
        (404, "services \"prometheus-operated\" not found", "not found (404)"),
        (
            503,
            "no endpoints available for service \"prometheus-operated:9090\"",
            "no Prometheus behind the Service is ready (503)",
        ),
    ] {
        let prometheus = client(api_server(move |_| refusal(code, message)));
        let error = prometheus.query("up", Some(Utc::now())).await.expect_err("refused");
        let text = error.to_string();
        assert!(
            matches!(error, PrometheusError::NotForwarded { .. }),
            "{code}: {text}"
        );
        assert!(text.contains(expected) && text.contains(message), "{text}");
        assert!(
            text.contains("service monitoring/prometheus-operated:9090"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn prometheus_own_errors_come_through_the_proxy_as_its_own() {
    let prometheus = client(api_server(|query| match query {
        "up" => vector(&[(json!({"__name__": "up", "job": "api"}), "1")]),
        _ => (
            StatusCode::BAD_REQUEST,
            json!({"status": "error", "errorType": "bad_data", "error": "parse error"}).to_string(),
        ),
    }));
    let samples = prometheus
        .query("up", Some(Utc::now()))
        .await
        .expect("answered");
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].labels["job"], "api");
    let error = prometheus
        .query("up{", Some(Utc::now()))
        .await
        .expect_err("bad query");
    assert!(
        matches!(&error, PrometheusError::Status { status: 400, message, .. } if message == "bad_data: parse error"),
        "{error}"
    );
}

#[tokio::test]
async fn an_api_server_that_does_not_answer_is_a_timeout() {
    // The handle is kept and never answers: the request hangs until the client's deadline.
    let (mock, _handle) = mock::pair::<Request<Body>, Response<Body>>();
    let prometheus = PrometheusClient::through_service_proxy(
        kube::Client::new(mock, "opsbox"),
        &service(),
        Duration::from_millis(200),
    );
    let error = prometheus
        .query("up", Some(Utc::now()))
        .await
        .expect_err("no answer");
    assert!(matches!(error, PrometheusError::Timeout { .. }), "{error}");
}
