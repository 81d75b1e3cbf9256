//! Start and teardown of the pair: drop ends the processes, state dirs persist, external URLs start nothing.

use std::time::Duration;

use opsbox_harness::{Dependencies, HarnessError};

use crate::support::{init_test_logging, pg_connect, process_exists, redis_connection, wait_until};

#[tokio::test]
async fn dropping_the_dependencies_ends_both_servers_and_removes_the_state_dir() {
    init_test_logging();
    let deps = Dependencies::private().await.expect("start dependencies");
    let postgres_pid = deps
        .postgres()
        .and_then(|server| server.pid())
        .expect("PostgreSQL pid");
    let redis_pid = deps
        .redis()
        .and_then(|server| server.pid())
        .expect("Redis pid");
    let state_dir = deps.state_dir().to_path_buf();
    assert!(process_exists(postgres_pid) && process_exists(redis_pid));
    assert!(state_dir.join("postgres").join("postgres.log").is_file());
    assert!(state_dir.join("redis").join("redis.log").is_file());

    tracing::info!("dropping");
    drop(deps);
    tracing::info!("dropped");
    wait_until("both servers are gone", Duration::from_secs(15), || async {
        !process_exists(postgres_pid) && !process_exists(redis_pid)
    })
    .await;
    assert!(!state_dir.exists(), "the temporary state dir is removed");
}

#[tokio::test]
async fn a_persistent_state_dir_keeps_the_database_across_runs() {
    let state = tempfile::tempdir().expect("temp dir");
    let state_dir = state.path().join("opsbox-state");

    let first = Dependencies::builder()
        .state_dir(&state_dir)
        .start()
        .await
        .expect("first run");
    let mut connection = pg_connect(first.database_url()).await;
    sqlx::raw_sql("CREATE TABLE runs (n int); INSERT INTO runs VALUES (1)")
        .execute(&mut connection)
        .await
        .expect("write in the first run");
    drop(connection);
    first.shutdown().await.expect("shut down the first run");
    assert!(state_dir
        .join("postgres")
        .join("data")
        .join("PG_VERSION")
        .is_file());

    let second = Dependencies::builder()
        .state_dir(&state_dir)
        .start()
        .await
        .expect("second run");
    let mut connection = pg_connect(second.database_url()).await;
    let n: i32 = sqlx::query_scalar("SELECT n FROM runs")
        .fetch_one(&mut connection)
        .await
        .expect("the first run's table is still there");
    assert_eq!(n, 1);
    drop(connection);
    drop(second);
    assert!(state_dir.exists(), "a given state dir is kept");
}

#[tokio::test]
async fn external_urls_are_used_as_given_and_never_stopped() {
    let private = Dependencies::private().await.expect("start dependencies");
    let external = Dependencies::builder()
        .external_postgres(private.database_url())
        .external_redis(private.redis_url())
        .start()
        .await
        .expect("use the private servers as external ones");
    assert!(external.postgres().is_none() && external.redis().is_none());
    assert_eq!(external.database_url(), private.database_url());
    assert_eq!(external.admin_url(), private.admin_url());
    assert_eq!(external.redis_url(), private.redis_url());
    let env: Vec<(&str, &str)> = external.env_vars().to_vec();
    assert_eq!(
        env,
        [
            ("DATABASE_URL", private.database_url()),
            ("OPSBOX_TEST_ADMIN_URL", private.admin_url()),
            ("REDIS_URL", private.redis_url()),
        ]
    );

    let database_url = external
        .create_unique_database("external")
        .await
        .expect("create a database through DATABASE_URL");
    let mut connection = pg_connect(&database_url).await;
    sqlx::query("SELECT 1")
        .execute(&mut connection)
        .await
        .expect("use it");
    drop(connection);

    external
        .shutdown()
        .await
        .expect("shutting down external dependencies is a no-op");
    let mut connection = pg_connect(private.database_url()).await;
    sqlx::query("SELECT 1")
        .execute(&mut connection)
        .await
        .expect("PostgreSQL still runs");
    let mut redis = redis_connection(private.redis_url()).await;
    let pong: String = redis::cmd("PING")
        .query_async(&mut redis)
        .await
        .expect("Redis still runs");
    assert_eq!(pong, "PONG");
}

#[tokio::test]
async fn a_database_url_that_is_not_postgres_is_refused_before_starting_anything() {
    let outcome = Dependencies::builder()
        .external_postgres("mysql://root@127.0.0.1/app")
        .external_redis("redis://127.0.0.1:1")
        .start()
        .await;
    assert!(
        matches!(outcome, Err(HarnessError::InvalidPostgresUrl { .. })),
        "unexpected outcome: {:?}",
        outcome.err()
    );
}
