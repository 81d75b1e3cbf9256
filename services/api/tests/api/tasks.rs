//! The task endpoints' success paths and their state rules.

use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app};

#[tokio::test]
async fn create_returns_201_with_location_and_defaults() {
    let app = spawn_app().await;
    let response = app.create(json!({"title": "  resize images  "})).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let task: Value = response.json().await.expect("json");
    assert_eq!(
        location,
        format!("/tasks/{}", task["id"].as_str().expect("id"))
    );
    assert_eq!(task["title"], "resize images");
    assert_eq!(task["kind"], "io");
    assert_eq!(task["status"], "PENDING");
    assert_eq!(task["attempts"], 0);
    assert_eq!(task["payload"], json!({}));
    assert!(task["result"].is_null() && task["error"].is_null());

    let fetched: Value = app.get(&location).await.json().await.expect("json");
    assert_eq!(fetched, task);
}

#[tokio::test]
async fn create_accepts_every_kind_and_a_payload() {
    let app = spawn_app().await;
    for kind in ["io", "cpu", "fail", "flaky"] {
        let response = app
            .create(json!({"title": kind, "kind": kind, "payload": {"ms": 5, "p": 0.5}}))
            .await;
        assert_eq!(response.status(), 201);
        let task: Value = response.json().await.expect("json");
        assert_eq!(task["kind"], kind);
        assert_eq!(task["payload"], json!({"ms": 5, "p": 0.5}));
    }
}

#[tokio::test]
async fn an_idempotency_key_makes_retries_return_the_same_task() {
    let app = spawn_app().await;
    let send = || {
        app.client
            .post(app.url("/tasks"))
            .header("Idempotency-Key", "order-42")
            .json(&json!({"title": "charge card"}))
            .send()
    };
    let first = send().await.expect("request");
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.expect("json");
    let second = send().await.expect("request");
    assert_eq!(second.status(), 201);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let second: Value = second.json().await.expect("json");
    assert_eq!(first["id"], second["id"]);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks")
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(rows, 1);

    let bad_key = app
        .client
        .post(app.url("/tasks"))
        .header("Idempotency-Key", "has spaces")
        .json(&json!({"title": "x"}))
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(bad_key, 400).await, "bad_request");
}

#[tokio::test]
async fn patch_renames_and_validates() {
    let app = spawn_app().await;
    let task = app.create_ok("old").await;
    let path = format!("/tasks/{}", task["id"].as_str().expect("id"));
    let renamed: Value = app
        .client
        .patch(app.url(&path))
        .json(&json!({"title": " new "}))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(renamed["title"], "new");
    assert_ne!(renamed["updated_at"], task["updated_at"]);

    let empty = app
        .client
        .patch(app.url(&path))
        .json(&json!({"title": ""}))
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(empty, 422).await, "validation_failed");
    let missing = app
        .client
        .patch(app.url(&path))
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(missing, 422).await, "validation_failed");
    let unknown = format!("/tasks/{}", uuid::Uuid::new_v4());
    let gone = app
        .client
        .patch(app.url(&unknown))
        .json(&json!({"title": "x"}))
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(gone, 404).await, "not_found");
}

#[tokio::test]
async fn delete_removes_a_task_but_not_while_it_runs() {
    let app = spawn_app().await;
    let task = app.create_ok("doomed").await;
    let id = task["id"].as_str().expect("id").to_owned();
    let path = format!("/tasks/{id}");

    sqlx::query("UPDATE tasks SET status = 'RUNNING' WHERE id = $1::uuid")
        .bind(&id)
        .execute(&app.db)
        .await
        .expect("update");
    let refused = app
        .client
        .delete(app.url(&path))
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(refused, 409).await, "conflict");

    sqlx::query("UPDATE tasks SET status = 'DONE' WHERE id = $1::uuid")
        .bind(&id)
        .execute(&app.db)
        .await
        .expect("update");
    let deleted = app
        .client
        .delete(app.url(&path))
        .send()
        .await
        .expect("request");
    assert_eq!(deleted.status(), 204);
    assert_eq!(error_code(app.get(&path).await, 404).await, "not_found");
    let again = app
        .client
        .delete(app.url(&path))
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(again, 404).await, "not_found");
}

#[tokio::test]
async fn run_queues_a_job_carrying_the_trace_and_refuses_a_second_run() {
    let app = spawn_app().await;
    let task = app.create_ok("work").await;
    let id = task["id"].as_str().expect("id");
    let run_path = format!("/tasks/{id}/run");

    let response = app.post(&run_path).await;
    assert_eq!(response.status(), 202);
    assert_eq!(
        response.headers()["location"],
        format!("/tasks/{id}").as_str()
    );
    let queued: Value = response.json().await.expect("json");
    assert_eq!(queued["status"], "QUEUED");

    let depth = app.queue.depth().await.expect("depth");
    assert_eq!(depth.ready, 1);
    let mut connection = app.queue.redis().connection().await.expect("redis");
    let raw: Vec<String> = redis::cmd("LRANGE")
        .arg(app.queue.keys().ready())
        .arg(0)
        .arg(-1)
        .query_async(&mut connection)
        .await
        .expect("lrange");
    let job = opsbox_common::queue::Job::decode(&raw[0]).expect("job");
    assert_eq!(job.task_id.to_string(), id);
    let run_id: uuid::Uuid = sqlx::query_scalar("SELECT run_id FROM tasks WHERE id = $1::uuid")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .expect("run id");
    assert_eq!(job.run_id, run_id);
    assert!(
        job.trace.contains_key("traceparent"),
        "the job carries the request's trace: {job:?}"
    );

    let again = app.post(&run_path).await;
    assert_eq!(error_code(again, 409).await, "conflict");
    let unknown = app
        .post(&format!("/tasks/{}/run", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(error_code(unknown, 404).await, "not_found");
    assert_eq!(app.queue.depth().await.expect("depth").ready, 1);
}

#[tokio::test]
async fn a_payload_comes_back_exactly_as_it_was_sent() {
    let app = spawn_app().await;
    // Numbers jsonb would rewrite into forms a JSON parser rejects (a found
    // by the schema-driven fuzzer), and text it would refuse.
    // NUL characters too: jsonb refuses them, the json column keeps them
    // (the OpenAPI document admits any object, so the API must).
    let payload = json!({"huge": 9.148515945698237e278, "tiny": 1e-300, "big": 43463520658166280u64,
                         "nested": {"list": [1, "two", null, true]}, "unicode": "é\u{1F600}",
                         "nul\u{0}key": {"value": "a\u{0}b"}});
    let response = app
        .create(json!({"title": "numbers", "payload": payload}))
        .await;
    assert_eq!(response.status(), 201);
    let task: Value = response.json().await.expect("json");
    assert_eq!(task["payload"], payload);
    let path = format!("/tasks/{}", task["id"].as_str().expect("id"));
    let fetched: Value = app.get(&path).await.json().await.expect("json");
    assert_eq!(fetched["payload"], payload);
    let listed: Value = app.get("/tasks").await.json().await.expect("json");
    assert_eq!(listed["items"][0]["payload"], payload);
}
