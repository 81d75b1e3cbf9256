//! The mocked tier (kube-rs's `ApiServerVerifier` pattern with `tower-test`): each verb
//! sends exactly the method, path (with `/status` where Argo wants it), patch type and
//! body of `kubectl argo rollouts`; API errors become messages that say what to do.

use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use kube::client::Body;
use serde_json::{json, Value};
use tower_test::mock::{self, Handle};

use super::KubernetesEnvironment;
use crate::env::{Environment, Records};

const NS: &str = "opsbox";
pub(super) const ROLLOUTS: &str = "/apis/argoproj.io/v1alpha1/namespaces/opsbox/rollouts";

/// One request the verb must send, and the answer to give.
pub(super) struct Expect {
    pub(super) method: &'static str,
    pub(super) path: String,
    pub(super) content_type: Option<&'static str>,
    pub(super) body: Option<Value>,
    pub(super) status: StatusCode,
    pub(super) answer: Value,
    /// A header the request must carry, with its value.
    pub(super) header: Option<(&'static str, &'static str)>,
}

pub(super) fn get(path: impl Into<String>, answer: Value) -> Expect {
    Expect {
        method: "GET",
        path: path.into(),
        content_type: None,
        body: None,
        status: StatusCode::OK,
        answer,
        header: None,
    }
}

pub(super) fn merge_patch(path: impl Into<String>, body: Value, answer: Value) -> Expect {
    Expect {
        method: "PATCH",
        path: path.into(),
        content_type: Some("application/merge-patch+json"),
        body: Some(body),
        status: StatusCode::OK,
        answer,
        header: None,
    }
}

pub(super) fn environment() -> (
    KubernetesEnvironment,
    Handle<Request<Body>, Response<Body>>,
    tempfile::TempDir,
) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, NS);
    let dir = tempfile::tempdir().expect("tempdir");
    let records = Records::new(
        dir.path().to_path_buf(),
        dir.path().join("audit.jsonl"),
        dir.path().join("drills"),
    );
    (
        KubernetesEnvironment::with_client(client, NS, records),
        handle,
        dir,
    )
}

/// What the API server answers: a status and a JSON body.
pub(super) fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(body).expect("json")))
        .expect("response")
}

/// Answers the requests in order, checking each; returns what it saw.
pub(super) async fn verify(mut handle: Handle<Request<Body>, Response<Body>>, script: Vec<Expect>) {
    for (index, expect) in script.into_iter().enumerate() {
        let (request, send) = handle.next_request().await.unwrap_or_else(|| {
            panic!(
                "request {index} ({} {}) never came",
                expect.method, expect.path
            )
        });
        let path = request
            .uri()
            .path_and_query()
            .map(ToString::to_string)
            .unwrap_or_default();
        assert_eq!(
            request.method().as_str(),
            expect.method,
            "request {index}: {path}"
        );
        assert!(
            path.starts_with(&expect.path),
            "request {index}: {path} is not {}",
            expect.path
        );
        if let Some((name, value)) = expect.header {
            assert_eq!(
                request.headers().get(name).and_then(|v| v.to_str().ok()),
                Some(value),
                "request {index}: {path} carries {name}"
            );
        }
        if let Some(content_type) = expect.content_type {
            assert_eq!(
                request
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok()),
                Some(content_type),
                "request {index}: {path}"
            );
        }
        let bytes = request
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        if let Some(body) = expect.body {
            let sent: Value = serde_json::from_slice(&bytes).expect("a JSON body");
            assert_eq!(sent, body, "request {index}: {path}");
        }
        send.send_response(json_response(expect.status, &expect.answer));
    }
}

pub(super) fn rollout(status: Value, spec_extra: Value) -> Value {
    let mut spec = json!({
        "replicas": 2,
        "strategy": {"canary": {"steps": [{"setWeight": 10}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]}},
        "template": {"spec": {"containers": [{"name": "api", "image": "ghcr.io/opsbox/opsbox-api:v1"}]}}
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), spec_extra.as_object()) {
        spec.extend(extra.clone());
    }
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "opsbox-api", "namespace": NS, "uid": "u1", "generation": 3,
                     "labels": {"app.kubernetes.io/name": "opsbox", "app.kubernetes.io/component": "api"}},
        "spec": spec,
        "status": status,
    })
}

pub(super) fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": format!("{kind}List"), "metadata": {"resourceVersion": "1"}, "items": items})
}

