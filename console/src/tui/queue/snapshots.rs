//! Snapshots of the Queue view drawn on a `TestBackend`: normal, empty, error, and 80×24.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::QueueView;
use crate::model::{DeadLetter, DeadLetters, ProcessedTotals, QueueOverview, QueueStatus};
use crate::tui::logs::snapshots::screen;

/// Samples a second apart ending now (ages on screen are scrubbed anyway): a backlog that
/// builds up and drains, jobs done at a steady rate, and a few dying.
fn busy_view() -> QueueView {
    let mut view = QueueView::new(false);
    let now = Utc::now();
    for n in 0..40u64 {
        let ready = if n < 20 { n * 3 } else { (40 - n) * 3 };
        let at = now - Duration::seconds(40 - n as i64);
        view.update_overview(
            at,
            Ok(QueueOverview {
                depth: QueueStatus {
                    ready,
                    delayed: n % 3,
                    processing: 2 + n % 2,
                    dead: n / 10,
                },
                oldest_ready_age_secs: Some(ready as f64 * 0.4),
                processed: Some(ProcessedTotals {
                    by_outcome: BTreeMap::from([
                        ("done".to_owned(), 1000 + n * 12),
                        ("retry".to_owned(), 40 + n / 2),
                        ("failed".to_owned(), 3),
                        ("dead".to_owned(), n / 10),
                    ]),
                    workers: 2,
                }),
            }),
        );
    }
    view.update_dead_letters(now, Ok(letters()));
    view
}

fn letters() -> DeadLetters {
    let at = |s| Utc.with_ymd_and_hms(2026, 11, 21, 22, 27, s).single();
    DeadLetters {
        total: 3,
        letters: vec![
            DeadLetter {
                task_id: "0190f1a2-7b3c-7d4e-8f60-123456789abc".to_owned(),
                kind: "fail".to_owned(),
                attempts: 3,
                error: Some("fail: this task always fails".to_owned()),
                dead_at: at(41),
            },
            DeadLetter {
                task_id: "0190f1a2-0000-7d4e-8f60-aaaaaaaaaaaa".to_owned(),
                kind: "flaky".to_owned(),
                attempts: 3,
                error: Some(
                    "flaky: attempt 3 failed with probability 1; the payload asks every attempt to fail"
                        .to_owned(),
                ),
                dead_at: at(30),
            },
            DeadLetter {
                task_id: "0190f1a1-ffff-7d4e-8f60-bbbbbbbbbbbb".to_owned(),
                kind: "io".to_owned(),
                attempts: 3,
                error: None,
                dead_at: None,
            },
        ],
    }
}

#[test]
fn queue_normal_with_the_second_letter_selected() {
    let mut view = busy_view();
    view.handle(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE));
    insta::assert_snapshot!(screen(&mut view, 120, 22));
}

#[test]
fn queue_empty_before_and_after_the_first_read() {
    let mut view = QueueView::new(false);
    insta::assert_snapshot!("queue_empty_before_first_read", screen(&mut view, 80, 14));
    let now = Utc::now();
    view.update_overview(
        now,
        Ok(QueueOverview {
            depth: QueueStatus {
                ready: 0,
                delayed: 0,
                processing: 0,
                dead: 0,
            },
            oldest_ready_age_secs: None,
            processed: None,
        }),
    );
    view.update_dead_letters(
        now,
        Ok(DeadLetters {
            total: 0,
            letters: Vec::new(),
        }),
    );
    insta::assert_snapshot!("queue_empty_idle", screen(&mut view, 80, 14));
}

#[test]
fn queue_error_shows_the_last_reading_and_its_age() {
    let mut view = busy_view();
    let later: DateTime<Utc> = Utc::now();
    view.update_overview(
        later,
        Err("cannot read the queue from Redis: connection refused".to_owned()),
    );
    view.update_dead_letters(later, Err("the daemon does not answer".to_owned()));
    insta::assert_snapshot!(screen(&mut view, 100, 20));
}

#[test]
fn queue_fits_80_by_24() {
    let mut view = busy_view();
    insta::assert_snapshot!(screen(&mut view, 80, 24));
}
