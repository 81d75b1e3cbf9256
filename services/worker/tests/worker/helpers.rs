//! A fresh world per test: a migrated database of its own, a queue prefix of
//! its own, and the real `opsbox-worker` binary started as child processes.

use std::collections::HashMap;
use std::fs::File;
use std::future::Future;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use opsbox_common::db::migrate_up;
use opsbox_common::model::{Task, TaskKind, TaskStatus, TASK_COLUMNS};
use opsbox_common::queue::{Job, JobQueue, QueueDepth, QueueKeys};
use opsbox_common::redis_conn::Redis;
use opsbox_harness::{die_with_parent, Dependencies};
use serde_json::Value;
use sqlx::postgres::{PgPool, PgPoolOptions};
use tempfile::TempDir;
use uuid::Uuid;

/// Upper bound of every wait: generous for a loaded CI machine, and only
/// reached when a test fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// How often a condition is looked at while waiting for it.
const POLL: Duration = Duration::from_millis(50);

pub struct TestWorld {
    pub deps: Dependencies,
    pub database_url: String,
    pub db: PgPool,
    pub queue: JobQueue,
    logs: TempDir,
}

impl TestWorld {
    /// Shared servers when DATABASE_URL / REDIS_URL are set, private ones otherwise.
    pub async fn start() -> Self {
        Self::on(
            Dependencies::start()
                .await
                .expect("start Postgres and Redis"),
        )
        .await
    }

    /// Servers of its own, for tests that stop or flush them.
    pub async fn private() -> Self {
        Self::on(
            Dependencies::private()
                .await
                .expect("start private Postgres and Redis"),
        )
        .await
    }

    async fn on(deps: Dependencies) -> Self {
        let database_url = deps
            .create_unique_database("worker")
            .await
            .expect("create a database");
        let db = PgPoolOptions::new()
            .max_connections(4)
            .connect(&database_url)
            .await
            .expect("connect");
        migrate_up(&db).await.expect("migrate");
        let redis = Redis::new(deps.redis_url()).expect("redis url");
        let prefix = format!("test_{}", Uuid::new_v4().simple());
        let queue = JobQueue::new(redis, QueueKeys::new(prefix));
        let logs = tempfile::tempdir().expect("log dir");
        Self {
            deps,
            database_url,
            db,
            queue,
            logs,
        }
    }

    /// A task in QUEUED with a fresh run, not yet enqueued: (task id, run id).
    pub async fn insert_task(&self, kind: TaskKind, payload: Value) -> (Uuid, Uuid) {
        let (id, run_id) = (Uuid::new_v4(), Uuid::new_v4());
        sqlx::query(
            "INSERT INTO tasks (id, title, kind, payload, status, run_id) VALUES ($1, $2, $3, $4, 'QUEUED', $5)",
        )
        .bind(id)
        .bind(format!("{} task", kind.as_str()))
        .bind(kind.as_str())
        .bind(payload)
        .bind(run_id)
        .execute(&self.db)
        .await
        .expect("insert task");
        (id, run_id)
    }

    /// A task in QUEUED with its job in the ready list, as the API leaves it.
    pub async fn queue_task(&self, kind: TaskKind, payload: Value) -> Uuid {
        let (id, run_id) = self.insert_task(kind, payload).await;
        self.enqueue(&Job::new(id, run_id, kind, HashMap::new()))
            .await;
        id
    }

    pub async fn enqueue(&self, job: &Job) {
        self.queue.enqueue(job).await.expect("enqueue");
    }

    pub async fn task(&self, id: Uuid) -> Task {
        sqlx::query_as(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1"))
            .bind(id)
            .fetch_one(&self.db)
            .await
            .expect("read task")
    }

    pub async fn task_exists(&self, id: Uuid) -> bool {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tasks WHERE id = $1)")
            .bind(id)
            .fetch_one(&self.db)
            .await
            .expect("look for task")
    }

    /// The task's attempts, oldest first.
    pub async fn runs(&self, id: Uuid) -> Vec<Run> {
        sqlx::query_as(
            "SELECT attempt, worker, outcome, error, finished_at IS NOT NULL AS finished \
             FROM task_runs WHERE task_id = $1 ORDER BY started_at",
        )
        .bind(id)
        .fetch_all(&self.db)
        .await
        .expect("read runs")
    }

    /// Waits until the task is in `status`, and returns it.
    pub async fn until_status(&self, id: Uuid, status: TaskStatus) -> Task {
        eventually(&format!("task {id} to be {status:?}"), || async {
            let task = self.task(id).await;
            (task.status == status).then_some(task)
        })
        .await
    }

    /// Waits until the queue holds exactly this many jobs in each part. The
    /// worker writes an outcome before it tells the queue, so a test that saw
    /// the outcome must wait for the queue too.
    pub async fn until_queue_is(&self, ready: u64, delayed: u64, processing: u64, dead: u64) {
        let expected = QueueDepth {
            ready,
            delayed,
            processing,
            dead,
        };
        eventually(&format!("the queue to be {expected:?}"), || async {
            (self.queue.depth().await.expect("depth") == expected).then_some(())
        })
        .await;
    }

