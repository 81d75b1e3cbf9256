//! Requeueing dead letters end to end: the real `opsbox` runs the stack (API, worker) on
//! real PostgreSQL and Redis; tasks are dead-lettered by the real worker, and
//! `opsbox queue requeue` makes them run to DONE, or removes a letter that can never run.
//!
//! Needs `cargo build --workspace` first (the `opsbox-api` and `opsbox-worker` binaries).
//! With DATABASE_URL / REDIS_URL set the shared servers are used (a database and queue
//! prefix of this test's own); otherwise private ones are started.

#[path = "local_env/poll.rs"]
mod poll;

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use opsbox::model::{DeadLetters, QueueOverview, RequeueReport};
use opsbox_common::model::TaskKind;
use opsbox_common::queue::{Job, JobQueue, QueueKeys};
use opsbox_common::redis_conn::Redis;
use opsbox_harness::Dependencies;
use serde_json::{json, Value};
use sqlx::types::Uuid;

/// Three attempts with a 1 s backoff base, on a loaded machine.
const DEAD_LETTERED_WITHIN: Duration = Duration::from_secs(90);

/// How long one `opsbox` command may take (`up` migrates a fresh database).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(240);

#[derive(serde::Deserialize)]
struct QueueJson {
    overview: QueueOverview,
    dead: DeadLetters,
}

/// An `opsbox up` stack on a database and queue prefix of its own; `down` on drop.
struct Stack {
    state_dir: tempfile::TempDir,
    port: u16,
    database_url: String,
    redis_url: String,
    prefix: String,
    http: reqwest::Client,
    _deps: Dependencies,
}

impl Stack {
    async fn up() -> Self {
        let exe = opsbox_exe();
        let bin_dir = exe.parent().expect("target dir");
        for name in ["opsbox-api", "opsbox-worker"] {
            assert!(
                bin_dir.join(name).is_file(),
                "{name} is missing: run `cargo build --workspace` before this test"
            );
        }
        let deps = Dependencies::start().await.expect("PostgreSQL and Redis");
        let database_url = deps
            .create_unique_database("queue_requeue")
            .await
            .expect("a database of this test's own");
        let stack = Self {
            state_dir: tempfile::tempdir().expect("state dir"),
            port: opsbox_harness::free_port().expect("free port"),
            database_url,
            redis_url: deps.redis_url().to_owned(),
            prefix: format!("queue_requeue_{}", Uuid::new_v4().simple()),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("http client"),
            _deps: deps,
        };
        let port = stack.port.to_string();
        let up = stack
            .opsbox(&[
                "up",
                "--api-replicas",
                "1",
                "--workers",
                "1",
                "--port",
                &port,
            ])
            .await;
        assert_success("up", &up);
        stack
    }

    async fn opsbox(&self, args: &[&str]) -> Output {
        let mut command = tokio::process::Command::new(opsbox_exe());
        command
            .args(args)
            .env("OPSBOX_STATE_DIR", self.state_dir.path())
            .env("DATABASE_URL", &self.database_url)
            .env("REDIS_URL", &self.redis_url)
            .env("OPSBOX_QUEUE_PREFIX", &self.prefix)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        tokio::time::timeout(COMMAND_TIMEOUT, command.output())
            .await
            .unwrap_or_else(|_| panic!("opsbox {args:?} took longer than {COMMAND_TIMEOUT:?}"))
            .expect("opsbox runs")
    }

    async fn queue(&self) -> QueueJson {
        let output = self.opsbox(&["queue", "--json"]).await;
        assert_success("queue --json", &output);
        serde_json::from_slice(&output.stdout).expect("queue JSON")
    }

    /// A task created and run through the API, as a client would: its id.
    async fn run_task(&self, kind: &str, payload: Value) -> Uuid {
        let base = format!("http://127.0.0.1:{}", self.port);
        let created: Value = self
            .http
            .post(format!("{base}/tasks"))
            .json(&json!({ "title": format!("{kind} for requeue"), "kind": kind, "payload": payload }))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("create task")
            .json()
            .await
            .expect("task JSON");
        let id = created["id"].as_str().expect("task id").to_owned();
        self.http
            .post(format!("{base}/tasks/{id}/run"))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("run task");
        Uuid::parse_str(&id).expect("uuid")
    }

