//! The admin queue routes against real Redis and Postgres: depth, the dead
//! letter listing and requeueing, each behind the bearer token.

use std::time::Duration;

use opsbox_common::queue::Job;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{error_code, spawn_app, spawn_app_with, TestApp};

const TOKEN: &str = "s3cret";

async fn admin_app() -> TestApp {
    spawn_app_with(|c| c.admin_token = Some(TOKEN.parse().expect("infallible"))).await
}

async fn admin_get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request")
}

async fn admin_json(app: &TestApp, path: &str) -> Value {
    let response = admin_get(app, path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.expect("json")
}

async fn requeue(app: &TestApp, body: Value) -> reqwest::Response {
    app.client
        .post(app.url("/admin/dead-letters/requeue"))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .expect("request")
}

/// Runs a task and buries its job as a worker does after the last attempt:
/// taken into a processing list, the task FAILED, the job dead-lettered.
async fn dead_lettered_task(app: &TestApp, title: &str) -> Uuid {
    let task = app.create_ok(title).await;
    let id: Uuid = task["id"].as_str().expect("id").parse().expect("uuid");
    assert_eq!(app.post(&format!("/tasks/{id}/run")).await.status(), 202);
    let client = redis::Client::open(app.deps.redis_url()).expect("redis url");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let raw = app
        .queue
        .take(&mut connection, "w-test", Duration::from_secs(1))
        .await
        .expect("take")
        .expect("a ready job");
    let job = Job::decode(&raw).expect("job");
    sqlx::query("UPDATE tasks SET status = 'FAILED', attempts = 3, error = 'boom' WHERE id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .expect("fail the task");
    let dead = Job {
        attempt: 3,
        last_error: Some("boom".to_owned()),
        ..job
    };
    app.queue
        .dead_letter("w-test", &raw, &dead)
        .await
        .expect("dead letter");
    id
}

#[tokio::test]
async fn the_routes_exist_only_with_a_token_and_refuse_without_it() {
    let open = spawn_app().await;
    assert_eq!(
        error_code(open.get("/admin/queue").await, 404).await,
        "not_found"
    );

    let app = admin_app().await;
    for path in ["/admin/queue", "/admin/dead-letters"] {
        assert_eq!(error_code(app.get(path).await, 401).await, "unauthorized");
    }
    let anonymous = app.post("/admin/dead-letters/requeue").await;
    assert_eq!(error_code(anonymous, 401).await, "unauthorized");
}

#[tokio::test]
async fn a_dead_letter_is_listed_and_requeued_once() {
    let app = admin_app().await;
    let id = dead_lettered_task(&app, "doomed").await;

    let queue: Value = admin_json(&app, "/admin/queue").await;
    assert_eq!(
        queue["depth"],
        json!({"ready": 0, "delayed": 0, "processing": 0, "dead": 1})
    );

    let listing = admin_get(&app, "/admin/dead-letters?limit=10").await;
    assert_eq!(listing.status(), 200);
    let listing: Value = listing.json().await.expect("json");
    assert_eq!(listing["total"], 1);
    let letter = &listing["letters"][0];
    assert_eq!(letter["task_id"], id.to_string());
    assert_eq!(
        (letter["attempts"].as_u64(), letter["error"].as_str()),
        (Some(3), Some("boom"))
    );
    assert!(letter["dead_at"].is_string(), "{letter}");

    let report = requeue(&app, json!({"job": id})).await;
    assert_eq!(report.status(), 200);
    let report: Value = report.json().await.expect("json");
    assert_eq!(
        report,
        json!({"requeued": [id], "discarded": [], "remaining": 0})
    );
    let task: Value = app
        .get(&format!("/tasks/{id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(task["status"], "QUEUED");
    let queue: Value = admin_json(&app, "/admin/queue").await;
    assert_eq!(
        (
            queue["depth"]["ready"].as_u64(),
            queue["depth"]["dead"].as_u64()
        ),
        (Some(1), Some(0))
    );
    assert!(queue["oldest_ready_age_secs"].as_f64().is_some(), "{queue}");

    let again = requeue(&app, json!({"job": id})).await;
    assert_eq!(error_code(again, 404).await, "not_found");
}

#[tokio::test]
async fn requeueing_all_discards_what_can_never_run_again() {
    let app = admin_app().await;
    let kept = dead_lettered_task(&app, "kept").await;
    let deleted = dead_lettered_task(&app, "deleted").await;
    assert_eq!(
        app.client
            .delete(app.url(&format!("/tasks/{deleted}")))
            .send()
            .await
            .expect("request")
            .status(),
        204
    );
    let listing: Value = admin_json(&app, "/admin/dead-letters").await;
    assert_eq!(
        listing["letters"][0]["task_id"],
        deleted.to_string(),
        "newest first"
    );

    let report: Value = requeue(&app, json!({"all": true}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(report["requeued"], json!([kept]));
    assert_eq!(
        report["discarded"],
        json!([{"task_id": deleted, "reason": "the task was deleted"}])
    );
    assert_eq!(report["remaining"], 0);
}

#[tokio::test]
async fn bad_requests_are_4xx_with_a_reason() {
    let app = admin_app().await;
    for (body, status) in [
        (json!({}), 422),
        (json!({"job": "job-7"}), 422),
        (json!({"job": Uuid::nil(), "all": true}), 422),
        (json!({"all": true, "extra": 1}), 422),
    ] {
        let response = requeue(&app, body.clone()).await;
        assert_eq!(response.status().as_u16(), status, "{body}");
    }
    assert_eq!(
        error_code(admin_get(&app, "/admin/dead-letters?limit=0").await, 422).await,
        "validation_failed"
    );
    assert_eq!(
        error_code(admin_get(&app, "/admin/dead-letters?limit=ten").await, 400).await,
        "bad_request"
    );
}
