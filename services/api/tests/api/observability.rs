//! Probes, metrics and the OpenAPI document.

use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn health_and_ready_answer_when_all_is_well() {
    let app = spawn_app().await;
    let health = app.get("/health").await;
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.json::<Value>().await.expect("json"),
        serde_json::json!({"status": "ok"})
    );
    let ready = app.get("/ready").await;
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["redis"], "ok");
}

#[tokio::test]
async fn metrics_use_route_templates_never_raw_ids() {
    let app = spawn_app().await;
    let task = app.create_ok("observed").await;
    let id = task["id"].as_str().expect("id");
    app.get(&format!("/tasks/{id}")).await;
    app.post(&format!("/tasks/{id}/run")).await;
    app.get("/nowhere/42").await;

    let metrics = app.metrics().await;
    for expected in [
        r#"http_requests_total{method="POST",route="/tasks",status="201",track="stable"} 1"#,
        r#"http_requests_total{method="GET",route="/tasks/{id}",status="200",track="stable"} 1"#,
        r#"http_requests_total{method="POST",route="/tasks/{id}/run",status="202",track="stable"} 1"#,
        r#"http_requests_total{method="GET",route="unmatched",status="404",track="stable"} 1"#,
        r#"http_request_duration_seconds_bucket{method="GET",route="/tasks/{id}",track="stable",le="0.3"} 1"#,
        r#"opsbox_tasks_created_total{track="stable"} 1"#,
        r#"opsbox_jobs_enqueued_total{track="stable"} 1"#,
        r#"opsbox_build_info{version="test",track="stable"} 1"#,
        r#"opsbox_db_pool_connections{state="max",track="stable"} 8"#,
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected} in\n{metrics}"
        );
    }
    assert!(!metrics.contains(id), "a raw id leaked into a label");
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json").await.json().await.expect("json");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
    for (path, methods) in [
        ("/health", &["get"][..]),
        ("/ready", &["get"]),
        ("/metrics", &["get"]),
        ("/openapi.json", &["get"]),
        ("/tasks", &["get", "post"]),
        ("/tasks/{id}", &["get", "patch", "delete"]),
        ("/tasks/{id}/run", &["post"]),
        ("/tasks/bulk", &["post"]),
        ("/flags", &["get"]),
        ("/admin/faults", &["get", "put", "delete"]),
        ("/admin/queue", &["get"]),
        ("/admin/dead-letters", &["get"]),
        ("/admin/dead-letters/requeue", &["post"]),
    ] {
        for method in methods {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} is not documented"
            );
        }
    }
    let task = &doc["components"]["schemas"]["Task"]["properties"];
    for field in [
        "id",
        "title",
        "kind",
        "status",
        "attempts",
        "result",
        "error",
        "created_at",
        "updated_at",
    ] {
        assert!(task[field].is_object(), "Task.{field} is not documented");
    }
}