    async fn task(&self, id: Uuid) -> Value {
        self.http
            .get(format!("http://127.0.0.1:{}/tasks/{id}", self.port))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("read task")
            .json()
            .await
            .expect("task JSON")
    }

    async fn delete_task(&self, id: Uuid) {
        self.http
            .delete(format!("http://127.0.0.1:{}/tasks/{id}", self.port))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("delete task");
    }

    /// What an operator does before a requeue: fix the cause. Here the payload that makes
    /// every attempt fail is changed in the database, the task's source of truth.
    async fn fix_payload(&self, id: Uuid, payload: Value) {
        let pool = sqlx::PgPool::connect(&self.database_url)
            .await
            .expect("connect");
        let fixed = sqlx::query("UPDATE tasks SET payload = $2 WHERE id = $1")
            .bind(id)
            .bind(payload)
            .execute(&pool)
            .await
            .expect("update payload");
        assert_eq!(fixed.rows_affected(), 1);
        pool.close().await;
    }

    async fn until_task_status(&self, id: Uuid, status: &str) -> Value {
        poll::until(
            &format!("task {id} to be {status}"),
            DEAD_LETTERED_WITHIN,
            || async {
                let task = self.task(id).await;
                (task["status"] == status).then_some(task)
            },
        )
        .await
    }

    fn audit_lines(&self) -> Vec<Value> {
        let text =
            std::fs::read_to_string(self.state_dir.path().join("audit.jsonl")).unwrap_or_default();
        text.lines()
            .map(|line| serde_json::from_str(line).expect("audit JSON line"))
            .collect()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if self.state_dir.path().join("daemon.json").exists() {
            let _ = std::process::Command::new(opsbox_exe())
                .arg("down")
                .env("OPSBOX_STATE_DIR", self.state_dir.path())
                .stdin(std::process::Stdio::null())
                .output();
        }
    }
}

fn opsbox_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_opsbox"))
}

fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "opsbox {what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn assert_refused(what: &str, output: &Output, says: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains(says),
        "opsbox {what} should fail saying {says:?} ({}):\nstderr:\n{stderr}",
        output.status
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn dead_letters_are_requeued_to_done_or_removed_when_they_can_never_run() {
    let stack = Stack::up().await;
    let always_flaky = json!({ "p": 1.0 });
    let first = stack.run_task("flaky", always_flaky.clone()).await;
    let second = stack.run_task("flaky", always_flaky).await;
    let doomed = stack.run_task("fail", json!({})).await;

    let queue = poll::until("three dead letters", DEAD_LETTERED_WITHIN, || async {
        let queue = stack.queue().await;
        (queue.dead.total == 3).then_some(queue)
    })
    .await;
    assert_eq!(queue.overview.depth.dead, 3);
    for id in [first, second, doomed] {
        let letter = queue
            .dead
            .letters
            .iter()
            .find(|letter| letter.task_id == id.to_string())
            .unwrap_or_else(|| panic!("no letter for {id}"));
        assert_eq!(letter.attempts, 3, "{letter:?}");
        assert!(
            letter.error.as_deref().is_some_and(|e| !e.is_empty()),
            "{letter:?}"
        );
        assert!(letter.dead_at.is_some(), "{letter:?}");
        assert_eq!(stack.task(id).await["status"], "FAILED");
    }
    let processed = queue.overview.processed.expect("the worker's metrics");
    assert_eq!(processed.by_outcome.get("dead"), Some(&3), "{processed:?}");

    // Bad requests: clear errors, non-zero exits, nothing changed.
    let unknown = Uuid::new_v4().to_string();
    let output = stack.opsbox(&["queue", "requeue", &unknown]).await;
    assert_refused("requeue UNKNOWN", &output, "has no dead letter");
    let output = stack.opsbox(&["queue", "requeue", "job-7"]).await;
    assert_refused("requeue job-7", &output, "\"job-7\" is not a task id");
    assert_eq!(stack.queue().await.dead.total, 3);

    // One letter, by id, after its cause is fixed: it runs again and completes.
    stack.fix_payload(first, json!({ "p": 0.0 })).await;
    let output = stack
        .opsbox(&["queue", "requeue", &first.to_string()])
        .await;
    assert_success("requeue FIRST", &output);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains(&format!("requeued {first}")),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let done = stack.until_task_status(first, "DONE").await;
    assert_eq!(
        done["attempts"], 1,
        "a fresh run counts its attempts from zero: {done}"
    );
    assert_eq!(done["error"], Value::Null);
    let output = stack
        .opsbox(&["queue", "requeue", &first.to_string()])
        .await;
    assert_refused("requeue FIRST again", &output, "has no dead letter");

    // All the rest: the fixed one runs, the deleted one can never run and is removed.
    stack.fix_payload(second, json!({ "p": 0.0 })).await;
    stack.delete_task(doomed).await;
    let output = stack.opsbox(&["queue", "requeue", "--all", "--json"]).await;
    assert_success("requeue --all", &output);
    let report: RequeueReport = serde_json::from_slice(&output.stdout).expect("report JSON");
    assert_eq!(report.requeued, [second.to_string()]);
    assert_eq!(report.discarded.len(), 1, "{report:?}");
    assert_eq!(report.discarded[0].task_id, doomed.to_string());
    assert_eq!(report.discarded[0].reason, "the task was deleted");
    assert_eq!(report.remaining, 0);
    stack.until_task_status(second, "DONE").await;
    let queue = stack.queue().await;
    assert_eq!(queue.dead.total, 0);
    assert!(queue.dead.letters.is_empty());

    // Every requeue is in the audit log, with its outcome.
    let requeues: Vec<(String, String)> = stack
        .audit_lines()
        .iter()
        .filter(|entry| entry["action"] == "queue.requeue")
        .map(|entry| {
            (
                entry["target"].as_str().unwrap_or_default().to_owned(),
                entry["outcome"]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        requeues,
        [
            (unknown, "error".to_owned()),
            ("job-7".to_owned(), "error".to_owned()),
            (first.to_string(), "ok".to_owned()),
            (first.to_string(), "error".to_owned()),
            ("all dead letters".to_owned(), "ok".to_owned()),
        ]
    );
}

/// The Redis half alone: the dead entry is swapped for the fresh job in one step.
#[tokio::test]
async fn requeue_dead_moves_the_entry_to_ready_once() {
    let deps = Dependencies::start().await.expect("Redis");
    let redis = Redis::new(deps.redis_url()).expect("redis url");
    let queue = JobQueue::new(
        redis,
        QueueKeys::new(format!("requeue_unit_{}", Uuid::new_v4().simple())),
    );
    let task = Uuid::new_v4();
    let mut dead = Job::new(task, Uuid::new_v4(), TaskKind::Fail, Default::default());
    dead.attempt = 3;
    dead.last_error = Some("fail: always".to_owned());
    queue
        .dead_letter("w1", "not held", &dead)
        .await
        .expect("bury");
    let other = Job::new(
        Uuid::new_v4(),
        Uuid::new_v4(),
        TaskKind::Io,
        Default::default(),
    );
    queue
        .dead_letter("w1", "not held", &other)
        .await
        .expect("bury another");

    let (raw, found) = queue.find_dead(task).await.expect("find").expect("found");
    assert_eq!(found.task_id, task);
    assert!(found.dead_at_ms.is_some(), "dead_letter stamps the time");
    assert_eq!(queue.find_dead(Uuid::new_v4()).await.expect("find"), None);

    let fresh = Job::new(task, Uuid::new_v4(), found.kind, found.trace.clone());
    assert!(queue.requeue_dead(&raw, &fresh).await.expect("requeue"));
    let depth = queue.depth().await.expect("depth");
    assert_eq!((depth.ready, depth.dead), (1, 1));
    assert_eq!(
        queue.oldest_ready().await.expect("oldest"),
        Some(fresh.clone())
    );
    assert_eq!(
        queue.without_live_job(&[task]).await.expect("live"),
        Vec::<Uuid>::new()
    );
    assert!(
        !queue.requeue_dead(&raw, &fresh).await.expect("again"),
        "the entry is gone after the first requeue"
    );

    let remaining = queue.dead_entries(10).await.expect("entries");
    assert_eq!(remaining.len(), 1);
    assert!(queue.discard_dead(&remaining[0]).await.expect("discard"));
    assert!(!queue
        .discard_dead(&remaining[0])
        .await
        .expect("discard again"));
    assert_eq!(queue.depth().await.expect("depth").dead, 0);
}
