use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::tui::test_support::{empty_store, error_store, normal_store, render};

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

#[test]
fn overview_normal() {
    let mut view = OverviewView::new(normal_store());
    insta::assert_snapshot!(render(&mut view, 120, 32));
}

#[test]
fn overview_80x24() {
    let mut view = OverviewView::new(normal_store());
    insta::assert_snapshot!(render(&mut view, 80, 24));
}

#[test]
fn overview_empty() {
    let mut view = OverviewView::new(empty_store());
    insta::assert_snapshot!(render(&mut view, 80, 24));
}

#[test]
fn overview_error() {
    let mut view = OverviewView::new(error_store());
    insta::assert_snapshot!(render(&mut view, 80, 24));
}

#[test]
fn overview_keys_select_slos_and_ask_for_actions() {
    let store = normal_store();
    let mut view = OverviewView::new(store.clone());
    assert_eq!(
        view.handle_key(key(KeyCode::Char('j'))),
        ViewOutcome::Consumed
    );
    assert_eq!(store.borrow().selected_slo.as_deref(), Some("api-latency"));
    for _ in 0..10 {
        view.handle_key(key(KeyCode::Char('j')));
    }
    assert_eq!(
        store.borrow().selected_slo.as_deref(),
        Some("queue-freshness")
    );
    view.handle_key(key(KeyCode::Char('k')));
    assert_eq!(store.borrow().selected_slo.as_deref(), Some("jobs-success"));
    assert_eq!(view.handle_key(key(KeyCode::Enter)), ViewOutcome::Consumed);
    assert_eq!(
        view.handle_key(key(KeyCode::Char('R'))),
        ViewOutcome::Consumed
    );
    assert_eq!(
        store.borrow().requests,
        [
            UiRequest::Show(ViewId::Slo),
            UiRequest::OpenRunbook("jobs-success".to_owned())
        ]
    );
    assert_eq!(
        view.handle_key(key(KeyCode::Char('p'))),
        ViewOutcome::Request(Action::Promote)
    );
    assert_eq!(
        view.handle_key(key(KeyCode::Char('P'))),
        ViewOutcome::Request(Action::PromoteFull)
    );
    assert_eq!(
        view.handle_key(key(KeyCode::Char('a'))),
        ViewOutcome::Request(Action::Abort)
    );
    assert_eq!(
        view.handle_key(key(KeyCode::Char('z'))),
        ViewOutcome::Ignored
    );
}

#[test]
fn overview_runbook_key_needs_an_slo() {
    let store = empty_store();
    let mut view = OverviewView::new(store.clone());
    assert_eq!(
        view.handle_key(key(KeyCode::Char('R'))),
        ViewOutcome::Ignored
    );
    assert!(store.borrow().requests.is_empty());
}

#[test]
fn at_any_width_the_slo_table_never_cuts_a_cell_mid_word() {
    use crate::model::slo::{Exhaustion, Measured};
    use crate::tui::test_support::{ago, slo_report};
    for width in [80, 100, 120, 121, 130, 140, 160, 200] {
        let store = normal_store();
        let mut report = slo_report();
        for slo in &mut report.slos {
            // The longest value the column shows: `~not burning`.
            slo.budget_exhaustion = Measured::Insufficient {
                covered_secs: 60,
                covered_value: Some(Exhaustion::NotBurning),
            };
        }
        store.borrow_mut().accept_slo(Ok(report), ago(1));
        let mut view = OverviewView::new(store);
        let screen = render(&mut view, width, 32);
        let cut = screen
            .lines()
            .any(|line| line.contains("not burnin") && !line.contains("not burning"));
        assert!(!cut, "width {width}:\n{screen}");
    }
}
