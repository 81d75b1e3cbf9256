//! Helpers shared by the tests: polling with a deadline, process checks, connections.

use std::future::Future;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use sqlx::{Connection, PgConnection};

/// Between two looks at a condition.
const POLL: Duration = Duration::from_millis(20);

/// Sends the harness's logs to the test output when `TEST_LOG` is set (e.g. `TEST_LOG=debug`).
pub fn init_test_logging() {
    if let Ok(filter) = std::env::var("TEST_LOG") {
        // Fails only when a previous test in this process installed it already.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
}

/// Polls `condition` until it holds; panics naming `what` after `within`.
pub async fn wait_until<Condition, Checked>(what: &str, within: Duration, mut condition: Condition)
where
    Condition: FnMut() -> Checked,
    Checked: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !condition().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting until {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Blocking variant of [`wait_until`] for tests without a runtime.
pub fn wait_until_blocking(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting until {what}"
        );
        std::thread::sleep(POLL);
    }
}

/// True unless the kernel says no process has this pid (zombies still count as existing).
pub fn process_exists(pid: u32) -> bool {
    let pid = Pid::from_raw(i32::try_from(pid).expect("pid fits in i32"));
    kill(pid, None) != Err(Errno::ESRCH)
}

pub async fn pg_connect(url: &str) -> PgConnection {
    PgConnection::connect(url)
        .await
        .unwrap_or_else(|error| panic!("connect to {url}: {error}"))
}

pub async fn redis_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("valid Redis URL")
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|error| panic!("connect to {url}: {error}"))
}
