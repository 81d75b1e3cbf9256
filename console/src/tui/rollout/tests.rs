use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::model::{AnalysisPhase, RolloutPhase};
use crate::tui::test_support::{empty_store, error_store, normal_store, render};

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

#[test]
fn rollout_normal() {
    let mut view = RolloutView::new(normal_store());
    insta::assert_snapshot!(render(&mut view, 120, 30));
}

#[test]
fn rollout_80x24() {
    let mut view = RolloutView::new(normal_store());
    insta::assert_snapshot!(render(&mut view, 80, 24));
}

#[test]
fn rollout_aborted_by_analysis() {
    let store = normal_store();
    {
        let mut store = store.borrow_mut();
        let mut status = store.status.value().cloned().expect("status");
        let rollout = status.rollout.as_mut().expect("rollout");
        rollout.phase = RolloutPhase::Degraded;
        rollout.aborted = true;
        rollout.current_step_index = Some(2);
        rollout.canary_weight = 0;
        rollout.message =
            Some("analysis failed: api-availability error_ratio 31.00% > 1.44%".to_owned());
        let run = rollout.analysis_runs.last_mut().expect("run");
        run.phase = AnalysisPhase::Failed;
        run.measurements[0].value = Some(0.31);
        run.measurements[0].phase = AnalysisPhase::Failed;
        run.message = Some("api-availability: error_ratio 31.00% over 1.44%".to_owned());
        let now = store.now;
        rollout.events.push(crate::model::RolloutEvent {
            at: now - chrono::Duration::seconds(20),
            kind: "abort".to_owned(),
            message: "analysis failed: api-availability error_ratio 31.00% > 1.44%".to_owned(),
        });
        store.accept_status(Ok(status), now);
    }
    let mut view = RolloutView::new(store);
    insta::assert_snapshot!(render(&mut view, 100, 26));
}

#[test]
fn rollout_empty() {
    let mut view = RolloutView::new(empty_store());
    insta::assert_snapshot!(render(&mut view, 80, 24));
}

#[test]
fn rollout_error() {
    let mut view = RolloutView::new(error_store());
    insta::assert_snapshot!(render(&mut view, 80, 24));
}

#[test]
fn rollout_keys_ask_for_the_rollout_verbs() {
    let mut view = RolloutView::new(normal_store());
    let asked: Vec<ViewOutcome> = ['p', 'P', 'a', 'r', 'u', 'x']
        .into_iter()
        .map(|c| view.handle_key(key(KeyCode::Char(c))))
        .collect();
    assert_eq!(
        asked,
        [
            ViewOutcome::Request(Action::Promote),
            ViewOutcome::Request(Action::PromoteFull),
            ViewOutcome::Request(Action::Abort),
            ViewOutcome::Request(Action::Retry),
            ViewOutcome::Request(Action::Undo),
            ViewOutcome::Ignored,
        ]
    );
}
