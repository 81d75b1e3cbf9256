//! Spawns the real API in-process on a free port with a fresh, migrated
//! database and its own queue prefix, and offers typed request helpers.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opsbox_api::config::{Config, StackConfig, Track};
use opsbox_api::startup::Application;
use opsbox_common::db;
use opsbox_common::queue::{JobQueue, QueueKeys};
use opsbox_common::redis_conn::Redis;
use opsbox_harness::Dependencies;
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: PgPool,
    pub queue: JobQueue,
    pub deps: Arc<Dependencies>,
    stop: Option<oneshot::Sender<()>>,
    pub server: Option<JoinHandle<anyhow::Result<()>>>,
}

pub fn config(database_url: &str, redis_url: &str) -> Config {
    Config {
        stack: StackConfig {
            database_url: database_url.parse().expect("infallible"),
            redis_url: redis_url.parse().expect("infallible"),
            queue_prefix: format!("test-{}", uuid::Uuid::new_v4()),
            release: "test".to_owned(),
            track: Track::Stable,
        },
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        db_max_connections: 8,
        shutdown_delay: Duration::ZERO,
        drain_timeout: Duration::from_secs(5),
        fault_error_rate: 0.0,
        fault_latency_ms: 0,
        admin_token: None,
        flags_file: None,
        flags_poll_interval: Duration::from_secs(5),
    }
}

/// An app on the shared dependencies (DATABASE_URL/REDIS_URL when set).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let deps = Dependencies::start().await.expect("start dependencies");
    spawn_on(Arc::new(deps), adjust).await
}

/// An app on private dependencies the test may stop and restart.
pub async fn spawn_app_private() -> TestApp {
    let deps = Dependencies::private()
        .await
        .expect("start private dependencies");
    spawn_on(Arc::new(deps), |_| {}).await
}

pub async fn spawn_on(deps: Arc<Dependencies>, adjust: impl FnOnce(&mut Config)) -> TestApp {
    // Installs the trace pipeline so request spans have real trace ids; the
    // guard lives for the rest of the test process.
    static TELEMETRY: std::sync::OnceLock<Option<opsbox_common::telemetry::Telemetry>> =
        std::sync::OnceLock::new();
    TELEMETRY.get_or_init(|| opsbox_common::telemetry::init_for_tests("opsbox-api-test"));
    let database_url = deps
        .create_unique_database("api")
        .await
        .expect("create database");
    let migrator_pool = db::connect_lazy(&database_url, 2).expect("pool");
    db::migrate_up(&migrator_pool).await.expect("migrate");
    migrator_pool.close().await;

    let mut config = config(&database_url, deps.redis_url());
    adjust(&mut config);
    let keys = QueueKeys::new(config.stack.queue_prefix.clone());
    let app = Application::build(config).await.expect("build app");
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    TestApp {
        base,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client"),
        db: db::connect_lazy(&database_url, 4).expect("pool"),
        queue: JobQueue::new(Redis::new(deps.redis_url()).expect("redis url"), keys),
        deps,
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Asks the server to shut down, as SIGTERM would.
    pub fn signal_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub async fn create(&self, body: Value) -> reqwest::Response {
        self.client
            .post(self.url("/tasks"))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Creates a task and returns its JSON.
    pub async fn create_ok(&self, title: &str) -> Value {
        let response = self.create(serde_json::json!({ "title": title })).await;
        assert_eq!(response.status(), 201);
        response.json().await.expect("json")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn post(&self, path: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn metrics(&self) -> String {
        self.get("/metrics").await.text().await.expect("text")
    }
}

/// Asserts the JSON error shape and returns its code.
pub async fn error_code(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let body: Value = response.json().await.expect("error body is JSON");
    let message = body["error"]["message"].as_str().expect("error.message");
    assert!(!message.is_empty());
    body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_owned()
}

/// Polls `check` until it yields a value or `within` passes.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
