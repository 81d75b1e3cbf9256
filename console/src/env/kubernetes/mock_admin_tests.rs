//! The mocked tier of the admin calls: the token read from the Secret the API's pods
//! get it from, sent in its own header (the API server's proxy drops `Authorization`),
//! to the stable Service's proxy path; the proxy's refusals become "cannot reach".

use http::StatusCode;
use serde_json::{json, Value};

use super::mock_tests::{environment, get, list, rollout, verify, Expect};
use crate::env::{Environment, NotRunning};
use crate::model::RequeueRequest;

const SERVICE_PROXY: &str = "/api/v1/namespaces/opsbox/services/http:opsbox-api:http/proxy";

/// A Rollout whose API container reads its token from `opsbox-secrets`.
fn with_token() -> Value {
    rollout(
        json!({"stableRS": "a", "currentPodHash": "a", "phase": "Healthy"}),
        json!({
            "strategy": {"canary": {"stableService": "opsbox-api", "canaryService": "opsbox-api-canary"}},
            "template": {"spec": {"containers": [{"name": "api", "image": "ghcr.io/opsbox/opsbox-api:v1",
                "env": [{"name": "OPSBOX_ADMIN_TOKEN", "valueFrom": {"secretKeyRef":
                    {"name": "opsbox-secrets", "key": "OPSBOX_ADMIN_TOKEN", "optional": true}}}]}]}}
        }),
    )
}

fn secret(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "opsbox-secrets", "namespace": "opsbox"}, "data": data})
}

/// The Rollout, then the Secret ("s3cret").
pub(super) fn route() -> Vec<Expect> {
    vec![
        get(
            "/apis/argoproj.io/v1alpha1/namespaces/opsbox/rollouts?",
            list("Rollout", vec![with_token()]),
        ),
        get(
            "/api/v1/namespaces/opsbox/secrets/opsbox-secrets",
            secret(json!({"OPSBOX_ADMIN_TOKEN": "czNjcmV0"})),
        ),
    ]
}

fn proxied(method: &'static str, path: &str, body: Option<Value>, answer: Value) -> Expect {
    Expect {
        method,
        path: format!("{SERVICE_PROXY}{path}"),
        content_type: body.as_ref().map(|_| "application/json"),
        body,
        status: StatusCode::OK,
        answer,
        header: Some(("x-opsbox-admin-token", "s3cret")),
    }
}

#[tokio::test]
async fn the_queue_is_read_through_the_service_proxy_with_the_token_header() {
    let (env, handle, _dir) = environment();
    let mut script = route();
    script.push(proxied(
        "GET",
        "/admin/queue",
        None,
        json!({"depth": {"ready": 4, "delayed": 1, "processing": 2, "dead": 3},
               "oldest_ready_age_secs": 1.5}),
    ));
    let (overview, ()) = tokio::join!(env.queue_overview(), verify(handle, script));
    let overview = overview.expect("the queue");
    assert_eq!(overview.depth.ready, 4);
    assert_eq!(overview.depth.dead, 3);
    assert_eq!(overview.oldest_ready_age_secs, Some(1.5));
}

#[tokio::test]
async fn requeue_posts_the_request_through_the_service_proxy() {
    let (env, handle, _dir) = environment();
    let mut script = route();
    script.push(proxied(
        "POST",
        "/admin/dead-letters/requeue",
        Some(json!({"all": true})),
        json!({"requeued": ["t1", "t2"], "discarded": [], "remaining": 0}),
    ));
    let request = RequeueRequest::all();
    let (report, ()) = tokio::join!(env.requeue(&request), verify(handle, script));
    let report = report.expect("requeued");
    assert_eq!(report.requeued, ["t1", "t2"]);
    assert_eq!(report.remaining, 0);
}

#[tokio::test]
async fn no_token_in_the_secret_says_the_admin_endpoints_are_off() {
    let (env, handle, _dir) = environment();
    let script = vec![
        get(
            "/apis/argoproj.io/v1alpha1/namespaces/opsbox/rollouts?",
            list("Rollout", vec![with_token()]),
        ),
        get(
            "/api/v1/namespaces/opsbox/secrets/opsbox-secrets",
            secret(json!({"DATABASE_URL": "cG9zdGdyZXM="})),
        ),
    ];
    let (result, ()) = tokio::join!(env.dead_letters(10), verify(handle, script));
    let message = format!("{:#}", result.expect_err("no token"));
    assert!(
        message.contains("admin endpoints are off")
            && message.contains("has no OPSBOX_ADMIN_TOKEN"),
        "{message}"
    );
}

#[tokio::test]
async fn a_service_with_no_endpoints_is_reported_as_unreachable() {
    let (env, handle, _dir) = environment();
    let mut script = route();
    let mut refused = proxied(
        "GET",
        "/admin/dead-letters?limit=10",
        None,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 503,
               "reason": "ServiceUnavailable",
               "message": "no endpoints available for service \"opsbox-api\""}),
    );
    refused.status = StatusCode::SERVICE_UNAVAILABLE;
    script.push(refused);
    let (result, ()) = tokio::join!(env.dead_letters(10), verify(handle, script));
    let error = result.expect_err("no endpoints");
    let message = format!("{error:#}");
    assert!(error.downcast_ref::<NotRunning>().is_some(), "{message}");
    assert!(message.contains("cannot reach an API pod"), "{message}");
}

#[tokio::test]
async fn the_task_census_asks_the_api_through_the_service_proxy() {
    let (env, handle, _dir) = environment();
    let mut script = route();
    script.push(proxied(
        "GET",
        "/admin/tasks/census?since=2026-12-07T06:00:00.000Z",
        None,
        json!({"since": "2026-12-07T06:00:00Z", "pending": 1, "queued": 2, "running": 3, "done": 4, "failed": 0}),
    ));
    let since = "2026-12-07T06:00:00Z".parse().expect("a time");
    let (census, ()) = tokio::join!(env.task_census(since), verify(handle, script));
    let census = census.expect("a census");
    assert_eq!((census.in_flight(), census.terminal()), (5, 4));
}
