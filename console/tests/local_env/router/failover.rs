//! Instances that refuse connections are skipped; bodies survive the retry; tracks fall back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opsbox::env::local::router::{CanaryWeight, UpstreamTarget, MAX_BODY_BYTES};
use opsbox_common::config::Track;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use super::harness::{client, refused_target, send, start_router, url, Upstream};
use crate::poll;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_upstream_is_skipped_with_zero_failed_requests() {
    let first = Upstream::start("api-1").await;
    let second = Upstream::start("api-2").await;
    let router = start_router().await;
    router
        .control()
        .set_upstreams(Track::Stable, vec![first.target(), second.target()])
        .expect("valid");

    // Load runs while the second instance stops, as during a restart by the supervisor.
    let answered = Arc::new(AtomicUsize::new(0));
    let load = {
        let client = client();
        let target = url(&router, "/tasks");
        let answered = answered.clone();
        tokio::spawn(async move {
            let mut failures = Vec::new();
            for _ in 0..600 {
                match client.get(&target).send().await {
                    Ok(response) if response.status().is_success() => {}
                    Ok(response) => failures.push(format!("status {}", response.status())),
                    Err(error) => failures.push(error.to_string()),
                }
                answered.fetch_add(1, Ordering::Relaxed);
            }
            failures
        })
    };
    poll::until("100 requests answered", Duration::from_secs(30), || {
        let done = answered.load(Ordering::Relaxed);
        async move { (done >= 100).then_some(()) }
    })
    .await;
    second.stop().await;

    let failures = load.await.expect("load task");
    assert!(
        failures.is_empty(),
        "{} failed: {failures:?}",
        failures.len()
    );

    let after = send(&router, 200, 4).await;
    assert!(after.failures.is_empty(), "{:?}", after.failures);
    assert_eq!(after.instance("api-1"), 200, "{after:?}");
    assert!(router.control().metrics().upstream_errors(Track::Stable) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_bodies_arrive_intact_after_a_retry() {
    let live = Upstream::start("api-2").await;
    let router = start_router().await;
    router
        .control()
        .set_upstreams(
            Track::Stable,
            vec![refused_target("api-1").await, live.target()],
        )
        .expect("valid");
    let body: Vec<u8> = (0..MAX_BODY_BYTES).map(|i| (i % 251) as u8).collect();

    // The first request starts at the refused instance, the second at the live one.
    for _ in 0..2 {
        let response = client()
            .post(url(&router, "/tasks"))
            .header("content-type", "application/octet-stream")
            .body(body.clone())
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-opsbox-instance"], "api-2");
        let echoed = response.bytes().await.expect("body");
        assert!(echoed == body, "body changed: {} bytes back", echoed.len());
    }
    assert_eq!(router.control().metrics().upstream_errors(Track::Stable), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_track_serves_only_when_no_instance_of_the_chosen_one_is_up() {
    let stable = Upstream::start("api-1").await;
    let router = start_router().await;
    let control = router.control();
    control
        .set_upstreams(Track::Stable, vec![stable.target()])
        .expect("valid");
    control
        .set_upstreams(Track::Canary, vec![refused_target("api-canary-1").await])
        .expect("valid");
    control.set_canary_weight(CanaryWeight::FULL);

    let fallback = send(&router, 20, 2).await;
    assert_eq!(fallback.instance("api-1"), 20, "{fallback:?}");

    let canary = Upstream::start("api-canary-2").await;
    control
        .set_upstreams(
            Track::Canary,
            vec![refused_target("api-canary-1").await, canary.target()],
        )
        .expect("valid");
    let recovered = send(&router, 20, 2).await;
    assert_eq!(recovered.instance("api-canary-2"), 20, "{recovered:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceparent_reaches_the_upstream_untouched() {
    let stable = Upstream::start("api-1").await;
    let router = start_router().await;
    router
        .control()
        .set_upstreams(Track::Stable, vec![stable.target()])
        .expect("valid");
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    let response = client()
        .get(url(&router, "/tasks?limit=5"))
        .header("traceparent", traceparent)
        .send()
        .await
        .expect("answered");

    assert_eq!(response.headers()["x-seen-traceparent"], traceparent);
    assert_eq!(response.headers()["x-opsbox-track"], "stable");
}

/// An instance that reads each request head and closes the connection unanswered, as
/// one that crashes while handling it. Counts the requests it read.
async fn start_crashing_upstream(name: &str) -> (UpstreamTarget, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("free port");
    let addr = listener.local_addr().expect("bound address");
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut chunk = [0u8; 4096];
                while let Ok(read) = socket.read(&mut chunk).await {
                    if read == 0 {
                        return;
                    }
                    head.extend_from_slice(&chunk[..read]);
                    if head.windows(4).any(|w| w == b"\r\n\r\n") {
                        counter.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                }
            });
        }
    });
    (UpstreamTarget::new(name, addr), received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sent_request_is_retried_only_when_its_method_is_safe() {
    let (crashing, received) = start_crashing_upstream("api-1").await;
    let live = Upstream::start("api-2").await;
    let router = start_router().await;
    router
        .control()
        .set_upstreams(Track::Stable, vec![crashing, live.target()])
        .expect("valid");
    let client = client();

    // Round-robin starts the 1st and 3rd requests at the crashing instance.
    let post = client
        .post(url(&router, "/tasks"))
        .body(r#"{"kind":"sleep"}"#)
        .send()
        .await
        .expect("answered");
    assert_eq!(
        post.status(),
        502,
        "a POST that reached an instance is not sent again"
    );
    assert_eq!(received.load(Ordering::SeqCst), 1);

    let second = client
        .get(url(&router, "/tasks"))
        .send()
        .await
        .expect("answered");
    assert_eq!(second.headers()["x-opsbox-instance"], "api-2");

    let get = client
        .get(url(&router, "/tasks"))
        .send()
        .await
        .expect("answered");
    assert_eq!(
        get.status(),
        200,
        "a GET is safe to send to the next instance"
    );
    assert_eq!(get.headers()["x-opsbox-instance"], "api-2");
    assert_eq!(received.load(Ordering::SeqCst), 2);
}
