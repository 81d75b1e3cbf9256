//! The `opsbox-harness` binary: `exec` runs a command against the servers, `up` keeps them in the foreground.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use opsbox_harness::Dependencies;

use crate::support::{pg_connect, redis_connection, wait_until_blocking};

const HARNESS: &str = env!("CARGO_BIN_EXE_opsbox-harness");
/// Generous: start-up is about a second, but CI machines can be busy.
const PROCESS_DEADLINE: Duration = Duration::from_secs(60);

/// The harness with no URLs inherited, so it starts private servers.
fn harness() -> Command {
    let mut command = Command::new(HARNESS);
    for name in ["DATABASE_URL", "OPSBOX_TEST_ADMIN_URL", "REDIS_URL"] {
        command.env_remove(name);
    }
    command
}

fn wait_with_deadline(child: &mut Child) -> ExitStatus {
    let mut status = None;
    wait_until_blocking("the harness exits", PROCESS_DEADLINE, || {
        status = child.try_wait().expect("wait for the harness");
        status.is_some()
    });
    status.expect("exited")
}

fn port_of(url: &str) -> u16 {
    let (_scheme, rest) = url.split_once("://").expect("url has a scheme");
    let authority = rest.split('/').next().expect("url has an authority");
    let host_port = authority.rsplit('@').next().expect("url has a host");
    let (_host, port) = host_port.rsplit_once(':').expect("url has a port");
    port.parse().expect("numeric port")
}

fn signal(child: &Child, signal: Signal) {
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits"));
    kill(pid, signal).expect("signal the harness");
}

#[test]
fn exec_exports_the_urls_and_propagates_the_exit_code() {
    let status = harness()
        .args([
            "exec",
            "--",
            "sh",
            "-c",
            r#"test -n "$DATABASE_URL" && test -n "$REDIS_URL""#,
        ])
        .status()
        .expect("run the harness");
    assert_eq!(status.code(), Some(0));

    let status = harness()
        .args(["exec", "--", "sh", "-c", "exit 3"])
        .status()
        .expect("run the harness");
    assert_eq!(status.code(), Some(3));

    let status = harness()
        .args(["exec", "--", "/nonexistent/opsbox-command"])
        .status()
        .expect("run the harness");
    assert_eq!(
        status.code(),
        Some(127),
        "the shell's code for a missing command"
    );
}

#[test]
fn exec_servers_answer_and_are_gone_afterwards() {
    let state = tempfile::tempdir().expect("temp dir");
    let urls = state.path().join("urls");
    // psql and redis-cli come with the server packages the harness needs anyway.
    let script = r#"
        psql "$DATABASE_URL" -Atc 'select current_database()' | grep -qx opsbox &&
        psql "$OPSBOX_TEST_ADMIN_URL" -Atc 'select current_database()' | grep -qx postgres &&
        redis-cli -u "$REDIS_URL" ping | grep -qx PONG &&
        printf '%s\n%s\n' "$DATABASE_URL" "$REDIS_URL" > "$0"
    "#;
    let status = harness()
        .arg("exec")
        .arg("--state-dir")
        .arg(state.path().join("state"))
        .arg("--")
        .args(["sh", "-c", script])
        .arg(&urls)
        .status()
        .expect("run the harness");
    assert_eq!(status.code(), Some(0), "the servers answered the command");

    let written = std::fs::read_to_string(&urls).expect("the command wrote the URLs");
    for url in written.lines() {
        let port = port_of(url);
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "{url} still accepts connections after exec"
        );
    }
}

#[tokio::test]
async fn exec_passes_given_urls_through_and_leaves_those_servers_alone() {
    let deps = Dependencies::private().await.expect("start dependencies");
    let script = r#"test "$DATABASE_URL" = "$1" && test "$OPSBOX_TEST_ADMIN_URL" = "$2" && test "$REDIS_URL" = "$3""#;
    let status = tokio::process::Command::new(HARNESS)
        .env("DATABASE_URL", deps.database_url())
        .env_remove("OPSBOX_TEST_ADMIN_URL")
        .env("REDIS_URL", deps.redis_url())
        .args(["exec", "--", "sh", "-c", script, "sh"])
        .args([deps.database_url(), deps.admin_url(), deps.redis_url()])
        .status()
        .await
        .expect("run the harness");
    assert_eq!(status.code(), Some(0));

    let mut connection = pg_connect(deps.database_url()).await;
    sqlx::query("SELECT 1")
        .execute(&mut connection)
        .await
        .expect("PostgreSQL still runs");
    let mut redis = redis_connection(deps.redis_url()).await;
    let pong: String = redis::cmd("PING")
        .query_async(&mut redis)
        .await
        .expect("Redis still runs");
    assert_eq!(pong, "PONG");
}

#[test]
fn exec_forwards_sigterm_to_the_command() {
    let state = tempfile::tempdir().expect("temp dir");
    let ready = state.path().join("ready");
    // `wait` returns as soon as a trapped signal arrives, unlike a foreground sleep.
    let script = r#"trap 'kill $!; exit 42' TERM; sleep 60 & touch "$0"; wait"#;
    let mut child = harness()
        .args(["exec", "--", "sh", "-c", script])
        .arg(&ready)
        .spawn()
        .expect("start the harness");
    wait_until_blocking("the command runs", PROCESS_DEADLINE, || ready.exists());

    signal(&child, Signal::SIGTERM);
    let status = wait_with_deadline(&mut child);
    assert_eq!(
        status.code(),
        Some(42),
        "the command's trap ran and its code came back"
    );
}

#[test]
fn up_prints_the_urls_and_stops_on_sigterm() {
    let state = tempfile::tempdir().expect("temp dir");
    let state_dir = state.path().join("state");
    let mut child = harness()
        .arg("up")
        .arg("--state-dir")
        .arg(&state_dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the harness");

    // A thread reads, so a silent harness fails the test by deadline instead of hanging it.
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut database_url = None;
    let mut redis_url = None;
    while database_url.is_none() || redis_url.is_none() {
        let line = lines_rx
            .recv_timeout(PROCESS_DEADLINE)
            .expect("the harness prints both URLs");
        if let Some(url) = line.strip_prefix("DATABASE_URL=") {
            database_url = Some(url.to_string());
        } else if let Some(url) = line.strip_prefix("REDIS_URL=") {
            redis_url = Some(url.to_string());
        } else {
            panic!("unexpected line on stdout: {line}");
        }
    }
    let database_url = database_url.expect("DATABASE_URL");
    let redis_url = redis_url.expect("REDIS_URL");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut connection = pg_connect(&database_url).await;
        sqlx::query("SELECT 1")
            .execute(&mut connection)
            .await
            .expect("select 1");
        let mut redis = redis_connection(&redis_url).await;
        let pong: String = redis::cmd("PING")
            .query_async(&mut redis)
            .await
            .expect("ping");
        assert_eq!(pong, "PONG");
    });

    signal(&child, Signal::SIGTERM);
    let status = wait_with_deadline(&mut child);
    assert!(status.success(), "up exits cleanly on SIGTERM: {status}");
    for url in [&database_url, &redis_url] {
        assert!(
            TcpStream::connect(("127.0.0.1", port_of(url))).is_err(),
            "{url} still accepts connections"
        );
    }
    assert!(
        Path::new(&state_dir)
            .join("postgres")
            .join("data")
            .join("PG_VERSION")
            .is_file(),
        "the state dir keeps the database"
    );
}
