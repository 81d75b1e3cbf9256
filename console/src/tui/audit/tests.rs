use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::tui::test_support::{empty_store, error_store, normal_store, render};

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

#[test]
fn audit_normal() {
    let mut view = AuditView::new(normal_store());
    insta::assert_snapshot!(render(&mut view, 110, 14));
}

#[test]
fn audit_80x24() {
    let mut view = AuditView::new(normal_store());
    insta::assert_snapshot!(render(&mut view, 80, 24));
}

#[test]
fn audit_empty() {
    let mut view = AuditView::new(empty_store());
    insta::assert_snapshot!(render(&mut view, 80, 24));
}

#[test]
fn audit_error() {
    let mut view = AuditView::new(error_store());
    insta::assert_snapshot!(render(&mut view, 80, 24));
}

#[test]
fn audit_keys_move_and_filter_to_failures() {
    let mut view = AuditView::new(normal_store());
    assert_eq!(view.shown_len(), 4);
    view.handle_key(key(KeyCode::Char('G')));
    assert_eq!(view.cursor.selected, 3);
    assert_eq!(
        view.handle_key(key(KeyCode::Char('e'))),
        ViewOutcome::Consumed
    );
    assert_eq!((view.shown_len(), view.cursor.selected), (1, 0));
    let screen = render(&mut view, 100, 12);
    assert!(
        screen.contains("error: a rollout is in progress"),
        "{screen}"
    );
    view.handle_key(key(KeyCode::Char('e')));
    assert_eq!(view.shown_len(), 4);
    assert_eq!(
        view.handle_key(key(KeyCode::Char('K'))),
        ViewOutcome::Ignored
    );
}

#[test]
fn audit_shows_the_delivery_metrics_of_the_log() {
    let mut view = AuditView::new(normal_store());
    let screen = render(&mut view, 100, 12);
    assert!(
        screen.contains(
            "30d: 0 deploys, CFR 0.0% of 1, MTTR no data, canary→full no data, 0 rollbacks"
        ),
        "{screen}"
    );
    let mut view = AuditView::new(empty_store());
    let screen = render(&mut view, 100, 12);
    assert!(
        screen.contains("30d: 0 deploys, CFR no data, MTTR no data"),
        "{screen}"
    );
}
