//! Keyset pagination and its parameters.

use std::collections::HashSet;

use serde_json::Value;

use crate::helpers::{error_code, spawn_app};

#[tokio::test]
async fn pages_walk_every_task_once_newest_first() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for i in 0..25 {
        created.push(
            app.create_ok(&format!("task {i}")).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/tasks?limit=10&cursor={c}"),
            None => "/tasks?limit=10".to_owned(),
        };
        let page: Value = app.get(&path).await.json().await.expect("json");
        pages += 1;
        for item in page["items"].as_array().expect("items") {
            seen.push(item["id"].as_str().expect("id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 25);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 25);
    created.reverse();
    assert_eq!(seen, created, "newest first");

    let default: Value = app.get("/tasks").await.json().await.expect("json");
    assert_eq!(default["items"].as_array().expect("items").len(), 20);
}

#[tokio::test]
async fn status_filter_selects_and_bad_parameters_are_rejected() {
    let app = spawn_app().await;
    let a = app.create_ok("a").await;
    app.create_ok("b").await;
    let id = a["id"].as_str().expect("id");
    assert_eq!(app.post(&format!("/tasks/{id}/run")).await.status(), 202);

    let queued: Value = app
        .get("/tasks?status=QUEUED")
        .await
        .json()
        .await
        .expect("json");
    let items = queued["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], a["id"]);
    assert!(queued["next_cursor"].is_null());
    let pending: Value = app
        .get("/tasks?status=PENDING")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(pending["items"].as_array().expect("items").len(), 1);

    assert_eq!(
        error_code(app.get("/tasks?limit=0").await, 422).await,
        "validation_failed"
    );
    assert_eq!(
        error_code(app.get("/tasks?limit=101").await, 422).await,
        "validation_failed"
    );
    assert_eq!(
        error_code(app.get("/tasks?limit=ten").await, 400).await,
        "bad_request"
    );
    assert_eq!(
        error_code(app.get("/tasks?status=LOST").await, 422).await,
        "validation_failed"
    );
    assert_eq!(
        error_code(app.get("/tasks?cursor=garbage!").await, 400).await,
        "bad_request"
    );
    // Anything the documented pattern admits is a position, not an error.
    let forged = format!("/tasks?cursor={}", "_".repeat(32));
    assert_eq!(app.get(&forged).await.status(), 200);
}