    /// The raw jobs in a list of the queue (`ready`, `dead`, ...).
    pub async fn list(&self, key: String) -> Vec<String> {
        self.queue
            .redis()
            .run(|mut c| async move {
                redis::cmd("LRANGE")
                    .arg(key)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut c)
                    .await
            })
            .await
            .expect("LRANGE")
    }

    pub async fn ready_jobs(&self) -> Vec<Job> {
        let raw = self.list(self.queue.keys().ready()).await;
        raw.iter().map(|r| Job::decode(r).expect("a job")).collect()
    }

    pub async fn redis_command(&self, command: redis::Cmd) -> redis::Value {
        self.queue
            .redis()
            .run(|mut c| async move { command.query_async(&mut c).await })
            .await
            .expect("redis command")
    }

    /// A worker for this world, with test-sized timeouts.
    pub fn worker(&self) -> WorkerBuilder<'_> {
        let env = HashMap::from([
            ("DATABASE_URL", self.database_url.clone()),
            ("REDIS_URL", self.deps.redis_url().to_owned()),
            ("OPSBOX_QUEUE_PREFIX", self.queue.keys().prefix().to_owned()),
            ("OPSBOX_WORKER_CONCURRENCY", "2".to_owned()),
            ("OPSBOX_WORKER_METRICS_ADDR", "127.0.0.1:0".to_owned()),
            ("OPSBOX_VISIBILITY_TIMEOUT", "2s".to_owned()),
            ("OPSBOX_BACKOFF_BASE", "50ms".to_owned()),
            ("OPSBOX_SHUTDOWN_TIMEOUT", "5s".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ]);
        WorkerBuilder { world: self, env }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct Run {
    pub attempt: i32,
    pub worker: String,
    pub outcome: Option<String>,
    pub error: Option<String>,
    pub finished: bool,
}

pub struct WorkerBuilder<'a> {
    world: &'a TestWorld,
    env: HashMap<&'static str, String>,
}

impl WorkerBuilder<'_> {
    pub fn env(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.env.insert(name, value.into());
        self
    }

    /// Starts the binary and waits until it serves its probes.
    pub async fn spawn(self) -> Worker {
        let log_path = self
            .world
            .logs
            .path()
            .join(format!("worker-{}.log", Uuid::new_v4().simple()));
        let log = File::create(&log_path).expect("create log");
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_opsbox-worker"));
        command
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log);
        // The worker dies with the test thread that started it, even when the
        // test process is killed, so no worker outlives its test.
        die_with_parent(&mut command);
        let child = tokio::process::Command::from(command)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn opsbox-worker");
        let mut worker = Worker {
            child,
            log_path,
            base_url: String::new(),
            http: reqwest::Client::new(),
        };
        let addr = eventually("the worker to listen", || async { worker.logged_addr() }).await;
        worker.base_url = format!("http://{addr}");
        worker
    }
}

pub struct Worker {
    child: tokio::process::Child,
    log_path: PathBuf,
    base_url: String,
    http: reqwest::Client,
}

impl Worker {
    fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id().expect("worker still running")).expect("pid"))
    }

    pub fn signal(&self, signal: Signal) {
        kill(self.pid(), signal).expect("signal the worker");
    }

    /// Waits for the process to exit by itself.
    pub async fn exit_status(&mut self) -> ExitStatus {
        tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("the worker did not exit in time; log:\n{}", self.log()))
            .expect("wait for the worker")
    }

    /// GET a path of the probe server: (status, body).
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base_url))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .expect("probe request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("probe body"))
    }

    pub async fn metrics(&self) -> String {
        let (status, body) = self.get("/metrics").await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(&self.log_path) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// The worker's id, from its logs.
    pub fn worker_id(&self) -> Option<String> {
        self.log_lines().find_map(|line| {
            line.get("worker_id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
    }

    fn logged_addr(&self) -> Option<String> {
        self.log_lines()
            .find(|line| {
                line.get("message").and_then(Value::as_str) == Some("probes and metrics listening")
            })
            .and_then(|line| line.get("addr").and_then(Value::as_str).map(str::to_owned))
    }

    /// The JSON log events written so far.
    pub fn log_lines(&self) -> impl Iterator<Item = Value> {
        let file = File::open(&self.log_path).ok();
        file.into_iter()
            .flat_map(|f| BufReader::new(f).lines())
            .map_while(Result::ok)
            .filter_map(|line| serde_json::from_str(&line).ok())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // A failing test shows what the worker said; TEST_LOG shows it always.
        if std::thread::panicking() || std::env::var_os("TEST_LOG").is_some() {
            eprintln!(
                "--- opsbox-worker log ({}) ---\n{}",
                self.log_path.display(),
                self.log()
            );
        }
    }
}

/// Polls `probe` until it yields a value; panics after [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what} after {PATIENCE:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// The value of the sample of `name` whose labels include `labels`.
pub fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (label_text, value) = match rest.strip_prefix('{') {
            Some(rest) => rest.split_once("} ")?,
            None => ("", rest.strip_prefix(' ')?),
        };
        let all_match = labels
            .iter()
            .all(|(key, expected)| label_text.contains(&format!("{key}=\"{expected}\"")));
        all_match.then(|| value.trim().parse().ok()).flatten()
    })
}
