//! Every error status the API promises, each with a JSON body.

use serde_json::json;

use crate::helpers::{error_code, spawn_app};

#[tokio::test]
async fn malformed_input_is_a_4xx_with_a_json_body() {
    let app = spawn_app().await;
    let post_raw = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url("/tasks"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let malformed = post_raw("{\"title\": ", "application/json")
        .await
        .expect("request");
    assert_eq!(error_code(malformed, 400).await, "bad_request");
    let not_json = post_raw("{\"title\": \"x\"}", "text/plain")
        .await
        .expect("request");
    assert_eq!(error_code(not_json, 415).await, "unsupported_media_type");
    let huge = format!("{{\"title\": \"{}\"}}", "x".repeat(70 * 1024));
    let too_large = app
        .client
        .post(app.url("/tasks"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(too_large, 413).await, "payload_too_large");

    for (body, why) in [
        (json!({}), "missing title"),
        (json!({"title": ""}), "empty title"),
        (json!({"title": "   "}), "blank title"),
        (json!({"title": "x".repeat(201)}), "long title"),
        (json!({"title": "a\u{0}b"}), "NUL in title"),
        (json!({"title": 5}), "title not a string"),
        (json!({"title": "x", "kind": "quantum"}), "unknown kind"),
        (
            json!({"title": "x", "payload": [1]}),
            "payload not an object",
        ),
        (
            json!({"title": "x", "payload": {"blob": "y".repeat(17 * 1024)}}),
            "payload over 16 KiB",
        ),
        (json!({"title": "x", "colour": "red"}), "unknown field"),
        (json!(["title"]), "not an object"),
    ] {
        let response = app.create(body).await;
        assert_eq!(response.status(), 422, "{why}");
        assert_eq!(
            error_code(response, 422).await,
            "validation_failed",
            "{why}"
        );
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks")
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(rows, 0, "nothing invalid was stored");
}

#[tokio::test]
async fn bad_ids_unknown_routes_and_wrong_methods() {
    let app = spawn_app().await;
    assert_eq!(
        error_code(app.get("/tasks/not-a-uuid").await, 400).await,
        "bad_request"
    );
    assert_eq!(
        error_code(app.post("/tasks/123/run").await, 400).await,
        "bad_request"
    );
    assert_eq!(
        error_code(
            app.get(&format!("/tasks/{}", uuid::Uuid::new_v4())).await,
            404
        )
        .await,
        "not_found"
    );
    assert_eq!(
        error_code(app.get("/nowhere").await, 404).await,
        "not_found"
    );
    let wrong = app
        .client
        .delete(app.url("/tasks"))
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(wrong, 405).await, "method_not_allowed");
    let wrong = app
        .client
        .put(app.url("/health"))
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(wrong, 405).await, "method_not_allowed");
    // Without OPSBOX_ADMIN_TOKEN the admin surface does not exist.
    assert_eq!(
        error_code(app.get("/admin/faults").await, 404).await,
        "not_found"
    );
}
