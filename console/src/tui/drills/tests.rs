use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::chaos::{ChaosEvent, ChaosStatus};
use crate::drill::report::{ProbeResult, RecoveryRecord, StepRecord, TrafficTally};
use crate::drill::DrillCatalog;
use crate::tui::store::RunningDrill;
use crate::tui::test_support::{ago, empty_store, error_store, normal_store, render};

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn report(drill: &str, passed: bool) -> DrillReport {
    DrillReport {
        drill: drill.to_owned(),
        description: "SIGKILL workers under load".to_owned(),
        runbook: "docs/runbooks/drill-worker-crash.md".to_owned(),
        source: "built-in".to_owned(),
        started_at: ago(7_300),
        finished_at: ago(7_200),
        passed,
        failures: if passed {
            Vec::new()
        } else {
            vec!["2 tasks lost".to_owned()]
        },
        steps: vec![StepRecord {
            at: ago(7_290),
            offset_ms: 10_000,
            action: "kill workload worker".to_owned(),
            ok: true,
            detail: "worker-1 (pid 4242)".to_owned(),
        }],
        before: Some(vec![ProbeResult {
            probe: "error-ratio <= 1%".to_owned(),
            observed: "0.0% of 200".to_owned(),
            passed: true,
        }]),
        during: Vec::new(),
        after: vec![ProbeResult {
            probe: "error-ratio <= 1%".to_owned(),
            observed: "0.1% of 300".to_owned(),
            passed: true,
        }],
        recovery: RecoveryRecord {
            expected_within_ms: 60_000,
            disruption_ended_at: Some(ago(7_290)),
            recovered_at: Some(ago(7_278)),
            measured_ms: Some(12_000),
            passed: true,
        },
        tasks: None,
        traffic: TrafficTally::default(),
    }
}

fn with_board(store: &crate::tui::store::SharedStore) {
    let catalog = DrillCatalog::built_in().expect("built-in drills parse");
    let mut board = DrillBoard {
        source: "built-in".to_owned(),
        drills: catalog.drills,
        last_reports: Default::default(),
    };
    board
        .last_reports
        .insert("worker-crash".to_owned(), report("worker-crash", true));
    board
        .last_reports
        .insert("bad-canary".to_owned(), report("bad-canary", false));
    let mut store = store.borrow_mut();
    let now = store.now;
    store.drills.accept(Ok(board), now);
}

#[test]
fn drills_normal() {
    let store = normal_store();
    with_board(&store);
    let mut view = DrillsView::new(store);
    // The last drill of the built-in catalogue, sorted by name, is worker-crash.
    view.handle_key(key(KeyCode::Char('j')));
    view.handle_key(key(KeyCode::Char('j')));
    view.handle_key(key(KeyCode::Char('j')));
    view.handle_key(key(KeyCode::Char('j')));
    assert_eq!(view.selected().as_deref(), Some("worker-crash"));
    insta::assert_snapshot!(render(&mut view, 110, 36));
}

#[test]
fn drills_80x24_while_one_runs() {
    let store = normal_store();
    with_board(&store);
    {
        let mut store = store.borrow_mut();
        store.running_drill = Some(RunningDrill {
            name: "api-instance-kill".to_owned(),
            started_at: ago(30),
            steps: vec![
                crate::drill::report::StepRecord {
                    at: ago(28),
                    offset_ms: 2_000,
                    action: "steady state before".to_owned(),
                    ok: true,
                    detail: "error-ratio <= 1%: 0.0% of 80 requests".to_owned(),
                },
                crate::drill::report::StepRecord {
                    at: ago(27),
                    offset_ms: 3_100,
                    action: "kill api (random)".to_owned(),
                    ok: true,
                    detail: "api-2 (pid 4242)".to_owned(),
                },
            ],
        });
        let chaos = ChaosStatus {
            outages: Vec::new(),
            faults: Vec::new(),
            history: vec![
                ChaosEvent {
                    at: ago(600),
                    kind: "kill".to_owned(),
                    target: "api-2".to_owned(),
                    message: "before the drill".to_owned(),
                },
                ChaosEvent {
                    at: ago(20),
                    kind: "kill".to_owned(),
                    target: "api-1".to_owned(),
                    message: "SIGKILL to pid 4100".to_owned(),
                },
            ],
        };
        let now = store.now;
        store.chaos.accept(Ok(chaos), now);
    }
    let mut view = DrillsView::new(store);
    let screen = render(&mut view, 80, 24);
    assert!(screen.contains("SIGKILL to pid"), "{screen}");
    assert!(!screen.contains("before the drill"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn drills_empty() {
    let store = empty_store();
    {
        let mut store = store.borrow_mut();
        let now = store.now;
        store.drills.accept(
            Ok(DrillBoard {
                source: "observability/drills".to_owned(),
                ..DrillBoard::default()
            }),
            now,
        );
    }
    let mut view = DrillsView::new(store);
    insta::assert_snapshot!(render(&mut view, 80, 24));
}

#[test]
fn drills_error() {
    let store = error_store();
    {
        let mut store = store.borrow_mut();
        let now = store.now;
        store.drills.accept(
            Err("observability/drills/x.yaml: unknown field `metod`".to_owned()),
            now,
        );
    }
    let mut view = DrillsView::new(store);
    insta::assert_snapshot!(render(&mut view, 80, 24));
}

#[test]
fn drills_enter_asks_to_run_the_selected_drill() {
    let store = normal_store();
    let mut view = DrillsView::new(store.clone());
    assert_eq!(view.handle_key(key(KeyCode::Enter)), ViewOutcome::Ignored);
    with_board(&store);
    assert_eq!(
        view.handle_key(key(KeyCode::Enter)),
        ViewOutcome::Request(Action::RunDrill("api-instance-kill".to_owned()))
    );
    view.handle_key(key(KeyCode::Char('j')));
    assert_eq!(
        view.handle_key(key(KeyCode::Enter)),
        ViewOutcome::Request(Action::RunDrill("bad-canary".to_owned()))
    );
    assert_eq!(
        view.handle_key(key(KeyCode::Char('J'))),
        ViewOutcome::Consumed
    );
    assert_eq!(view.report_scroll, 5);
}
