use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::tui::test_support::{empty_store, error_store, instance, normal_store, render};
use opsbox_common::config::Track;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn type_text(view: &mut InstancesView, text: &str) {
    for c in text.chars() {
        view.handle_key(key(KeyCode::Char(c)));
    }
}

#[test]
fn instances_normal() {
    let mut view = InstancesView::new(normal_store());
    view.handle_key(key(KeyCode::Char('j')));
    insta::assert_snapshot!(render(&mut view, 120, 12));
}

#[test]
fn instances_80x24() {
    let mut view = InstancesView::new(normal_store());
    insta::assert_snapshot!(render(&mut view, 80, 24));
}

#[test]
fn instances_empty() {
    let mut view = InstancesView::new(empty_store());
    insta::assert_snapshot!(render(&mut view, 80, 24));
}

#[test]
fn instances_error() {
    let mut view = InstancesView::new(error_store());
    insta::assert_snapshot!(render(&mut view, 80, 24));
}

#[test]
fn instances_kill_and_restart_name_the_selected_instance() {
    let mut view = InstancesView::new(normal_store());
    assert_eq!(
        view.handle_key(key(KeyCode::Char('K'))),
        ViewOutcome::Request(Action::KillInstance("api-1".to_owned()))
    );
    view.handle_key(key(KeyCode::Char('G')));
    assert_eq!(
        view.handle_key(key(KeyCode::Char('r'))),
        ViewOutcome::Request(Action::RestartInstance("worker-1".to_owned()))
    );
    view.handle_key(key(KeyCode::Char('g')));
    view.handle_key(key(KeyCode::Down));
    assert_eq!(view.selected().as_deref(), Some("api-2"));
}

#[test]
fn instances_filter_narrows_the_list_and_escape_clears_it() {
    let mut view = InstancesView::new(normal_store());
    view.handle_key(key(KeyCode::Char('/')));
    assert!(view.captures_input());
    // While typing, K and r are text, not actions.
    type_text(&mut view, "canary");
    assert_eq!(view.shown_len(), 1);
    view.handle_key(key(KeyCode::Enter));
    assert!(!view.captures_input());
    assert_eq!(
        view.handle_key(key(KeyCode::Char('K'))),
        ViewOutcome::Request(Action::KillInstance("canary-1".to_owned()))
    );
    insta::assert_snapshot!(render(&mut view, 80, 8));
    view.handle_key(key(KeyCode::Char('/')));
    type_text(&mut view, "nothing");
    assert_eq!(view.shown_len(), 0);
    assert_eq!(
        view.handle_key(key(KeyCode::Char('K'))),
        ViewOutcome::Consumed
    );
    view.handle_key(key(KeyCode::Enter));
    assert_eq!(
        view.handle_key(key(KeyCode::Char('K'))),
        ViewOutcome::Ignored
    );
    view.handle_key(key(KeyCode::Char('/')));
    view.handle_key(key(KeyCode::Esc));
    assert_eq!(view.shown_len(), 4);
}

#[test]
fn instances_draw_only_the_visible_rows_of_a_large_fleet() {
    let store = normal_store();
    {
        let mut store = store.borrow_mut();
        let mut status = store.status.value().cloned().expect("status");
        status.instances = (0..5_000)
            .map(|n| {
                instance(
                    &format!("worker-{n}"),
                    "worker",
                    Track::Stable,
                    InstanceState::Running,
                    0,
                )
            })
            .collect();
        let now = store.now;
        store.accept_status(Ok(status), now);
    }
    let mut view = InstancesView::new(store);
    view.handle_key(key(KeyCode::Char('G')));
    let screen = render(&mut view, 80, 10);
    assert!(screen.contains("worker-4999"), "{screen}");
    assert!(!screen.contains("worker-0 "), "{screen}");
    view.handle_key(key(KeyCode::PageUp));
    assert_eq!(view.selected().as_deref(), Some("worker-4993"));
}

#[test]
fn instances_show_the_autoscalers_above_the_table() {
    use crate::model::ScalerStatus;
    use crate::tui::test_support::status;

    let store = normal_store();
    let mut scaled = status();
    scaled.scalers = vec![ScalerStatus {
        workload: "worker".to_owned(),
        kind: "KEDA".to_owned(),
        name: "opsbox-worker".to_owned(),
        min_replicas: 1,
        max_replicas: 10,
        current_replicas: Some(3),
        desired_replicas: Some(4),
        trigger: "redis list opsbox:queue:ready per 5".to_owned(),
        last_scale: None,
        problem: Some("ScalerNotReady: no Redis".to_owned()),
    }];
    let at = store.borrow().now;
    store.borrow_mut().accept_status(Ok(scaled), at);
    let mut view = InstancesView::new(store);
    let screen = render(&mut view, 140, 12);
    assert!(
        screen.contains("autoscaler worker KEDA opsbox-worker: 1–10 replicas, now 3 → 4, on redis list opsbox:queue:ready per 5 — ScalerNotReady: no Redis"),
        "{screen}"
    );
    // The table is still there below it.
    assert!(screen.contains("api-1"), "{screen}");
}