/// What `current()` reads after a verb: the Rollout, its ReplicaSets, the AnalysisRuns.
pub(super) fn reread(rollout: Value) -> Vec<Expect> {
    vec![
        get(ROLLOUTS, list("Rollout", vec![rollout])),
        get(
            "/apis/apps/v1/namespaces/opsbox/replicasets?",
            list("ReplicaSet", vec![]),
        ),
        get(
            "/apis/argoproj.io/v1alpha1/namespaces/opsbox/analysisruns",
            list("AnalysisRun", vec![]),
        ),
    ]
}

pub(super) fn paused() -> Value {
    rollout(
        json!({"currentStepIndex": 1, "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-12-07T00:00:00Z"}],
               "controllerPause": true, "currentPodHash": "b", "stableRS": "a", "observedGeneration": "3",
               "phase": "Paused", "message": "CanaryPauseStep"}),
        json!({}),
    )
}

#[tokio::test]
async fn promote_patches_status_then_spec_as_the_plugin_does() {
    let (env, handle, _dir) = environment();
    let ro = rollout(
        json!({"currentStepIndex": 1, "pauseConditions": [{"reason": "CanaryPauseStep"}],
               "controllerPause": true, "currentPodHash": "b", "stableRS": "a"}),
        json!({"paused": true}),
    );
    let mut script = vec![
        get(ROLLOUTS, list("Rollout", vec![ro.clone()])),
        merge_patch(
            format!("{ROLLOUTS}/opsbox-api/status?"),
            json!({"status": {"pauseConditions": null}}),
            ro.clone(),
        ),
        merge_patch(
            format!("{ROLLOUTS}/opsbox-api?"),
            json!({"spec": {"paused": false}}),
            ro.clone(),
        ),
    ];
    script.extend(reread(ro));
    let (result, ()) = tokio::join!(env.promote(false), verify(handle, script));
    let status = result.expect("promoted");
    assert_eq!(status.current_step_index, Some(1));
}

#[tokio::test]
async fn promote_full_abort_and_retry_patch_the_status_subresource() {
    for (verb, body) in [
        ("full", json!({"status": {"promoteFull": true}})),
        ("abort", json!({"status": {"abort": true}})),
        ("retry", json!({"status": {"abort": false}})),
    ] {
        let (env, handle, _dir) = environment();
        let ro = paused();
        let mut script = vec![
            get(ROLLOUTS, list("Rollout", vec![ro.clone()])),
            merge_patch(format!("{ROLLOUTS}/opsbox-api/status?"), body, ro.clone()),
        ];
        script.extend(reread(ro));
        let run = async {
            match verb {
                "full" => env.promote(true).await,
                "abort" => env.abort().await,
                _ => env.retry().await,
            }
        };
        let (result, ()) = tokio::join!(run, verify(handle, script));
        result.unwrap_or_else(|error| panic!("{verb}: {error:#}"));
    }
}

