use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::*;
use crate::tui::store::Store;
use crate::tui::test_support::{normal_store, now, screen_text};
use crate::tui::theme::Theme;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn press(app: &mut App, keys: &str) {
    for c in keys.chars() {
        app.handle_key(key(KeyCode::Char(c)));
    }
}

fn screen(app: &mut App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal.draw(|frame| app.render(frame)).expect("draw");
    screen_text(terminal.backend())
}

fn connected_app() -> App {
    App::new(normal_store())
}

fn not_running_app(read_only: bool) -> App {
    let mut store = Store::new("local", ".opsbox".into(), read_only, Theme::plain());
    store.now = now();
    store.accept_not_running(
        "no local environment is running in /home/alice/opsbox/.opsbox".to_owned(),
    );
    App::new(store.shared())
}

#[test]
fn app_overview_80x24() {
    let mut app = connected_app();
    insta::assert_snapshot!(screen(&mut app, 80, 24));
}

#[test]
fn app_tab_and_escape_move_between_views() {
    let mut app = connected_app();
    app.handle_key(key(KeyCode::Tab));
    assert_eq!(app.active(), ViewId::Slo);
    app.handle_key(key(KeyCode::Tab));
    app.handle_key(key(KeyCode::BackTab));
    assert_eq!(app.active(), ViewId::Slo);
    app.handle_key(key(KeyCode::Esc));
    assert_eq!(app.active(), ViewId::Rollout);
    app.handle_key(key(KeyCode::Esc));
    app.handle_key(key(KeyCode::Esc));
    assert_eq!(app.active(), ViewId::Overview);
    app.handle_key(key(KeyCode::Esc));
    assert_eq!(app.active(), ViewId::Overview);
}

#[test]
fn app_palette_shows_views_and_reports_bad_commands() {
    let mut app = connected_app();
    press(&mut app, ":slo api-latency");
    assert!(matches!(app.overlay(), Overlay::Palette(_)));
    app.handle_key(key(KeyCode::Enter));
    assert_eq!(app.active(), ViewId::Slo);
    assert_eq!(
        app.store().borrow().selected_slo.as_deref(),
        Some("api-latency")
    );
    assert_eq!(*app.overlay(), Overlay::None);
    press(&mut app, ":kil");
    app.handle_key(key(KeyCode::Tab));
    press(&mut app, "api-9");
    app.handle_key(key(KeyCode::Enter));
    let Overlay::Palette(palette) = app.overlay() else {
        panic!("the palette stays open on an error");
    };
    assert_eq!(palette.input, "kill api-9");
    assert!(palette
        .error
        .as_deref()
        .is_some_and(|e| e.starts_with("no instance named `api-9`")));
    insta::assert_snapshot!(screen(&mut app, 80, 24));
    app.handle_key(key(KeyCode::Esc));
    assert_eq!(*app.overlay(), Overlay::None);
    press(&mut app, ":q");
    app.handle_key(key(KeyCode::Enter));
    assert!(app.should_quit());
}

