//! `--api-url` on the mocked tier: the release-wide admin calls go to a real HTTP server
//! on 127.0.0.1 standing where a port-forward would listen, with the token from the
//! release's Secret as a bearer; its refusals and a closed port say what to check;
//! drills pass the support check and RBAC is asked about the Secret, not the proxy.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::access::AdminPath;
use super::mock_admin_tests::route;
use super::mock_tests::{answer_reviews, environment, verify};
use super::ApiUrl;
use crate::env::{Environment, NotRunning, Verb};

/// Serves `app` on a free loopback port until the test ends; its base URL.
async fn serve(app: Router) -> ApiUrl {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}").parse().expect("a URL")
}

/// The API's queue route, answering only the release's token.
fn queue_api(seen: Arc<Mutex<Vec<String>>>) -> Router {
    Router::new().route(
        "/admin/queue",
        get(move |headers: HeaderMap| async move {
            let authorization = headers
                .get(http::header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            seen.lock().expect("lock").push(authorization.clone());
            if authorization == "Bearer s3cret" {
                Ok(Json(json!({
                    "depth": {"ready": 7, "delayed": 0, "processing": 1, "dead": 2},
                    "oldest_ready_age_secs": 0.5
                })))
            } else {
                Err((
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"error": {"code": "unauthorized",
                        "message": "missing or invalid bearer token"}})),
                ))
            }
        }),
    )
}

#[tokio::test]
async fn the_queue_is_read_at_the_api_url_with_the_releases_token() {
    let seen = Arc::default();
    let url = serve(queue_api(Arc::clone(&seen))).await;
    let (env, handle, _dir) = environment();
    let env = env.with_api_url(url);
    // The API server is asked only for the Rollout and the Secret, not to forward.
    let (overview, ()) = tokio::join!(env.queue_overview(), verify(handle, route()));
    let overview = overview.expect("the queue");
    assert_eq!((overview.depth.ready, overview.depth.dead), (7, 2));
    assert_eq!(*seen.lock().expect("lock"), ["Bearer s3cret"]);
}

#[tokio::test]
async fn a_refused_token_and_a_closed_port_say_what_to_check() {
    let url = serve(Router::new().route(
        "/admin/queue",
        get(|| async {
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({"error": {"code": "unauthorized",
                    "message": "missing or invalid bearer token"}})),
            )
        }),
    ))
    .await;
    let (env, handle, _dir) = environment();
    let env = env.with_api_url(url.clone());
    let (refused, ()) = tokio::join!(env.queue_overview(), verify(handle, route()));
    let message = format!("{:#}", refused.expect_err("refused"));
    assert!(
        message.contains(&format!("GET /admin/queue at {url} (--api-url)"))
            && message.contains("refused the admin token (401 Unauthorized)")
            && message.contains("missing or invalid bearer token"),
        "{message}"
    );

    // Nothing listens there any more: a fast NotRunning that names the port-forward.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("address").port();
    drop(closed);
    let (env, handle, _dir) = environment();
    let env = env.with_api_url(format!("http://127.0.0.1:{port}").parse().expect("URL"));
    let started = std::time::Instant::now();
    let (down, ()) = tokio::join!(env.queue_overview(), verify(handle, route()));
    let error = down.expect_err("nothing listens");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let NotRunning(message) = error.downcast_ref::<NotRunning>().expect("typed");
    assert!(
        message.contains("nothing answers") && message.contains("scripts/port-forward.sh"),
        "{message}"
    );
}

#[tokio::test]
async fn with_an_api_url_drills_are_offered_and_requeue_needs_the_secret() {
    let (env, handle, _dir) = environment();
    let env = env.with_api_url("http://127.0.0.1:8080".parse().expect("URL"));
    let admin = AdminPath::of(true);
    let reviews = 1 + Verb::ALL
        .iter()
        .filter(|verb| super::access::needed(**verb, admin).is_some())
        .count();
    let (permissions, asked) = tokio::join!(
        env.permissions(),
        answer_reviews(handle, reviews, "operator", |_| true)
    );
    assert_eq!(permissions.check(Verb::RunDrill), Ok(()));
    assert_eq!(permissions.check(Verb::Requeue), Ok(()));
    assert!(
        !asked.iter().any(|asked| asked == "create services/proxy"),
        "{asked:?}"
    );
    if admin == AdminPath::DirectWithSecret {
        assert!(
            asked.iter().any(|asked| asked == "get secrets/"),
            "{asked:?}"
        );
    }

    let catalog = crate::drill::DrillCatalog::built_in().expect("built-in drills");
    let drill = catalog.get("worker-crash").expect("worker-crash");
    drill
        .check_supported(&env.chaos_support())
        .expect("a drill has its traffic path");
}

#[tokio::test]
async fn the_status_names_the_api_url_with_the_pods_behind_it() {
    use crate::model::{EnvironmentPhase, EnvironmentStatus, InstanceState, InstanceStatus};
    use opsbox_common::config::Track;
    let pod = |name: &str, workload: &str, track| InstanceStatus {
        name: name.to_owned(),
        workload: workload.to_owned(),
        track,
        revision: "a".to_owned(),
        pid: None,
        state: InstanceState::Running,
        restarts: 0,
        uptime_secs: None,
        address: None,
        log_file: None,
        last_exit: None,
        last_error: None,
    };
    let status = EnvironmentStatus {
        environment: "test/opsbox".to_owned(),
        phase: EnvironmentPhase::Ready,
        started_at: chrono::Utc::now(),
        state_dir: None,
        instances: vec![
            pod("api-a", "api", Track::Stable),
            pod("api-b", "api", Track::Canary),
            pod("worker-a", "worker", Track::Stable),
        ],
        queue: None,
        router: None,
        rollout: None,
        prometheus_url: None,
        scalers: Vec::new(),
    };
    let (env, _handle, _dir) = environment();
    assert_eq!(env.with_traffic_path(status.clone()).router, None);
    let env = env.with_api_url("http://127.0.0.1:8080/".parse().expect("URL"));
    let router = env.with_traffic_path(status).router.expect("a router");
    assert_eq!(router.url, "http://127.0.0.1:8080");
    assert_eq!(router.stable_upstreams, ["api-a"]);
    assert_eq!(router.canary_upstreams, ["api-b"]);
}
