//! Children die with the supervisor, even when the supervisor is SIGKILLed.

use std::io::Read;
use std::path::PathBuf;
use std::process::Stdio;

use opsbox::env::local::supervisor::Supervisor;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::harness::{fast_config, is_gone, sh, wait_for, wait_until_gone, DEADLINE};

/// Set when this test binary is re-executed as the supervisor process to kill.
const HELPER_DIR: &str = "OPSBOX_TEST_SUPERVISOR_HELPER_DIR";
const PID_LINE: &str = "SUPERVISED_PID=";

/// The other half of the test below, in a process of its own: when this binary is
/// started with [`HELPER_DIR`] set, it runs a supervisor before the test harness ever
/// starts, and exits when its stdin closes. Not a test, so nothing passes by doing nothing.
// SAFETY (of running before main): on Linux std's environment, threads and I/O work in
// a constructor; in a normal run it reads one variable and returns.
#[ctor::ctor(unsafe)]
fn supervisor_process_to_be_killed() {
    let Some(dir) = std::env::var_os(HELPER_DIR).map(PathBuf::from) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let supervisor = Supervisor::new(fast_config()).expect("supervisor");
        supervisor
            .add(sh("api-1", "exec sleep 60", &dir))
            .expect("added");
        let pid = wait_for(&supervisor, "api-1", "spawned", |s| s.pid.is_some())
            .await
            .pid
            .expect("pid");
        println!("{PID_LINE}{pid}");
        // Lives until killed, or until the test that started it closes our stdin.
        tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new()))
            .await
            .expect("stdin reader")
            .expect("stdin");
    });
    std::process::exit(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_die_when_the_supervisor_is_sigkilled() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut helper = tokio::process::Command::new(std::env::current_exe().expect("test binary"))
        .env(HELPER_DIR, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("helper supervisor started");
    let mut lines = BufReader::new(helper.stdout.take().expect("stdout")).lines();
    let supervised = tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.expect("helper output") {
            if let Some((_, pid)) = line.split_once(PID_LINE) {
                return pid.trim().parse::<u32>().expect("pid");
            }
        }
        panic!("the helper supervisor ended without starting its instance");
    })
    .await
    .expect("helper reported its instance in time");
    assert!(
        !is_gone(supervised),
        "the instance should run while its supervisor does"
    );

    helper.start_kill().expect("SIGKILL the supervisor");
    helper.wait().await.expect("supervisor reaped");

    wait_until_gone(supervised).await;
    assert!(is_gone(supervised));
}