#[test]
fn app_actions_are_confirmed_before_they_are_sent() {
    let mut app = connected_app();
    press(&mut app, ":kill api-2");
    app.handle_key(key(KeyCode::Enter));
    let Overlay::Confirm {
        action,
        confirmation,
    } = app.overlay().clone()
    else {
        panic!("a kill asks first");
    };
    assert_eq!(action, Action::KillInstance("api-2".to_owned()));
    assert!(
        confirmation
            .effects
            .iter()
            .any(|effect| effect.contains("SIGKILL")),
        "{confirmation:?}"
    );
    insta::assert_snapshot!(screen(&mut app, 80, 24));
    // Any other key leaves the question open; n cancels and nothing is sent.
    press(&mut app, "x");
    assert!(matches!(app.overlay(), Overlay::Confirm { .. }));
    press(&mut app, "n");
    assert_eq!(*app.overlay(), Overlay::None);
    assert!(app.take_effects().is_empty());
    assert!(app
        .notice()
        .is_some_and(|notice| notice.text.contains("cancelled")));
    // y sends it, once: a second action waits for the first one's result.
    press(&mut app, "p");
    press(&mut app, "y");
    assert_eq!(app.take_effects(), [Effect::Perform(Action::Promote)]);
    assert_eq!(
        app.store().borrow().pending_action.as_deref(),
        Some("promote")
    );
    press(&mut app, "a");
    assert_eq!(*app.overlay(), Overlay::None);
    assert!(app
        .notice()
        .is_some_and(|notice| notice.text.contains("still running")));
    app.apply(Update::ActionDone(action_result(
        &Action::Promote,
        Err("no rollout in progress".to_owned()),
    )));
    assert_eq!(app.store().borrow().pending_action, None);
    let notice = app.notice().expect("the result is shown");
    assert_eq!(
        (notice.kind, notice.text.as_str()),
        (NoticeKind::Failure, "✗ promote: no rollout in progress")
    );
    assert_eq!(app.store().borrow().results.len(), 1);
}

#[test]
fn app_requeue_results_refresh_the_queue_and_drills_run_beside_other_actions() {
    let mut app = connected_app();
    app.apply(Update::ActionDone(action_result(
        &Action::RequeueAllDead,
        Ok("2 requeued".to_owned()),
    )));
    assert_eq!(app.take_effects(), [Effect::RefreshQueue]);
    app.request(Action::RunDrill("worker-crash".to_owned()));
    press(&mut app, "y");
    assert!(app.store().borrow().running_drill.is_some());
    assert_eq!(
        app.active(),
        ViewId::Drills,
        "a drill is watched in the Drills view"
    );
    let step = crate::drill::report::StepRecord {
        at: chrono::Utc::now(),
        offset_ms: 1_500,
        action: "steady state before".to_owned(),
        ok: true,
        detail: "queue depth <= 100: 3".to_owned(),
    };
    app.apply(Update::DrillStep(step.clone()));
    assert_eq!(
        app.store()
            .borrow()
            .running_drill
            .as_ref()
            .map(|running| running.steps.clone()),
        Some(vec![step]),
        "the running drill's steps arrive live"
    );
    app.request(Action::RunDrill("redis-outage".to_owned()));
    assert!(app
        .notice()
        .is_some_and(|notice| notice.text.contains("one drill at a time")));
    app.request(Action::Abort);
    assert!(matches!(app.overlay(), Overlay::Confirm { .. }));
    app.handle_key(key(KeyCode::Esc));
    app.apply(Update::ActionDone(action_result(
        &Action::RunDrill("worker-crash".to_owned()),
        Ok("PASSED".to_owned()),
    )));
    assert_eq!(app.store().borrow().running_drill, None);
}

