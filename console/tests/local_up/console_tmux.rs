//! The console end to end, as a person uses it: in a real terminal (tmux), against a
//! running local environment. It reads the screen with `capture-pane`, types keys with
//! `send-keys`, and checks that quitting gives the terminal back as it was.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::harness::{assert_success, opsbox_exe, until, LocalEnv};

/// How long the screen may take to show a change on a loaded two-core machine.
const DEADLINE: Duration = Duration::from_secs(90);

/// A bad release is judged after 6 s of traffic at 50%.
const BAD_CANARY_STEPS: &str = "rollout:\n  steps:\n    - setWeight: 50\n    - pause: {duration: 6s}\n    - analysis: {}\n    - setWeight: 100\n";

/// A tmux server of this test's own (its own socket), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// A 160×48 session running a plain bash in `dir`.
    fn start(dir: &Path) -> Self {
        let socket = format!("opsbox-test-{}", std::process::id());
        let tmux = Self { socket };
        let status = tmux
            .command()
            .args([
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "console",
                "-x",
                "160",
                "-y",
                "48",
                "-c",
            ])
            .arg(dir)
            .arg("bash --norc --noprofile")
            .status()
            .expect("tmux runs (make test installs it: scripts/deps.sh)");
        assert!(status.success(), "tmux new-session failed");
        tmux
    }

    fn command(&self) -> std::process::Command {
        let mut command = std::process::Command::new("tmux");
        command.args(["-L", &self.socket]).stdin(Stdio::null());
        command
    }

    /// Types `text` literally.
    fn type_text(&self, text: &str) {
        let status = self
            .command()
            .args(["send-keys", "-t", "console", "-l", text])
            .status()
            .expect("send-keys");
        assert!(status.success());
    }

    /// Presses named keys (`Enter`, `Escape`, `j`).
    fn press(&self, key: &str) {
        let status = self
            .command()
            .args(["send-keys", "-t", "console", key])
            .status()
            .expect("send-keys");
        assert!(status.success());
    }

    fn screen(&self) -> String {
        let output = self
            .command()
            .args(["capture-pane", "-p", "-t", "console"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn alternate_screen_on(&self) -> bool {
        let output = self
            .command()
            .args(["display-message", "-p", "-t", "console", "#{alternate_on}"])
            .output()
            .expect("display-message");
        String::from_utf8_lossy(&output.stdout).trim() == "1"
    }

    async fn wait_for(&self, what: &str, accept: impl Fn(&str) -> bool) -> String {
        until(what, DEADLINE, || async {
            let screen = self.screen();
            accept(&screen).then_some(screen)
        })
        .await
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}

/// The 5m burn rate in the SLO table's row of `slo` (`~` marks partial coverage).
fn five_minute_burn(screen: &str, slo: &str) -> Option<f64> {
    let row = screen.lines().find(|line| line.contains(slo))?;
    row.split_whitespace()
        .skip_while(|token| !token.contains(slo))
        .find(|token| token.ends_with('x'))
        .and_then(|token| {
            token
                .trim_start_matches('~')
                .trim_end_matches('x')
                .parse()
                .ok()
        })
}

/// The name on the row under the cursor (`›name`).
fn selected_row(screen: &str) -> Option<String> {
    screen
        .split(['│', ' '])
        .find_map(|token| token.strip_prefix('›'))
        .map(str::to_owned)
}

/// The restart count in the Instances view's row of `name`.
fn restarts(screen: &str, name: &str) -> Option<u32> {
    let cells = |line: &str| -> Vec<String> {
        line.split(['│', ' '])
            .filter(|token| !token.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let tokens = screen.lines().map(cells).find(|tokens| {
        tokens
            .iter()
            .any(|token| token.trim_start_matches('›') == name)
    })?;
    // name workload track revision state restarts ...
    let at = tokens
        .iter()
        .position(|token| token.trim_start_matches('›') == name)?;
    tokens.get(at + 5)?.parse().ok()
}

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_the_environment_acts_on_it_and_gives_the_terminal_back() {
    let values = tempfile::tempdir().expect("values dir");
    let values_file = values.path().join("values.yaml");
    std::fs::write(&values_file, BAD_CANARY_STEPS).expect("values");
    let env = LocalEnv::new()
        .await
        .with_env("OPSBOX_CHART_VALUES", &values_file.display().to_string());
    env.up(2, 1).await;
    let mut load = tokio::process::Command::new(opsbox_exe())
        .args([
            "load",
            "--url",
            &env.router_url(),
            "--rps",
            "40",
            "--for",
            "120s",
            "--quiet",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("load starts");

    let tmux = Tmux::start(&repository_root());
    let tty_before = env.root().join("stty-before");
    let tty_after = env.root().join("stty-after");
    tmux.type_text(&format!(
        "stty -g > {} && OPSBOX_STATE_DIR={} {}",
        tty_before.display(),
        env.root().display(),
        opsbox_exe().display()
    ));
    tmux.press("Enter");

    // The Overview: SLO names and instance counts.
    let screen = tmux
        .wait_for("the Overview with SLOs and instances", |screen| {
            screen.contains("[Overview]")
                && screen.contains("api-availability")
                && screen.contains("queue-freshness")
                && screen.contains("api    2/2 up")
                && screen.contains("worker 1/1 up")
        })
        .await;
    assert!(screen.contains("connected"), "{screen}");

    // A bad canary: the console shows the automatic abort and the burn it caused.
    let started = env
        .opsbox(&[
            "rollout",
            "start",
            "--revision",
            "v2",
            "--set",
            "OPSBOX_FAULT_ERROR_RATE=0.3",
        ])
        .await;
    assert_success("rollout start", &started);
    let screen = tmux
        .wait_for("the abort and the burn on api-availability", |screen| {
            screen.contains("analysis failed")
                && five_minute_burn(screen, "api-availability").is_some_and(|burn| burn > 1.0)
        })
        .await;
    assert!(screen.contains("canary v2"), "{screen}");

    // Kill worker-1 from the Instances view, through the confirmation.
    tmux.type_text(":instances");
    tmux.press("Enter");
    tmux.wait_for("the Instances view", |screen| {
        screen.contains("[Instances]")
    })
    .await;
    let before = tmux
        .wait_for("worker-1 listed", |screen| {
            restarts(screen, "worker-1").is_some()
        })
        .await;
    let restarts_before = restarts(&before, "worker-1").expect("restarts");
    for _ in 0..8 {
        let screen = tmux.screen();
        if screen.contains("›worker-1") {
            break;
        }
        let selected = selected_row(&screen);
        tmux.press("j");
        tmux.wait_for("the selection to move", |screen| {
            selected_row(screen) != selected
        })
        .await;
    }
    tmux.wait_for("worker-1 selected", |screen| screen.contains("›worker-1"))
        .await;
    tmux.press("K");
    let confirm = tmux
        .wait_for("the kill confirmation", |screen| {
            screen.contains("Kill instance worker-1?")
        })
        .await;
    assert!(confirm.contains("SIGKILL"), "{confirm}");
    tmux.press("y");
    tmux.wait_for("worker-1's restart counter to rise", |screen| {
        restarts(screen, "worker-1").is_some_and(|count| count > restarts_before)
    })
    .await;

    // A runbook, from the SLO under the cursor on the Overview.
    tmux.type_text(":overview");
    tmux.press("Enter");
    tmux.wait_for("the Overview again", |screen| screen.contains("[Overview]"))
        .await;
    tmux.press("R");
    tmux.wait_for("the api-availability runbook", |screen| {
        screen.contains("Runbook: SLO api-availability")
    })
    .await;
    tmux.press("Escape");

    // Every way out gives the terminal back as it was: `q`, Ctrl-C, SIGTERM.
    let before = std::fs::read_to_string(&tty_before).expect("tty settings before");
    tmux.press("q");
    terminal_is_back(&tmux, &tty_after, &before, "q").await;
    for (how, stop) in [("Ctrl-C", Exit::Key("C-c")), ("SIGTERM", Exit::Terminate)] {
        tmux.type_text(&format!(
            "OPSBOX_STATE_DIR={} {}",
            env.root().display(),
            opsbox_exe().display()
        ));
        tmux.press("Enter");
        tmux.wait_for("the console again", |screen| screen.contains("[Overview]"))
            .await;
        match stop {
            Exit::Key(key) => tmux.press(key),
            Exit::Terminate => {
                let status = std::process::Command::new("pkill")
                    .args(["-TERM", "-x", "-f", &opsbox_exe().display().to_string()])
                    .status()
                    .expect("pkill runs");
                assert!(status.success(), "the console process was found");
            }
        }
        terminal_is_back(&tmux, &tty_after, &before, how).await;
    }
    let _ = load.kill().await;
}

#[tokio::test]
async fn a_panic_gives_the_terminal_back_before_its_message_is_printed() {
    // No environment is needed: with none running the console draws its offer to
    // start one, and the debug build's fault injection panics after that frame.
    let dir = tempfile::tempdir().expect("temp dir");
    let (tty_before, tty_after) = (dir.path().join("before"), dir.path().join("after"));
    let tmux = Tmux::start(&repository_root());
    tmux.type_text(&format!(
        "stty -g > {} && OPSBOX_DEBUG_PANIC_AFTER_DRAW=1 OPSBOX_STATE_DIR={} {}; echo exit=$?",
        tty_before.display(),
        dir.path().join("state").display(),
        opsbox_exe().display()
    ));
    tmux.press("Enter");
    let screen = tmux
        .wait_for("the console to panic and exit", |screen| {
            screen.contains("exit=101")
        })
        .await;
    // Printed while the alternate screen was still on, the message would have
    // vanished with it; on the restored screen it stays readable.
    assert!(
        screen.contains("the console panics on purpose"),
        "the panic message is on the restored screen:\n{screen}"
    );
    let before = std::fs::read_to_string(&tty_before).expect("tty settings before");
    terminal_is_back(&tmux, &tty_after, &before, "a panic").await;
}

/// How the console is asked to stop.
enum Exit {
    Key(&'static str),
    Terminate,
}

/// Waits until the console left the alternate screen, then compares the tty settings
/// with those from before it started.
async fn terminal_is_back(tmux: &Tmux, settings: &Path, before: &str, how: &str) {
    until(
        &format!("the console to exit on {how}"),
        DEADLINE,
        || async { (!tmux.alternate_screen_on()).then_some(()) },
    )
    .await;
    let _ = std::fs::remove_file(settings);
    tmux.type_text(&format!("stty -g > {}", settings.display()));
    tmux.press("Enter");
    let after = until("the tty settings after quitting", DEADLINE, || async {
        std::fs::read_to_string(settings)
            .ok()
            .filter(|text| !text.is_empty())
    })
    .await;
    assert_eq!(after, before, "the terminal is back as it was after {how}");
    assert!(!tmux.screen().contains("[Overview]"), "{}", tmux.screen());
}

#[test]
fn the_screen_parsers_read_the_tables() {
    let slo = "│›api-availability ~99.92%  99.9%  █░░░░░   ~21% 20x    16x  │";
    assert_eq!(five_minute_burn(slo, "api-availability"), Some(20.0));
    let row = "│ worker-1 worker     stable v1       running  3        1h02m  4001    killed │";
    assert_eq!(restarts(row, "worker-1"), Some(3));
    assert_eq!(
        restarts("│›worker-1 worker stable v1 running 0 1s 9 │", "worker-1"),
        Some(0)
    );
}
