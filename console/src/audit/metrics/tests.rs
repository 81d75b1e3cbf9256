use chrono::{Duration as Span, TimeZone};
use serde_json::json;

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .expect("a valid time")
}

fn at(offset: Span, action: &str, parameters: serde_json::Value, outcome: Outcome) -> AuditEntry {
    AuditEntry {
        time: t0() + offset,
        user: "ana".to_owned(),
        environment: "local".to_owned(),
        action: action.to_owned(),
        target: "api".to_owned(),
        parameters,
        outcome,
    }
}

fn ok(offset: Span, action: &str, parameters: serde_json::Value) -> AuditEntry {
    at(offset, action, parameters, Outcome::Ok)
}

/// Three rollouts in the period: one completes on its own, one is aborted by its
/// analysis, one is promoted fully and then undone; plus refused verbs and an entry
/// before the period.
fn synthetic_log() -> Vec<AuditEntry> {
    let (m, d) = (Span::minutes, Span::days);
    vec![
        ok(-d(1), "rollout.start", json!({})),
        ok(m(0), "rollout.start", json!({ "revision": "v2" })),
        ok(m(10), "rollout.promote", json!({ "full": false })),
        ok(m(20), "rollout.complete", json!({ "automatic": true })),
        ok(d(1), "rollout.start", json!({ "revision": "v3" })),
        ok(d(1) + m(5), "rollout.abort", json!({ "automatic": true })),
        ok(d(2), "rollout.start", json!({ "revision": "v4" })),
        ok(d(2) + m(1), "rollout.promote", json!({ "full": true })),
        ok(
            d(2) + m(2),
            "rollout.complete",
            json!({ "automatic": true }),
        ),
        ok(d(2) + m(32), "rollout.undo", json!({})),
        ok(
            d(2) + m(34),
            "rollout.complete",
            json!({ "automatic": true }),
        ),
        at(
            d(3),
            "rollout.start",
            json!({}),
            Outcome::Error("a rollout is in progress".into()),
        ),
        at(
            d(3) + m(1),
            "rollout.promote",
            json!({ "full": true }),
            Outcome::Error("no rollout in progress".into()),
        ),
        ok(d(4), "chaos.kill", json!({})),
    ]
}

#[test]
fn a_synthetic_log_gives_the_known_answers() {
    let since = t0();
    let until = t0() + Span::days(30);
    let metrics = compute(&synthetic_log(), since, until);
    assert_eq!(
        metrics.entries, 13,
        "the entry before the period is left out"
    );
    assert_eq!(metrics.rollouts_started, 3);
    assert_eq!(metrics.deployments, 2, "v2 completed, v4 promoted fully");
    assert_eq!(metrics.failed_rollouts, 2, "v3 aborted, v4 undone");
    let rate = metrics.change_failure_rate.expect("a rate");
    assert!((rate - 2.0 / 3.0).abs() < 1e-9, "{rate}");
    // v3: 5 minutes from start to abort; v4: from full (2d+1m) to the undo's end (2d+34m).
    assert_eq!(metrics.restores, 2);
    assert_eq!(metrics.mean_time_to_restore_secs, Some((300 + 33 * 60) / 2));
    // v2: 20 minutes to complete; v4: 1 minute to its full promotion.
    assert_eq!(metrics.canary_to_full_count, 2);
    assert_eq!(metrics.mean_canary_to_full_secs, Some((1_200 + 60) / 2));
    assert_eq!((metrics.rollbacks, metrics.aborts), (1, 1));
    let per_day = metrics.deployments_per_day.expect("a frequency");
    assert!((per_day - 2.0 / 30.0).abs() < 1e-9, "{per_day}");
    let per_week = metrics.rollbacks_per_week.expect("a frequency");
    assert!((per_week - 7.0 / 30.0).abs() < 1e-9, "{per_week}");
}