#[test]
fn app_read_only_refuses_every_action_and_says_so() {
    let store = normal_store();
    store.borrow_mut().read_only = true;
    let mut app = App::new(store);
    for action in [
        Action::Promote,
        Action::KillInstance("api-1".to_owned()),
        Action::RunDrill("x".to_owned()),
    ] {
        app.request(action);
        assert_eq!(*app.overlay(), Overlay::None);
        assert!(app
            .notice()
            .is_some_and(|notice| notice.text.starts_with("read-only console")));
    }
    assert!(app.take_effects().is_empty());
    let screen = screen(&mut app, 80, 24);
    assert!(
        screen
            .lines()
            .next()
            .is_some_and(|header| header.contains("READ-ONLY")),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn app_without_an_environment_offers_to_start_one() {
    let mut app = not_running_app(false);
    insta::assert_snapshot!(screen(&mut app, 80, 24));
    // View keys do nothing on this screen; u starts the stack, once.
    press(&mut app, "p");
    assert_eq!(*app.overlay(), Overlay::None);
    press(&mut app, "u");
    assert_eq!(app.take_effects(), [Effect::StartStack]);
    press(&mut app, "u");
    assert!(app.take_effects().is_empty());
    app.apply(Update::StackStart(StackStart::Failed(
        "port 8080 is in use".to_owned(),
    )));
    assert!(app
        .notice()
        .is_some_and(|notice| notice.text.contains("port 8080 is in use")));
    press(&mut app, "u");
    assert_eq!(app.take_effects(), [Effect::StartStack]);
    // The Audit view still works without an environment.
    for _ in 0..7 {
        app.handle_key(key(KeyCode::Tab));
    }
    assert_eq!(app.active(), ViewId::Audit);
    assert!(!app.shows_no_stack());
}

#[test]
fn app_read_only_without_an_environment_does_not_start_one() {
    let mut app = not_running_app(true);
    press(&mut app, "u");
    assert!(app.take_effects().is_empty());
    assert!(app
        .notice()
        .is_some_and(|notice| notice.text.contains("read-only")));
    assert!(screen(&mut app, 80, 24).contains("This console is read-only"));
}

#[test]
fn app_help_lists_the_view_and_global_keys() {
    let mut app = connected_app();
    app.show(ViewId::Rollout);
    press(&mut app, "?");
    assert_eq!(*app.overlay(), Overlay::Help);
    // Keys do not reach the view while the help is open.
    press(&mut app, "p");
    assert!(app.take_effects().is_empty());
    insta::assert_snapshot!(screen(&mut app, 80, 24));
    app.handle_key(key(KeyCode::Esc));
    assert_eq!(*app.overlay(), Overlay::None);
}

#[test]
fn app_runbook_opens_with_live_values_and_closes_with_escape() {
    let mut app = connected_app();
    press(&mut app, "R");
    let Overlay::Runbook(pane) = app.overlay() else {
        panic!("R opens the runbook");
    };
    assert_eq!(pane.slo, "api-availability");
    let screen = screen(&mut app, 100, 30);
    assert!(screen.contains("Live values (local)"), "{screen}");
    assert!(screen.contains("burn rate: 5m 20x"), "{screen}");
    assert!(screen.contains("canary v2 at 50%"), "{screen}");
    press(&mut app, "j");
    app.handle_key(key(KeyCode::Esc));
    assert_eq!(*app.overlay(), Overlay::None);
}

#[test]
fn app_quits_on_q_and_ctrl_c_but_not_while_a_filter_is_typed() {
    let mut app = connected_app();
    app.show(ViewId::Instances);
    press(&mut app, "/q");
    assert!(!app.should_quit(), "q is filter text here");
    app.handle_key(key(KeyCode::Enter));
    press(&mut app, "q");
    assert!(app.should_quit());
    let mut app = connected_app();
    app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(app.should_quit());
}

#[test]
fn app_copies_the_latest_log_problems_for_the_overview() {
    use crate::tui::logs::{LineSource, LogLine, DEFAULT_MAX_TEXT_BYTES};
    let mut app = connected_app();
    let source = LineSource::new("api-1", "api");
    let lines = [
        r#"{"timestamp":"2026-03-01T11:59:58Z","level":"INFO","message":"fine"}"#,
        r#"{"timestamp":"2026-03-01T11:59:59Z","level":"ERROR","message":"database is unreachable"}"#,
    ]
    .iter()
    .map(|raw| LogLine::parse(raw, &source, DEFAULT_MAX_TEXT_BYTES))
    .collect();
    app.ingest_logs(LogBatch {
        lines,
        errors: Vec::new(),
    });
    let problems = app.store().borrow().problems.clone();
    assert_eq!(problems.len(), 1);
    assert_eq!(
        (problems[0].level, problems[0].instance.as_str()),
        ("ERROR", "api-1")
    );
    assert!(screen(&mut app, 80, 24).contains("database is unreachable"));
}

#[test]
fn repeated_warnings_collapse_into_one_row_and_a_new_kind_stands_out() {
    use crate::tui::logs::{LineSource, LogLine, DEFAULT_MAX_TEXT_BYTES};
    let mut app = connected_app();
    let worker = LineSource::new("worker-1", "worker");
    let mut lines: Vec<LogLine> = (0..12)
        .map(|attempt| {
            let raw = format!(
                r#"{{"timestamp":"2026-03-01T12:00:{:02}Z","level":"WARN","message":"job failed; will retry","attempt":{attempt}}}"#,
                attempt * 2
            );
            LogLine::parse(&raw, &worker, DEFAULT_MAX_TEXT_BYTES)
        })
        .collect();
    lines.push(LogLine::parse(
        r#"{"timestamp":"2026-03-01T12:00:30Z","level":"ERROR","message":"database is unreachable"}"#,
        &LineSource::new("api-1", "api"),
        DEFAULT_MAX_TEXT_BYTES,
    ));
    app.ingest_logs(LogBatch {
        lines,
        errors: Vec::new(),
    });
    let problems = app.store().borrow().problems.clone();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert_eq!(
        (problems[0].repeats, problems[0].text.as_str()),
        (12, "job failed; will retry")
    );
    assert_eq!(
        problems[0]
            .first_at
            .map(|at| at.format("%H:%M:%S").to_string()),
        Some("12:00:00".to_owned())
    );
    assert_eq!(
        (problems[1].repeats, problems[1].level),
        (1, "ERROR"),
        "the new kind is its own row, newest last"
    );
    let screen = screen(&mut app, 100, 30);
    assert!(
        screen.contains("×12, since [time] job failed; will retry"),
        "{screen}"
    );
    assert_eq!(screen.matches("job failed").count(), 1, "{screen}");
}

/// A status with several Rollouts, `shown` being the one read.
fn several_rollouts(shown: &str) -> Update {
    let mut status = crate::tui::test_support::status();
    let rollout = status.rollout.as_mut().expect("a rollout");
    rollout.name = Some(shown.to_owned());
    rollout.choices = vec!["opsbox-api".to_owned(), "opsbox-api-b".to_owned()];
    Update::Status {
        at: now(),
        result: Ok(Box::new(status)),
    }
}

#[test]
fn app_switches_between_several_rollouts_and_acts_only_on_the_one_shown() {
    let mut app = connected_app();
    // The first reading's Rollout becomes the chosen one: a verb never acts on a guess.
    app.apply(several_rollouts("opsbox-api"));
    assert_eq!(
        app.take_effects(),
        [Effect::ChooseRollout("opsbox-api".to_owned())]
    );
    app.show(ViewId::Rollout);
    let shown = screen(&mut app, 120, 30);
    assert!(
        shown.contains("Rollouts: [opsbox-api] · opsbox-api-b"),
        "{shown}"
    );
    assert!(shown.contains("Rollout opsbox-api"), "{shown}");
    // ] asks for the next one; until a reading shows it, the verbs wait.
    press(&mut app, "]");
    assert_eq!(
        app.take_effects(),
        [Effect::ChooseRollout("opsbox-api-b".to_owned())]
    );
    press(&mut app, "a");
    assert_eq!(*app.overlay(), Overlay::None);
    assert!(app.notice().is_some_and(|notice| notice
        .text
        .contains("switching to the Rollout opsbox-api-b")));
    app.apply(several_rollouts("opsbox-api-b"));
    assert!(app.take_effects().is_empty(), "already chosen");
    press(&mut app, "a");
    let Overlay::Confirm { confirmation, .. } = app.overlay().clone() else {
        panic!("the abort asks first");
    };
    assert_eq!(
        confirmation.effects[0],
        "On the Rollout opsbox-api-b, one of the namespace's 2."
    );
    // [ from the second wraps back to the first.
    press(&mut app, "n");
    press(&mut app, "[");
    assert_eq!(
        app.take_effects(),
        [Effect::ChooseRollout("opsbox-api".to_owned())]
    );
}
