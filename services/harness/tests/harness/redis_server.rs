//! Private Redis: real commands, pause as a hung dependency, restart on the same port.

use std::time::Duration;

use opsbox_harness::Dependencies;
use redis::AsyncCommands;

use crate::support::redis_connection;

#[tokio::test]
async fn private_redis_answers_ping_set_get() {
    let deps = Dependencies::private().await.expect("start dependencies");
    let server = deps.redis().expect("private Redis");
    assert_eq!(
        deps.redis_url(),
        format!("redis://127.0.0.1:{}", server.port())
    );
    let mut connection = redis_connection(deps.redis_url()).await;
    let pong: String = redis::cmd("PING")
        .query_async(&mut connection)
        .await
        .expect("ping");
    assert_eq!(pong, "PONG");
    let () = connection.set("greeting", "hello").await.expect("set");
    let value: String = connection.get("greeting").await.expect("get");
    assert_eq!(value, "hello");
}

#[tokio::test]
async fn paused_redis_times_out_and_answers_again_after_resume() {
    let deps = Dependencies::private().await.expect("start dependencies");
    let server = deps.redis().expect("private Redis");
    let mut connection = redis_connection(deps.redis_url()).await;

    server.pause().await.expect("pause");
    assert!(server.is_paused());
    assert!(
        server.is_running().await.expect("check"),
        "a paused server still runs"
    );
    let ping = redis::cmd("PING");
    let outcome = tokio::time::timeout(
        Duration::from_millis(300),
        ping.query_async::<String>(&mut connection),
    )
    .await;
    assert!(
        outcome.is_err(),
        "a paused server must not answer: {outcome:?}"
    );

    server.resume().await.expect("resume");
    assert!(!server.is_paused());
    // The same connection recovers, as the services' long-lived connections must.
    let pong: String = tokio::time::timeout(
        Duration::from_secs(5),
        redis::cmd("PING").query_async(&mut connection),
    )
    .await
    .expect("answers after resume")
    .expect("ping");
    assert_eq!(pong, "PONG");
}

#[tokio::test]
async fn restarted_redis_keeps_its_port_and_starts_empty() {
    let deps = Dependencies::private().await.expect("start dependencies");
    let server = deps.redis().expect("private Redis");
    let port = server.port();
    let mut connection = redis_connection(deps.redis_url()).await;
    let () = connection.set("job", "queued").await.expect("set");

    server.pause().await.expect("pause");
    // Stopping a paused server must not wait for it to be resumed.
    server.stop().await.expect("stop");
    assert_eq!(server.pid(), None);
    assert!(!server.is_paused());
    assert!(redis::Client::open(deps.redis_url())
        .expect("valid URL")
        .get_multiplexed_async_connection()
        .await
        .is_err());

    server.start().await.expect("start again");
    assert_eq!(server.port(), port);
    let mut connection = redis_connection(deps.redis_url()).await;
    let value: Option<String> = connection.get("job").await.expect("get");
    assert_eq!(value, None, "no persistence: a restart loses the data");
}
