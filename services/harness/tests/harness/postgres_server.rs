//! Private PostgreSQL: real queries, a stop that refuses connections at once, a restart that keeps port and data.

use std::net::{Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};

use opsbox_harness::{Dependencies, HarnessError};
use sqlx::{Connection, PgConnection};

use crate::support::pg_connect;

#[tokio::test]
async fn private_postgres_answers_real_queries() {
    let deps = Dependencies::private().await.expect("start dependencies");
    let mut connection = pg_connect(deps.database_url()).await;
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut connection)
        .await
        .expect("select 1");
    assert_eq!(one, 1);
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut connection)
        .await
        .expect("current database");
    assert_eq!(database, "opsbox");
    let server = deps.postgres().expect("private PostgreSQL");
    assert_eq!(
        deps.database_url(),
        format!("postgres://postgres@127.0.0.1:{}/opsbox", server.port())
    );
    assert_eq!(
        deps.admin_url(),
        format!("postgres://postgres@127.0.0.1:{}/postgres", server.port())
    );
}

#[tokio::test]
async fn stopped_postgres_refuses_at_once_and_restarts_on_its_port_with_its_data() {
    let deps = Dependencies::private().await.expect("start dependencies");
    let server = deps.postgres().expect("private PostgreSQL");
    let port = server.port();
    let first_pid = server.pid().expect("running");

    let mut connection = pg_connect(deps.database_url()).await;
    sqlx::raw_sql("CREATE TABLE survivors (name text); INSERT INTO survivors VALUES ('kept')")
        .execute(&mut connection)
        .await
        .expect("create and fill a table");
    connection.close().await.expect("close");

    server.stop().await.expect("stop PostgreSQL");
    assert_eq!(server.pid(), None);
    assert!(!server.is_running().await.expect("check"));
    let started = Instant::now();
    let attempt = tokio::time::timeout(
        Duration::from_secs(5),
        PgConnection::connect(deps.database_url()),
    )
    .await
    .expect("a connection to a stopped server must not hang");
    assert!(attempt.is_err(), "connecting to a stopped server must fail");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "failed slowly: {:?}",
        started.elapsed()
    );

    server.start().await.expect("start PostgreSQL again");
    assert_eq!(server.port(), port);
    let second_pid = server.pid().expect("running again");
    assert_ne!(second_pid, first_pid);
    let mut connection = pg_connect(deps.database_url()).await;
    let name: String = sqlx::query_scalar("SELECT name FROM survivors")
        .fetch_one(&mut connection)
        .await
        .expect("the table survived the restart");
    assert_eq!(name, "kept");

    // Both are no-ops in the state they ask for.
    server.start().await.expect("start while running");
    assert_eq!(server.pid(), Some(second_pid));
    server.stop().await.expect("stop");
    server.stop().await.expect("stop while stopped");
}

#[tokio::test]
async fn restart_reports_a_port_taken_meanwhile() {
    let deps = Dependencies::private().await.expect("start dependencies");
    let server = deps.postgres().expect("private PostgreSQL");
    server.stop().await.expect("stop PostgreSQL");

    let squatter =
        TcpListener::bind((Ipv4Addr::LOCALHOST, server.port())).expect("take the freed port");
    let error = server.start().await.expect_err("the port is taken");
    assert!(
        matches!(error, HarnessError::PortTaken { port, .. } if port == server.port()),
        "unexpected error: {error}"
    );
    assert_eq!(server.pid(), None);

    drop(squatter);
    server.start().await.expect("start once the port is free");
    let mut connection = pg_connect(deps.database_url()).await;
    sqlx::query("SELECT 1")
        .execute(&mut connection)
        .await
        .expect("select 1");
}

#[tokio::test]
async fn paused_postgres_hangs_resumes_and_stops_quickly_while_paused() {
    let deps = Dependencies::private().await.expect("start dependencies");
    let server = deps.postgres().expect("private PostgreSQL");
    let mut connection = pg_connect(deps.database_url()).await;

    server.pause().await.expect("pause");
    assert!(server.is_paused());
    assert!(
        server.is_running().await.expect("check"),
        "paused still runs"
    );
    // The backend of an open connection is frozen too, not only the postmaster.
    let frozen = tokio::time::timeout(
        Duration::from_millis(300),
        sqlx::query("SELECT 1").execute(&mut connection),
    )
    .await;
    assert!(
        frozen.is_err(),
        "a paused server must not answer: {frozen:?}"
    );

    server.resume().await.expect("resume");
    assert!(!server.is_paused());
    let mut fresh = pg_connect(deps.database_url()).await;
    sqlx::query("SELECT 1")
        .execute(&mut fresh)
        .await
        .expect("answers after resume");
    drop(connection);

    server.pause().await.expect("pause again");
    let started = Instant::now();
    server.stop().await.expect("stop while paused");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopping a paused server waited for its grace: {:?}",
        started.elapsed()
    );
    assert!(!server.is_paused());
    server
        .resume()
        .await
        .expect_err("a stopped server cannot be resumed");
}
