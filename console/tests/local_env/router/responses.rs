//! The router's own answers: 503 with no upstream, 413 for large bodies, its metrics.

use opsbox::env::local::router::MAX_BODY_BYTES;
use opsbox_common::config::Track;
use serde_json::Value;

use super::harness::{client, refused_target, send, start_router, url, Upstream};

async fn error_code(response: reqwest::Response) -> String {
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.expect("JSON body");
    assert!(body["error"]["message"].is_string(), "{body}");
    body["error"]["code"]
        .as_str()
        .expect("error code")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_instance_up_answers_503_no_upstream() {
    let router = start_router().await;

    let empty = client()
        .get(url(&router, "/tasks"))
        .send()
        .await
        .expect("answered");
    assert_eq!(empty.status(), 503);
    assert_eq!(error_code(empty).await, "no_upstream");

    router
        .control()
        .set_upstreams(Track::Stable, vec![refused_target("api-1").await])
        .expect("valid");
    let refused = client()
        .get(url(&router, "/tasks"))
        .send()
        .await
        .expect("answered");
    assert_eq!(refused.status(), 503);
    assert_eq!(error_code(refused).await, "no_upstream");
    assert_eq!(
        router.control().metrics().traffic().unrouted.server_error,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_64_kib_are_refused_with_413() {
    let stable = Upstream::start("api-1").await;
    let router = start_router().await;
    router
        .control()
        .set_upstreams(Track::Stable, vec![stable.target()])
        .expect("valid");

    let response = client()
        .post(url(&router, "/tasks"))
        .body(vec![b'x'; MAX_BODY_BYTES + 1])
        .send()
        .await
        .expect("answered");

    assert_eq!(response.status(), 413);
    assert_eq!(error_code(response).await, "payload_too_large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_track_and_status_class() {
    let stable = Upstream::start("api-1").await;
    let router = start_router().await;
    router
        .control()
        .set_upstreams(Track::Stable, vec![stable.target()])
        .expect("valid");
    send(&router, 7, 1).await;

    let text = client()
        .get(format!("http://{}/metrics", router.metrics_addr()))
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("metrics text");

    assert!(
        text.contains(r#"opsbox_router_requests_total{code="2xx",track="stable"} 7"#),
        "{text}"
    );
    assert!(
        text.contains(r#"opsbox_router_upstreams{track="stable"} 1"#),
        "{text}"
    );
    assert!(text.contains("opsbox_router_canary_weight 0"), "{text}");
}
