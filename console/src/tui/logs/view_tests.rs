use super::*;
use crate::model::logs::LineSource;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn press(view: &mut LogsView, keys: &str) {
    for c in keys.chars() {
        view.handle(key(KeyCode::Char(c)));
    }
}

fn typed(view: &mut LogsView, keys: &str) {
    press(view, keys);
    view.handle(key(KeyCode::Enter));
}

fn line(instance: &str, level: Level, text: &str, trace: Option<u128>) -> LogLine {
    let workload = instance.split('-').next().unwrap_or_default();
    let mut line = LogLine::plain(text, &LineSource::new(instance, workload), 500);
    line.level = Some(level);
    line.trace_id = trace.and_then(NonZeroU128::new);
    line
}

/// api and worker lines; two requests (traces 1 and 2) cross both.
fn view() -> LogsView {
    let mut view = LogsView::with_buffer(LogBuffer::new(100), false);
    view.push_lines([
        line("api-1", Level::Info, "request started", Some(1)),
        line("worker-1", Level::Debug, "idle", None),
        line("api-1", Level::Info, "request started", Some(2)),
        line("worker-1", Level::Warn, "job failed; will retry", Some(1)),
        line(
            "worker-1",
            Level::Error,
            "job failed its last attempt",
            Some(2),
        ),
        line("api-2", Level::Info, "GET /health", None),
    ]);
    view
}

#[test]
fn the_view_follows_the_newest_line_until_moved_up() {
    let mut view = view();
    assert!(view.is_following());
    assert_eq!(view.selected_line().map(|l| &*l.text), Some("GET /health"));
    press(&mut view, "kk");
    assert!(!view.is_following());
    assert_eq!(
        view.selected_line().map(|l| &*l.text),
        Some("job failed; will retry")
    );
    view.push_lines([line("api-1", Level::Info, "newer", None)]);
    assert_eq!(
        view.selected_line().map(|l| &*l.text),
        Some("job failed; will retry"),
        "a new line does not move the selection while not following"
    );
    press(&mut view, "G");
    assert!(view.is_following());
    assert_eq!(view.selected_line().map(|l| &*l.text), Some("newer"));
    press(&mut view, "g");
    assert_eq!(
        view.selected_line().map(|l| &*l.text),
        Some("request started")
    );
    press(&mut view, "f");
    assert!(view.is_following());
    press(&mut view, "f");
    assert!(!view.is_following());
}

#[test]
fn pause_holds_new_lines_back_until_resumed() {
    let mut view = view();
    press(&mut view, "p");
    assert!(view.is_paused());
    view.push_lines([line("api-1", Level::Info, "while paused", None)]);
    assert_eq!(view.held_back(), 1);
    assert!(!view.shown_texts().contains(&"while paused"));
    assert_eq!(view.selected_line().map(|l| &*l.text), Some("GET /health"));
    press(&mut view, " ");
    assert!(!view.is_paused());
    assert_eq!(view.held_back(), 0);
    assert_eq!(view.shown_texts().last(), Some(&"while paused"));
}