#[tokio::test]
async fn a_new_revision_is_a_json_patch_of_the_api_image() {
    let (env, handle, _dir) = environment();
    let ro = paused();
    let mut script = vec![
        get(ROLLOUTS, list("Rollout", vec![ro.clone()])),
        Expect {
            method: "PATCH",
            path: format!("{ROLLOUTS}/opsbox-api?"),
            content_type: Some("application/json-patch+json"),
            body: Some(json!([
                {"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "api"},
                {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "ghcr.io/opsbox/opsbox-api:v2"}
            ])),
            status: StatusCode::OK,
            answer: ro.clone(),
            header: None,
        },
    ];
    script.extend(reread(ro));
    let overrides = std::collections::BTreeMap::new();
    let (result, ()) = tokio::join!(env.start_rollout("v2", &overrides), verify(handle, script));
    result.expect("started");
}

fn status_error(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": message})
}

#[tokio::test]
async fn api_errors_become_messages_that_say_what_happened() {
    let cases = [
        (
            StatusCode::FORBIDDEN,
            "Forbidden",
            r#"rollouts.argoproj.io "opsbox-api" is forbidden: User "viewer" cannot patch resource "rollouts/status" in API group "argoproj.io" in the namespace "opsbox""#,
            "refused by RBAC (403)",
        ),
        (
            StatusCode::NOT_FOUND,
            "NotFound",
            r#"rollouts.argoproj.io "opsbox-api" not found"#,
            "not found (404)",
        ),
        (
            StatusCode::CONFLICT,
            "Conflict",
            "the object has been modified",
            "conflict (409)",
        ),
        (
            StatusCode::GONE,
            "Expired",
            "too old resource version",
            "gone (410)",
        ),
    ];
    for (status, reason, message, expected) in cases {
        let (env, handle, _dir) = environment();
        let ro = paused();
        let script = vec![
            get(ROLLOUTS, list("Rollout", vec![ro])),
            Expect {
                method: "PATCH",
                path: format!("{ROLLOUTS}/opsbox-api/status?"),
                content_type: Some("application/merge-patch+json"),
                body: Some(json!({"status": {"abort": true}})),
                status,
                answer: status_error(status.as_u16(), reason, message),
                header: None,
            },
        ];
        let (result, ()) = tokio::join!(env.abort(), verify(handle, script));
        let error = format!("{:#}", result.expect_err("refused"));
        assert!(error.contains(expected), "{error}");
        assert!(error.contains(message), "{error}");
    }
}

#[tokio::test]
async fn a_silent_api_server_is_reported_within_the_deadline() {
    let (env, mut handle, _dir) = environment();
    tokio::time::pause();
    let call = tokio::spawn(async move { env.rollout().await });
    // Take the request and never answer it.
    let pending = handle.next_request().await.expect("a request");
    tokio::time::advance(super::errors::CALL_DEADLINE + std::time::Duration::from_secs(1)).await;
    let error = call.await.expect("joins").expect_err("times out");
    assert!(
        error.downcast_ref::<crate::env::NotRunning>().is_some(),
        "{error:#}"
    );
    assert!(format!("{error:#}").contains("did not answer"), "{error:#}");
    drop(pending);
}

#[tokio::test]
async fn an_empty_namespace_says_no_release_is_there() {
    let (env, handle, _dir) = environment();
    let script = vec![
        get(ROLLOUTS, list("Rollout", vec![])),
        get(
            "/apis/apps/v1/namespaces/opsbox/deployments?",
            list("Deployment", vec![]),
        ),
    ];
    let (result, ()) = tokio::join!(env.rollout(), verify(handle, script));
    let error = result.expect_err("nothing there");
    let message = format!("{error:#}");
    assert!(
        message.contains("no OpsBox release in namespace opsbox"),
        "{message}"
    );
    assert!(error.downcast_ref::<crate::env::NotRunning>().is_some());
}

#[tokio::test]
async fn kill_deletes_the_pod_with_no_grace() {
    let (env, handle, _dir) = environment();
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "opsbox-worker-1", "namespace": NS,
                     "labels": {"app.kubernetes.io/name": "opsbox", "app.kubernetes.io/component": "worker"}},
        "spec": {"containers": [{"name": "worker", "image": "w:v1"}]}});
    let script = vec![
        get(ROLLOUTS, list("Rollout", vec![paused()])),
        get(
            "/api/v1/namespaces/opsbox/pods?",
            list("Pod", vec![pod.clone()]),
        ),
        Expect {
            method: "DELETE",
            path: "/api/v1/namespaces/opsbox/pods/opsbox-worker-1?".to_owned(),
            content_type: None,
            body: Some(json!({"gracePeriodSeconds": 0})),
            status: StatusCode::OK,
            answer: pod,
            header: None,
        },
    ];
    let request = crate::chaos::KillRequest {
        instance: None,
        workload: Some("worker".into()),
        track: None,
    };
    let (result, ()) = tokio::join!(env.kill(&request), verify(handle, script));
    let killed = result.expect("killed");
    assert_eq!(killed.instance, "opsbox-worker-1");
    assert_eq!(killed.pid, None);
}

/// Answers `requests` RBAC questions in whatever order they come, as `user`, allowing
/// what `allowed` says of each request's resource attributes; returns what was asked
/// (`verb resource/subresource`).
pub(super) async fn answer_reviews(
    mut handle: Handle<Request<Body>, Response<Body>>,
    requests: usize,
    user: &str,
    allowed: impl Fn(&Value) -> bool,
) -> Vec<String> {
    let mut asked = Vec::new();
    for _ in 0..requests {
        let (request, send) = handle.next_request().await.expect("a review");
        let path = request.uri().path().to_owned();
        let bytes = request
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let mut review: Value = serde_json::from_slice(&bytes).expect("a JSON review");
        if path.ends_with("/selfsubjectreviews") {
            review["status"] = json!({"userInfo": {"username": user}});
        } else {
            assert!(path.ends_with("/selfsubjectaccessreviews"), "{path}");
            let attributes = &review["spec"]["resourceAttributes"];
            assert_eq!(attributes["namespace"], NS);
            asked.push(format!(
                "{} {}/{}",
                attributes["verb"].as_str().unwrap_or_default(),
                attributes["resource"].as_str().unwrap_or_default(),
                attributes["subresource"].as_str().unwrap_or_default()
            ));
            review["status"] = json!({"allowed": allowed(attributes)});
        }
        send.send_response(json_response(StatusCode::CREATED, &review));
    }
    asked
}

