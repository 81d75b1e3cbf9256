//! Finished tasks past the retention are deleted; everything else stays.

use opsbox_common::model::{TaskKind, TaskStatus};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{eventually, TestWorld};

#[tokio::test]
async fn cleanup_deletes_only_finished_tasks_past_the_retention() {
    let world = TestWorld::start().await;
    let age = |id: Uuid, status: TaskStatus, days: i32| {
        let db = world.db.clone();
        async move {
            sqlx::query(
                "UPDATE tasks SET status = $2, updated_at = now() - make_interval(days => $3) WHERE id = $1",
            )
            .bind(id)
            .bind(status.as_str())
            .bind(days)
            .execute(&db)
            .await
            .expect("age task");
        }
    };
    let (old_done, _) = world.insert_task(TaskKind::Io, json!({})).await;
    let (old_failed, _) = world.insert_task(TaskKind::Fail, json!({})).await;
    let (recent_done, _) = world.insert_task(TaskKind::Io, json!({})).await;
    let (old_pending, _) = world.insert_task(TaskKind::Io, json!({})).await;
    age(old_done, TaskStatus::Done, 3).await;
    age(old_failed, TaskStatus::Failed, 3).await;
    age(recent_done, TaskStatus::Done, 0).await;
    age(old_pending, TaskStatus::Pending, 3).await;

    // The first cleanup runs at start-up.
    let _worker = world.worker().env("OPSBOX_RETENTION", "2d").spawn().await;
    eventually("old finished tasks to be deleted", || async {
        (!world.task_exists(old_done).await && !world.task_exists(old_failed).await).then_some(())
    })
    .await;
    assert!(world.task_exists(recent_done).await, "too recent to delete");
    assert!(
        world.task_exists(old_pending).await,
        "never ran, so not finished"
    );
}
