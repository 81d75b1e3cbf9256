use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::tui::test_support::{empty_store, error_store, normal_store, render};

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

#[test]
fn slo_normal() {
    let mut view = SloView::new(normal_store());
    insta::assert_snapshot!(render(&mut view, 120, 34));
}

#[test]
fn slo_80x24() {
    let mut view = SloView::new(normal_store());
    insta::assert_snapshot!(render(&mut view, 80, 24));
}

#[test]
fn slo_empty() {
    let mut view = SloView::new(empty_store());
    insta::assert_snapshot!(render(&mut view, 80, 24));
}

#[test]
fn slo_error() {
    let mut view = SloView::new(error_store());
    insta::assert_snapshot!(render(&mut view, 80, 24));
}

#[test]
fn slo_keys_cycle_through_the_slos_and_open_the_runbook() {
    let store = normal_store();
    let mut view = SloView::new(store.clone());
    view.handle_key(key(KeyCode::Char('k')));
    assert_eq!(
        store.borrow().selected_slo.as_deref(),
        Some("queue-freshness")
    );
    view.handle_key(key(KeyCode::Char('j')));
    view.handle_key(key(KeyCode::Char('j')));
    assert_eq!(store.borrow().selected_slo.as_deref(), Some("api-latency"));
    assert_eq!(
        view.handle_key(key(KeyCode::Char('R'))),
        ViewOutcome::Consumed
    );
    assert_eq!(
        store.borrow().requests,
        [UiRequest::OpenRunbook("api-latency".to_owned())]
    );
    assert_eq!(
        view.handle_key(key(KeyCode::Char('x'))),
        ViewOutcome::Ignored
    );
}

#[test]
fn slo_without_a_report_ignores_keys() {
    let store = error_store();
    let mut view = SloView::new(store.clone());
    view.handle_key(key(KeyCode::Char('j')));
    assert_eq!(store.borrow().selected_slo, None);
    assert_eq!(
        view.handle_key(key(KeyCode::Char('R'))),
        ViewOutcome::Ignored
    );
}
