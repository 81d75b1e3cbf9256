//! Fault injection: task requests suffer, probes and metrics never do.

use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app_with};

#[tokio::test]
async fn a_configured_error_rate_fails_task_requests_only() {
    let app = spawn_app_with(|c| c.fault_error_rate = 1.0).await;
    let response = app.create(json!({"title": "x"})).await;
    assert_eq!(error_code(response, 500).await, "fault_injected");
    assert_eq!(app.get("/tasks").await.status(), 500);
    assert_eq!(app.get("/health").await.status(), 200);
    assert_eq!(app.get("/ready").await.status(), 200);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"route="/tasks",status="500""#),
        "{metrics}"
    );
}

#[tokio::test]
async fn admin_toggles_need_the_bearer_token_and_expire() {
    let app = spawn_app_with(|c| c.admin_token = Some("s3cret".parse().expect("infallible"))).await;
    let url = app.url("/admin/faults");

    let anonymous = app.client.get(&url).send().await.expect("request");
    assert_eq!(error_code(anonymous, 401).await, "unauthorized");
    let wrong = app
        .client
        .get(&url)
        .bearer_auth("guess")
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(wrong, 401).await, "unauthorized");

    let set = app
        .client
        .put(&url)
        .bearer_auth("s3cret")
        .json(&json!({"error_rate": 1.0, "latency_ms": 0, "duration_secs": 60}))
        .send()
        .await
        .expect("request");
    assert_eq!(set.status(), 200);
    let current: Value = app
        .client
        .get(&url)
        .bearer_auth("s3cret")
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(current["error_rate"], 1.0);
    assert_eq!(app.get("/tasks").await.status(), 500);

    // Through the Kubernetes API server's proxy the token comes in its own header.
    let proxied = app
        .client
        .get(&url)
        .header("X-OpsBox-Admin-Token", "s3cret")
        .send()
        .await
        .expect("request");
    assert_eq!(proxied.status(), 200);
    let wrong_header = app
        .client
        .get(&url)
        .header("X-OpsBox-Admin-Token", "guess")
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(wrong_header, 401).await, "unauthorized");

    let invalid = app
        .client
        .put(&url)
        .bearer_auth("s3cret")
        .json(&json!({"error_rate": 2.0, "latency_ms": 0}))
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(invalid, 422).await, "validation_failed");
    let forever = app
        .client
        .put(&url)
        .bearer_auth("s3cret")
        .json(&json!({"error_rate": 0.5, "latency_ms": 0, "duration_secs": u64::MAX}))
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(forever, 422).await, "validation_failed");

    let cleared = app
        .client
        .delete(&url)
        .bearer_auth("s3cret")
        .send()
        .await
        .expect("request");
    assert_eq!(cleared.status(), 204);
    assert_eq!(app.get("/tasks").await.status(), 200);

    let expiring = app
        .client
        .put(&url)
        .bearer_auth("s3cret")
        .json(&json!({"error_rate": 1.0, "latency_ms": 0, "duration_secs": 0}))
        .send()
        .await
        .expect("request");
    assert_eq!(expiring.status(), 200);
    assert_eq!(
        app.get("/tasks").await.status(),
        200,
        "a fault with a zero duration is already over"
    );
}

#[tokio::test]
async fn configured_latency_delays_task_requests_only() {
    let app = spawn_app_with(|c| c.fault_latency_ms = 300).await;
    let started = std::time::Instant::now();
    assert_eq!(app.get("/tasks").await.status(), 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    let started = std::time::Instant::now();
    assert_eq!(app.get("/health").await.status(), 200);
    assert!(started.elapsed() < std::time::Duration::from_millis(300));
}
