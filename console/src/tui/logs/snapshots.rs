//! Snapshots of the Logs view drawn on a `TestBackend`: normal, empty, error, and 80×24.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use regex::Regex;

use super::{LineSource, LogBatch, LogBuffer, LogLine, LogsView, DEFAULT_MAX_TEXT_BYTES};
use crate::tui::view::View;

/// Draws `view` on a `width`×`height` test terminal and returns the screen as text, with
/// volatile parts (ages, temporary paths) replaced by placeholders.
pub(in crate::tui) fn screen(view: &mut dyn View, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|frame| view.render(frame, frame.area()))
        .expect("draw");
    scrub(&terminal.backend().to_string())
}

fn scrub(screen: &str) -> String {
    let volatile = [
        (r"(\d+[hm] )?\d+(\.\d+)?(ms|s|m|h) ago", "[age] ago"),
        (r"/tmp/[^ :│]+", "[tmp]"),
    ];
    volatile
        .iter()
        .fold(screen.to_owned(), |text, (pattern, placeholder)| {
            let regex = Regex::new(pattern).expect("valid pattern");
            regex.replace_all(&text, *placeholder).into_owned()
        })
}

fn press(view: &mut LogsView, keys: &str) {
    for c in keys.chars() {
        view.handle(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
}

/// A minute of a small stack: requests, a job that fails and retries, a supervisor restart.
fn shift() -> Vec<LogLine> {
    let raw = [
        (
            "api-1",
            "api",
            r#"{"timestamp":"2026-11-21T22:27:38.354Z","level":"INFO","target":"opsbox_api","message":"opsbox-api listening","addr":"127.0.0.1:34271"}"#,
        ),
        (
            "worker-1",
            "worker",
            r#"{"timestamp":"2026-11-21T22:27:38.367Z","level":"INFO","target":"opsbox_worker::startup","message":"worker started","worker_id":"vm-5584-b4f8a5"}"#,
        ),
        (
            "api-1",
            "api",
            r#"{"timestamp":"2026-11-21T22:27:40.101Z","level":"INFO","target":"opsbox_api::observe","span":"request","method":"POST","route":"/tasks","status":201,"message":"request finished","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}"#,
        ),
        (
            "worker-1",
            "worker",
            r#"{"timestamp":"2026-11-21T22:27:40.180Z","level":"WARN","target":"opsbox_worker::runner","span":"job","task_id":"7f3c2a10","kind":"flaky","attempt":1,"message":"job failed; will retry","error":"flaky: attempt 1 of the first 1 fails","retry_in_ms":200,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"1a2b3c4d5e6f7081"}"#,
        ),
        (
            "api-2",
            "api",
            r#"{"timestamp":"2026-11-21T22:27:40.250Z","level":"DEBUG","target":"opsbox_api::observe","message":"probe","route":"/ready","status":200}"#,
        ),
        (
            "worker-1",
            "worker",
            r#"{"timestamp":"2026-11-21T22:27:40.420Z","level":"INFO","target":"opsbox_worker::runner","span":"job","task_id":"7f3c2a10","message":"job done","elapsed_ms":3,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"2b3c4d5e6f708192"}"#,
        ),
        (
            "api-2",
            "api",
            "thread 'tokio-runtime-worker' panicked at services/api/src/faults.rs:88:9",
        ),
        (
            "api-2",
            "api",
            r#"{"fields":{"message":"restarting after exit","status":"signal: 6 (SIGABRT)","delay_ms":500},"instance":"api-2","level":"ERROR","target":"opsbox::supervisor","timestamp":"2026-11-21T22:27:41.002Z"}"#,
        ),
        (
            "api-2",
            "api",
            r#"{"fields":{"message":"ready","pid":5702},"instance":"api-2","level":"INFO","target":"opsbox::supervisor","timestamp":"2026-11-21T22:27:41.650Z"}"#,
        ),
    ];
    raw.iter()
        .map(|(instance, workload, text)| {
            LogLine::parse(
                text,
                &LineSource::new(instance, workload),
                DEFAULT_MAX_TEXT_BYTES,
            )
        })
        .collect()
}

fn view_of(lines: Vec<LogLine>) -> LogsView {
    let mut view = LogsView::with_buffer(LogBuffer::new(1000), false);
    view.push_lines(lines);
    view
}

#[test]
fn logs_normal_with_a_search_hit_selected() {
    let mut view = view_of(shift());
    press(&mut view, "s");
    press(&mut view, "job");
    view.handle(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    press(&mut view, "n");
    insta::assert_snapshot!(screen(&mut view, 120, 16));
}

#[test]
fn logs_following_one_trace() {
    let mut view = view_of(shift());
    press(&mut view, "gjj");
    press(&mut view, "t");
    insta::assert_snapshot!(screen(&mut view, 120, 12));
}

#[test]
fn logs_empty() {
    let mut view = LogsView::new(false);
    insta::assert_snapshot!(screen(&mut view, 80, 8));
}

#[test]
fn logs_error_unreadable_file_and_invalid_regex() {
    let mut view = view_of(shift());
    view.ingest(LogBatch {
        lines: Vec::new(),
        errors: vec![
            "cannot read .opsbox/logs/worker-1.log: Permission denied (os error 13)".to_owned(),
            "cannot read .opsbox/logs/api-1.log: Permission denied (os error 13)".to_owned(),
        ],
    });
    press(&mut view, "l");
    press(&mut view, "l");
    press(&mut view, "l");
    let before_prompt = screen(&mut view, 100, 10);
    insta::assert_snapshot!("logs_error_unreadable_file", before_prompt);
    press(&mut view, "/");
    press(&mut view, "status=(5");
    view.handle(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    insta::assert_snapshot!("logs_error_invalid_regex", screen(&mut view, 100, 10));
}

#[test]
fn logs_fit_80_by_24_following() {
    let mut view = view_of(shift());
    view.push_lines(shift());
    view.push_lines(shift());
    insta::assert_snapshot!(screen(&mut view, 80, 24));
}

#[test]
fn logs_paused_with_workload_hidden_and_filtered() {
    let mut view = view_of(shift());
    press(&mut view, "p");
    view.push_lines(shift());
    press(&mut view, "/");
    press(&mut view, "job|supervisor");
    view.handle(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    press(&mut view, "1");
    insta::assert_snapshot!(screen(&mut view, 100, 8));
}

#[test]
fn volatile_text_is_scrubbed() {
    assert_eq!(
        scrub("updated 12s ago, 4m 5s ago from /tmp/.tmpAbC/x.log: ok"),
        "updated [age] ago, [age] ago from [tmp]: ok"
    );
}
