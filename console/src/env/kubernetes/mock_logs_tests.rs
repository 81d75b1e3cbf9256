//! The mocked tier of pod logs: a container that restarts ends its stream while the pod
//! stays; the follower looks the pod up, reopens the stream from a little before the
//! last line it showed (`sinceSeconds`, no tail), and shows the new container's lines
//! without repeating the old ones.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use http::{Request, Response, StatusCode};
use kube::client::Body;
use serde_json::json;
use tower_test::mock::Handle;

use super::mock_tests::{environment, json_response, list};
use crate::env::Environment;
use crate::model::logs::LogRequest;

const POD: &str = "opsbox-worker-7c9d-abcde";

fn pod() -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": POD, "namespace": "opsbox", "labels": {
            "app.kubernetes.io/name": "opsbox", "app.kubernetes.io/component": "worker"}},
        "spec": {"containers": [{"name": "worker", "image": "ghcr.io/opsbox/opsbox-worker:v1"}]},
        "status": {"phase": "Running", "containerStatuses": [
            {"name": "worker", "ready": true, "restartCount": 1, "image": "", "imageID": ""}]}
    })
}

fn text(body: String) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "text/plain")
        .body(Body::from(body.into_bytes()))
        .expect("response")
}

/// Plays the API server: the pod list and reads whenever asked, the old container's
/// two lines on the first log stream, then (after a restart) the new container's
/// stream from `sinceSeconds`, repeating the last old line as the overlap would.
/// Returns the query of each log request.
async fn api_server(mut handle: Handle<Request<Body>, Response<Body>>) -> Vec<String> {
    let at = |seconds_ago: i64| {
        (Utc::now() - chrono::Duration::seconds(seconds_ago))
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    };
    let (first, second, third) = (at(5), at(4), at(1));
    let mut queries = Vec::new();
    while queries.len() < 2 {
        let (request, send) = handle.next_request().await.expect("a request");
        let path = request.uri().path().to_owned();
        let query = request.uri().query().unwrap_or_default().to_owned();
        let answer = if path.ends_with("/log") {
            queries.push(query);
            if queries.len() == 1 {
                text(format!("{first} old line one\n{second} old line two\n"))
            } else {
                text(format!(
                    "{second} old line two\n{third} new container's first line\n"
                ))
            }
        } else if path.ends_with(&format!("/pods/{POD}")) {
            json_response(StatusCode::OK, &pod())
        } else {
            assert!(path.ends_with("/pods"), "{path}");
            json_response(StatusCode::OK, &list("Pod", vec![pod()]))
        };
        send.send_response(answer);
    }
    queries
}

#[tokio::test]
async fn a_restarted_container_is_followed_without_repeating_lines() {
    let (env, handle, _dir) = environment();
    let server = tokio::spawn(api_server(handle));
    let stop = tokio_util::sync::CancellationToken::new();
    let request = LogRequest {
        workloads: BTreeSet::from(["worker".to_owned()]),
        follow: true,
    };
    let mut batches = env.logs(request, stop.clone());
    let mut shown = Vec::new();
    while shown.len() < 3 {
        let batch = tokio::time::timeout(Duration::from_secs(10), batches.recv())
            .await
            .expect("lines within 10 s")
            .expect("the stream goes on");
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        shown.extend(batch.lines.into_iter().map(|line| line.text.into_string()));
    }
    assert_eq!(
        shown,
        ["old line one", "old line two", "new container's first line"]
    );
    let queries = server.await.expect("the API server");
    assert!(
        queries[0].contains("follow=true") && queries[0].contains("tailLines=200"),
        "{}",
        queries[0]
    );
    // Reopened from before the last line shown (4 s ago, plus the 10 s overlap).
    let since: i64 = queries[1]
        .split('&')
        .find_map(|pair| pair.strip_prefix("sinceSeconds="))
        .and_then(|seconds| seconds.parse().ok())
        .unwrap_or_else(|| panic!("no sinceSeconds in {}", queries[1]));
    assert!((14..=16).contains(&since), "{}", queries[1]);
    assert!(!queries[1].contains("tailLines"), "{}", queries[1]);
    stop.cancel();
}