#[test]
fn an_empty_log_is_no_data_not_zero() {
    let metrics = compute(&[], t0(), t0() + Span::days(30));
    assert_eq!(metrics.entries, 0);
    assert_eq!(metrics.deployments_per_day, None);
    assert_eq!(metrics.change_failure_rate, None);
    assert_eq!(metrics.mean_time_to_restore_secs, None);
    assert_eq!(metrics.mean_canary_to_full_secs, None);
    assert_eq!(metrics.rollbacks_per_week, None);
    assert_eq!(percent_or_no_data(metrics.change_failure_rate), "no data");
    assert_eq!(
        seconds_or_no_data(metrics.mean_time_to_restore_secs),
        "no data"
    );
}

#[test]
fn a_log_without_rollouts_has_a_frequency_of_zero_and_no_failure_rate() {
    let log = [ok(Span::hours(1), "chaos.kill", json!({}))];
    let metrics = compute(&log, t0(), t0() + Span::days(7));
    assert_eq!(metrics.deployments_per_day, Some(0.0));
    assert_eq!(metrics.change_failure_rate, None);
    assert_eq!(metrics.rollbacks_per_week, Some(0.0));
}

#[test]
fn an_undo_without_a_recorded_end_restores_at_the_undo_and_counts_once() {
    let (m, h) = (Span::minutes, Span::hours);
    let log = [
        ok(m(0), "rollout.start", json!({})),
        ok(m(3), "rollout.promote", json!({ "full": true })),
        ok(m(13), "rollout.undo", json!({})),
        ok(m(14), "rollout.undo", json!({ "to-revision": "v1" })),
        // An abort with no canary running changes no rollout's fate.
        ok(h(1), "rollout.abort", json!({})),
    ];
    let metrics = compute(&log, t0(), t0() + Span::days(1));
    assert_eq!(metrics.failed_rollouts, 1);
    assert_eq!(metrics.rollbacks, 2);
    assert_eq!(metrics.aborts, 1);
    // The second undo replaces the first: restored at its time, 11 minutes after full.
    assert_eq!(metrics.mean_time_to_restore_secs, Some(11 * 60));
    assert_eq!(percent_or_no_data(metrics.change_failure_rate), "100.0%");
    assert_eq!(
        seconds_or_no_data(metrics.mean_canary_to_full_secs),
        "3m00s"
    );
}

#[test]
fn deploys_on_a_cluster_count_by_how_their_rollout_settled() {
    let (m, d) = (Span::minutes, Span::days);
    let deploy =
        |settled: &str, took: u64| json!({ "env": "prod", "settled": settled, "took_secs": took });
    let log = [
        // Followed to the end: a deployment, 4 minutes from helm to healthy.
        ok(m(4), "release.deploy", deploy("completed", 240)),
        // Paused at its first step, then promoted fully by hand.
        ok(d(1), "release.deploy", deploy("paused", 30)),
        ok(d(1) + m(10), "rollout.promote", json!({ "full": true })),
        // Aborted by its analysis: the command failed, the change failed, traffic was
        // back on stable at the abort, 6 minutes after helm began.
        at(
            d(2),
            "release.deploy",
            deploy("degraded", 360),
            Outcome::Error("the rollout was aborted".into()),
        ),
        // Nothing known about the rollout: helm failed, or the deploy timed out.
        at(
            d(3),
            "release.deploy",
            json!({ "env": "prod", "settled": null, "took_secs": 2 }),
            Outcome::Error("helm: no such chart".into()),
        ),
        at(
            d(4),
            "release.deploy",
            deploy("timed_out", 900),
            Outcome::Error("timeout".into()),
        ),
    ];
    let metrics = compute(&log, t0(), t0() + Span::days(10));
    assert_eq!(metrics.rollouts_started, 3);
    assert_eq!(
        metrics.deployments, 2,
        "completed, and paused then promoted fully"
    );
    assert_eq!(metrics.failed_rollouts, 1);
    assert_eq!(metrics.aborts, 1);
    assert_eq!(metrics.mean_time_to_restore_secs, Some(360));
    // 240 s; and from the paused deploy's start (d1 - 30 s) to the full promotion.
    assert_eq!(metrics.canary_to_full_count, 2);
    assert_eq!(metrics.mean_canary_to_full_secs, Some((240 + 630) / 2));
}
