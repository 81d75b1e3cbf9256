//! Feature flags: read from the file at start, re-read when a ConfigMap-style
//! symlink swap changes it, a bad file refused with the last good flags kept,
//! and the `bulkTasks` flag gating `POST /tasks/bulk`.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{error_code, eventually, spawn_app_with, TestApp};

/// A directory laid out as the kubelet lays out a mounted ConfigMap:
/// `flags.json -> ..data/flags.json`, `..data -> ..<version>`.
struct ConfigMapDir {
    dir: PathBuf,
    version: u32,
}

impl ConfigMapDir {
    fn new(content: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("opsbox-flags-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut mount = Self { dir, version: 0 };
        mount.update(content);
        symlink("..data/flags.json", mount.file()).expect("flags.json link");
        mount
    }

    fn file(&self) -> PathBuf {
        self.dir.join("flags.json")
    }

    /// The kubelet's atomic update: write a new version directory, point a
    /// temporary link at it, and rename that link over `..data`.
    fn update(&mut self, content: &str) {
        self.version += 1;
        let version = format!("..v{}", self.version);
        std::fs::create_dir(self.dir.join(&version)).expect("version dir");
        std::fs::write(self.dir.join(&version).join("flags.json"), content).expect("write");
        let tmp = self.dir.join("..data_tmp");
        symlink(&version, &tmp).expect("tmp link");
        std::fs::rename(&tmp, self.dir.join("..data")).expect("swap");
    }
}

impl Drop for ConfigMapDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn spawn_with_flags(file: &Path) -> TestApp {
    let file = file.to_owned();
    spawn_app_with(move |c| {
        c.flags_file = Some(file);
        c.flags_poll_interval = Duration::from_millis(100);
    })
    .await
}

async fn flags(app: &TestApp) -> Value {
    let response = app.get("/flags").await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

async fn bulk(app: &TestApp, body: Value) -> reqwest::Response {
    app.client
        .post(app.url("/tasks/bulk"))
        .json(&body)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn a_changed_file_is_applied_and_a_bad_one_keeps_the_last_good_flags() {
    let mut mount = ConfigMapDir::new(r#"{"bulkTasks":false,"taskPriorities":true}"#);
    let app = spawn_with_flags(&mount.file()).await;

    let at_start = flags(&app).await;
    assert_eq!(at_start["flags"]["bulkTasks"], false, "{at_start}");
    assert_eq!(at_start["flags"]["taskPriorities"], true, "{at_start}");
    assert_eq!(at_start["last_error"], Value::Null);
    let off = bulk(&app, json!({"tasks": [{"title": "a"}]})).await;
    assert_eq!(error_code(off, 404).await, "feature_disabled");

    mount.update(r#"{"bulkTasks":true}"#);
    eventually(Duration::from_secs(10), "bulkTasks on", || async {
        (flags(&app).await["flags"]["bulkTasks"] == true).then_some(())
    })
    .await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"opsbox_feature_flag{flag="bulkTasks",track="stable"} 1"#),
        "{metrics}"
    );
    assert!(
        !metrics.contains(r#"flag="taskPriorities""#),
        "a flag gone from the file leaves the metric: {metrics}"
    );

    mount.update(r#"{"bulkTasks": "yes"}"#);
    let refused = eventually(Duration::from_secs(10), "the bad file refused", || async {
        let now = flags(&app).await;
        let error = now["last_error"].as_str().map(str::to_owned);
        error.map(|e| (e, now))
    })
    .await;
    assert!(refused.0.contains("must be true or false"), "{}", refused.0);
    assert_eq!(
        refused.1["flags"]["bulkTasks"], true,
        "last good flags stay"
    );
    assert!(app
        .metrics()
        .await
        .contains(r#"opsbox_feature_flags_refused_total{track="stable"} 1"#));
    let still_on = bulk(&app, json!({"tasks": [{"title": "a"}]})).await;
    assert_eq!(still_on.status(), 201);
}

#[tokio::test]
async fn a_missing_file_leaves_every_flag_off_and_the_api_up() {
    let missing = std::env::temp_dir().join(format!("opsbox-absent-{}.json", uuid::Uuid::new_v4()));
    let app = spawn_with_flags(&missing).await;
    let view = flags(&app).await;
    assert_eq!(view["flags"]["bulkTasks"], false);
    assert!(
        view["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot open")),
        "{view}"
    );
    assert_eq!(app.get("/health").await.status(), 200);
}

#[tokio::test]
async fn bulk_creation_is_all_or_nothing_and_keeps_the_order_given() {
    let mount = ConfigMapDir::new(r#"{"bulkTasks":true}"#);
    let app = spawn_with_flags(&mount.file()).await;

    let created = bulk(
        &app,
        json!({"tasks": [{"title": "first"}, {"title": "second", "kind": "cpu", "payload": {"n": 1}}]}),
    )
    .await;
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.expect("json");
    let titles: Vec<&str> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["title"].as_str().expect("title"))
        .collect();
    assert_eq!(titles, ["first", "second"]);

    let bad_item = bulk(&app, json!({"tasks": [{"title": "ok"}, {"title": "  "}]})).await;
    assert_eq!(bad_item.status(), 422);
    let error: Value = bad_item.json().await.expect("json");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("tasks[1]")),
        "{error}"
    );
    let empty = bulk(&app, json!({"tasks": []})).await;
    assert_eq!(error_code(empty, 422).await, "validation_failed");
    let too_many: Vec<Value> = (0..101)
        .map(|i| json!({"title": format!("t{i}")}))
        .collect();
    let over = bulk(&app, json!({"tasks": too_many})).await;
    assert_eq!(error_code(over, 422).await, "validation_failed");

    // 100 tasks near their largest fit the bulk route's own body limit...
    let blob = "x".repeat(15 * 1024);
    let largest: Vec<Value> = (0..100)
        .map(|i| json!({"title": format!("big {i}"), "payload": {"blob": blob}}))
        .collect();
    let created = bulk(&app, json!({"tasks": largest})).await;
    assert_eq!(created.status(), 201);
    // ...and a body past it is a 413 naming that limit.
    let huge = "y".repeat(2 * 1024 * 1024);
    let over_limit = bulk(&app, json!({"tasks": [{"title": huge}]})).await;
    assert_eq!(over_limit.status(), 413);
    let error: Value = over_limit.json().await.expect("json");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("2097152")),
        "{error}"
    );

    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks")
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(stored, 102, "nothing of a refused batch is stored");
}
