//! `GET /admin/tasks/census`: tasks created since a time, by status, for drills on a
//! cluster; admin only, and a bad `since` is a 400 with a JSON body.

use chrono::{Duration, Utc};
use serde_json::Value;

use crate::helpers::{error_code, spawn_app_with};

#[tokio::test]
async fn the_census_counts_the_tasks_created_since_a_time() {
    let app = spawn_app_with(|c| c.admin_token = Some("s3cret".parse().expect("infallible"))).await;
    let since = Utc::now() - Duration::seconds(1);
    app.create_ok("census one").await;
    app.create_ok("census two").await;
    let census = |since: chrono::DateTime<Utc>| {
        let url = app.url("/admin/tasks/census");
        let request = app
            .client
            .get(url)
            .query(&[("since", since.to_rfc3339())])
            .header("X-OpsBox-Admin-Token", "s3cret");
        async move {
            let response = request.send().await.expect("request");
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.expect("json")
        }
    };
    // Other tests share the database: at least ours, and none from the future.
    let counted = census(since).await;
    assert!(counted["pending"].as_u64().unwrap_or(0) >= 2, "{counted}");
    let later = census(Utc::now() + Duration::hours(1)).await;
    let total: u64 = ["pending", "queued", "running", "done", "failed"]
        .iter()
        .map(|status| later[status].as_u64().expect("a count"))
        .sum();
    assert_eq!(total, 0, "{later}");

    let url = app.url("/admin/tasks/census");
    let anonymous = app.client.get(&url).query(&[("since", since.to_rfc3339())]);
    assert_eq!(
        error_code(anonymous.send().await.expect("request"), 401).await,
        "unauthorized"
    );
    let admin = |query: &'static [(&'static str, &'static str)]| {
        app.client
            .get(&url)
            .query(query)
            .bearer_auth("s3cret")
            .send()
    };
    assert_eq!(
        error_code(admin(&[]).await.expect("request"), 400).await,
        "bad_request"
    );
    let garbled = admin(&[("since", "yesterday")]).await.expect("request");
    assert_eq!(error_code(garbled, 400).await, "bad_request");
}