/// `viewer` may delete pods, not patch rollouts.
async fn rbac_for_viewer(handle: Handle<Request<Body>, Response<Body>>, requests: usize) {
    answer_reviews(handle, requests, "viewer", |attributes| {
        attributes["verb"] != "patch"
    })
    .await;
}

#[tokio::test]
async fn permissions_come_from_access_reviews_with_the_reason_and_are_cached() {
    use crate::env::Verb;
    let (env, handle, _dir) = environment();
    // One SelfSubjectReview, then one access review per verb a cluster offers.
    let reviews = 1 + Verb::ALL
        .iter()
        .filter(|verb| {
            super::access::needed(**verb, super::access::AdminPath::ServiceProxy).is_some()
        })
        .count();
    let (permissions, ()) = tokio::join!(env.permissions(), rbac_for_viewer(handle, reviews));
    assert_eq!(
        permissions.check(Verb::Promote),
        Err("user viewer may not patch rollouts/status in namespace opsbox")
    );
    assert_eq!(
        permissions.check(Verb::Undo),
        Err("user viewer may not patch rollouts in namespace opsbox")
    );
    assert_eq!(permissions.check(Verb::Kill), Ok(()));
    // RBAC would let viewer delete pods, but a drill has no traffic path into a cluster.
    assert!(permissions
        .check(Verb::RunDrill)
        .is_err_and(|reason| reason.contains("--api-url") && reason.contains("--env local")));
    assert!(permissions
        .check(Verb::BringUp)
        .is_err_and(|reason| reason.contains("helm")));
    // The mock is gone: a second look is the cached answer, not a failed request.
    assert_eq!(env.permissions().await, permissions);
}

#[tokio::test]
async fn a_drill_refuses_before_it_starts_without_a_request() {
    let (env, mut handle, _dir) = environment();
    let catalog = crate::drill::DrillCatalog::built_in().expect("built-in drills");
    let drill = catalog.get("worker-crash").expect("worker-crash");
    let environment = crate::env::AnyEnvironment::Kubernetes(env);
    let error = crate::drill::runner::run(
        drill,
        "built-in",
        &environment,
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .expect_err("no traffic path on a cluster");
    let message = format!("{error:#}");
    assert!(
        message.contains("drill worker-crash cannot run here") && message.contains("--api-url"),
        "{message}"
    );
    // Refused before it began: the API server was never asked anything.
    assert!(
        tokio::time::timeout(std::time::Duration::ZERO, handle.next_request())
            .await
            .is_err(),
        "a request was sent"
    );
}

#[tokio::test]
async fn a_pod_watch_past_its_cap_stops_and_says_why() {
    use k8s_openapi::api::core::v1::Pod;
    use tokio_util::sync::CancellationToken;

    use super::stores::{self, WatchHealth};

    let (service, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
    let pods: kube::Api<Pod> = kube::Api::namespaced(kube::Client::new(service, NS), NS);
    let health = WatchHealth::default();
    let stop = CancellationToken::new();
    let selector = super::workload::WORKLOAD_SELECTOR;
    let keep = stores::Keep {
        trim: |_| {},
        cap: Some(2),
    };
    let select = stores::Select::Labels(selector);
    let _store = stores::watch("pods", pods, (), select, keep, &health, &stop);

    let (request, send) = handle.next_request().await.expect("the first list");
    let query = request.uri().query().unwrap_or_default().to_owned();
    assert!(!query.contains("watch=true"), "a list comes first: {query}");
    assert!(query.contains("labelSelector="), "{query}");
    let pod = |n: usize| {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("opsbox-worker-{n}"), "namespace": NS,
                         "managedFields": [{"manager": "kwok"}]}})
    };
    let mut three = list("Pod", (0..3).map(pod).collect());
    three["metadata"] = json!({"resourceVersion": "7"});
    send.send_response(json_response(StatusCode::OK, &three));

    while health.error().is_none() {
        health.changed().await;
    }
    let error = health.error().unwrap_or_default();
    assert!(error.starts_with("pods: more than 2"), "{error}");
    // The watch ended instead of following: its client is gone, no watch request came.
    assert!(handle.next_request().await.is_none());
}