#[test]
fn the_regex_filter_applies_to_old_and_new_lines_and_refuses_bad_patterns() {
    let mut view = view();
    press(&mut view, "/");
    assert!(view.captures_input());
    typed(&mut view, "job failed");
    assert!(!view.captures_input());
    assert_eq!(
        view.shown_texts(),
        ["job failed; will retry", "job failed its last attempt"]
    );
    view.push_lines([
        line("worker-2", Level::Warn, "job failed again", None),
        line("worker-2", Level::Info, "job done", None),
    ]);
    assert_eq!(view.shown_texts().len(), 3);

    press(&mut view, "/");
    view.handle(key(KeyCode::Backspace));
    press(&mut view, "(");
    view.handle(key(KeyCode::Enter));
    assert!(
        view.captures_input(),
        "an invalid regex keeps the prompt open"
    );
    let error = view.prompt.as_ref().and_then(|p| p.error.clone());
    assert!(error.is_some_and(|e| e.contains("invalid regex")));
    assert_eq!(view.filter().pattern(), Some("job failed"), "unchanged");
    view.handle(key(KeyCode::Esc));
    assert!(!view.captures_input());
    assert_eq!(view.filter().pattern(), Some("job failed"));

    // q typed into a prompt is text, not quit.
    press(&mut view, "/");
    view.handle(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    typed(&mut view, "q{3}");
    assert_eq!(view.filter().pattern(), Some("q{3}"));
    assert!(view.shown_texts().is_empty());
    press(&mut view, "x");
    assert_eq!(view.shown_texts().len(), 8);
}

#[test]
fn level_and_workload_keys_narrow_the_lines() {
    let mut view = view();
    let names: Vec<(String, bool)> = view.workloads().map(|(w, on)| (w.to_owned(), on)).collect();
    assert_eq!(
        names,
        [("api".to_owned(), true), ("worker".to_owned(), true)]
    );
    press(&mut view, "l");
    assert_eq!(view.filter().min_level(), Some(Level::Debug));
    press(&mut view, "ll");
    assert_eq!(view.filter().min_level(), Some(Level::Warn));
    assert_eq!(
        view.shown_texts(),
        ["job failed; will retry", "job failed its last attempt"]
    );
    press(&mut view, "l");
    assert_eq!(view.shown_texts(), ["job failed its last attempt"]);
    press(&mut view, "l");
    assert_eq!(view.filter().min_level(), None);
    press(&mut view, "2");
    assert!(view.shown_texts().iter().all(|t| !t.contains("job")));
    assert_eq!(view.handle(key(KeyCode::Char('7'))), ViewOutcome::Ignored);
    press(&mut view, "2");
    assert_eq!(view.shown_texts().len(), 6);
}

#[test]
fn t_on_a_traced_line_shows_every_line_of_that_trace_and_back() {
    let mut view = view();
    press(&mut view, "l");
    press(&mut view, "ll"); // warn and up: the two job failures
    press(&mut view, "k");
    assert_eq!(
        view.selected_line().map(|l| &*l.text),
        Some("job failed; will retry")
    );
    press(&mut view, "t");
    assert_eq!(
        view.followed_trace().as_deref(),
        Some(&*format!("{:032x}", 1))
    );
    assert_eq!(
        view.shown_texts(),
        ["request started", "job failed; will retry"],
        "the whole trace, whatever the level filter"
    );
    view.push_lines([line("worker-1", Level::Info, "job done", Some(1))]);
    assert_eq!(view.shown_texts().len(), 3, "new lines of the trace join");
    press(&mut view, "t");
    assert_eq!(view.followed_trace(), None);
    assert_eq!(view.shown_texts().len(), 2, "back to the level filter");

    press(&mut view, "x");
    press(&mut view, "gj"); // "idle": no trace
    press(&mut view, "t");
    assert_eq!(view.followed_trace(), None);
    assert!(view.notice.as_ref().is_some_and(|n| n.error));
}

#[test]
fn search_jumps_between_hits_with_n_and_wraps() {
    let mut view = view();
    press(&mut view, "g");
    press(&mut view, "s");
    typed(&mut view, "request");
    assert_eq!(
        view.selected_line().map(|l| l.seq),
        Some(3),
        "the first hit after the selected line"
    );
    press(&mut view, "n");
    assert_eq!(view.selected_line().map(|l| l.seq), Some(1), "wrapped");
    assert!(view
        .notice
        .as_ref()
        .is_some_and(|n| n.text.contains("wrapped")));
    press(&mut view, "N");
    assert_eq!(view.selected_line().map(|l| l.seq), Some(3));
    press(&mut view, "s");
    view.handle(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    typed(&mut view, "nothing like this");
    assert!(view.notice.as_ref().is_some_and(|n| n.error));
    assert_eq!(view.selected_line().map(|l| l.seq), Some(3), "unmoved");
}

#[test]
fn lines_dropped_by_the_cap_leave_the_view_too() {
    let mut view = LogsView::with_buffer(LogBuffer::new(3), true);
    for n in 0..10 {
        view.push_lines([line("api-1", Level::Info, &format!("line {n}"), None)]);
    }
    assert_eq!(view.shown_texts(), ["line 7", "line 8", "line 9"]);
    press(&mut view, "g");
    for n in 10..12 {
        view.push_lines([line("api-1", Level::Info, &format!("line {n}"), None)]);
    }
    assert_eq!(
        view.selected_line().map(|l| &*l.text),
        Some("line 9"),
        "the selected line was dropped: the oldest one held is selected"
    );
}

#[test]
fn a_view_over_a_filled_buffer_shows_its_lines() {
    let mut buffer = LogBuffer::new(10);
    buffer.push(line("api-1", Level::Info, "before the view", None));
    buffer.push(line("worker-1", Level::Info, "also before", None));
    let view = LogsView::with_buffer(buffer, false);
    assert_eq!(view.shown_texts(), ["before the view", "also before"]);
    assert_eq!(view.workloads().count(), 2);
    assert_eq!(view.selected_line().map(|l| &*l.text), Some("also before"));
}

#[test]
fn an_empty_view_takes_any_key_without_panicking() {
    let mut view = LogsView::new(false);
    for code in [
        KeyCode::Char('j'),
        KeyCode::Char('k'),
        KeyCode::PageDown,
        KeyCode::Char('g'),
        KeyCode::Char('G'),
        KeyCode::Char('n'),
        KeyCode::Char('t'),
        KeyCode::Char('p'),
        KeyCode::Char('1'),
    ] {
        view.handle(key(code));
    }
    assert_eq!(view.selected_line(), None);
    assert_eq!(view.handle(key(KeyCode::F(5))), ViewOutcome::Ignored);
}
