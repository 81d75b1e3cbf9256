use chrono::TimeZone;

use super::*;
use crate::model::{AnalysisMeasurement, AnalysisStep, PauseStep};

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0)
        .single()
        .expect("valid time")
}

fn strategy() -> Strategy {
    Strategy {
        steps: vec![
            RolloutStep::SetWeight(10),
            RolloutStep::Pause(PauseStep {
                duration: Some("30s".into()),
            }),
            RolloutStep::Analysis(AnalysisStep {}),
            RolloutStep::SetWeight(50),
            RolloutStep::Pause(PauseStep { duration: None }),
            RolloutStep::SetWeight(100),
        ],
        canary_replicas: 1,
    }
}

fn v1() -> Revision {
    Revision {
        name: "v1".into(),
        overrides: BTreeMap::new(),
        created_at: at(0),
        last_stable_at: None,
    }
}

fn machine() -> RolloutMachine {
    RolloutMachine::new(strategy(), v1(), at(0))
}

fn start(machine: &mut RolloutMachine, revision: &str, overrides: &[(&str, &str)]) -> Work {
    machine
        .start(
            StartRequest {
                revision: revision.into(),
                overrides: overrides
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            },
            at(1),
        )
        .expect("starts")
}

fn run(step_index: usize, phase: AnalysisPhase, message: &str) -> AnalysisRun {
    AnalysisRun {
        step_index,
        started_at: at(40),
        finished_at: Some(at(41)),
        phase,
        measurements: vec![AnalysisMeasurement {
            slo: "api-availability".into(),
            metric: "error_ratio".into(),
            value: Some(0.3),
            threshold: 0.001,
            events: 100.0,
            phase,
        }],
        message: Some(message.into()),
    }
}

/// Starts v2 and walks to the analysis step (index 2).
fn walk_to_analysis(machine: &mut RolloutMachine) {
    start(machine, "v2", &[]);
    assert_eq!(
        machine.finished(Finished::CanaryStarted, at(2)),
        Some(Work::SetWeight(10))
    );
    assert_eq!(
        machine.finished(Finished::WeightSet(10), at(3)),
        Some(Work::Pause {
            until: Some(at(33))
        })
    );
    assert_eq!(machine.status().phase, RolloutPhase::Paused);
    assert_eq!(
        machine.finished(Finished::PauseEnded, at(33)),
        Some(Work::Analysis { step_index: 2 })
    );
}

#[test]
fn a_clean_rollout_walks_every_step_and_the_canary_becomes_stable() {
    let mut machine = machine();
    walk_to_analysis(&mut machine);
    assert_eq!(
        machine.finished(
            Finished::Analysis(run(2, AnalysisPhase::Successful, "ok")),
            at(40)
        ),
        Some(Work::SetWeight(50))
    );
    assert_eq!(
        machine.finished(Finished::WeightSet(50), at(41)),
        Some(Work::Pause { until: None }),
        "a pause without duration waits for promote"
    );
    assert_eq!(machine.status().current_step_index, Some(4));
    assert_eq!(
        machine.promote(false, at(50)).expect("promotes"),
        Work::SetWeight(100)
    );
    let Some(Work::ReplaceStable {
        revision,
        canary_running: true,
        ..
    }) = machine.finished(Finished::WeightSet(100), at(51))
    else {
        panic!("after the last step the canary is promoted");
    };
    assert_eq!(revision.name, "v2");
    assert!(
        machine.abort("no", at(52)).is_err(),
        "abort is refused while stable instances are replaced"
    );
    assert_eq!(machine.finished(Finished::StableReplaced, at(60)), None);
    let status = machine.status();
    assert_eq!(status.stable_revision, "v2");
    assert_eq!(status.canary_revision, None);
    assert_eq!(status.phase, RolloutPhase::Healthy);
    assert_eq!(status.canary_weight, 0);
    let kinds: Vec<&str> = status.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"start"));
    assert_eq!(kinds.last(), Some(&"complete"));
}

#[test]
fn a_failed_analysis_aborts_with_the_breach_in_the_message() {
    let mut machine = machine();
    walk_to_analysis(&mut machine);
    let next = machine.finished(
        Finished::Analysis(run(
            2,
            AnalysisPhase::Failed,
            "api-availability: canary error ratio 30% > 0.1%",
        )),
        at(40),
    );
    assert_eq!(next, Some(Work::StopCanary));
    let status = machine.status();
    assert_eq!(status.phase, RolloutPhase::Degraded);
    assert!(status.aborted);
    let message = status.message.as_deref().expect("message");
    assert!(message.contains("step 3"), "{message}");
    assert!(message.contains("error ratio 30% > 0.1%"), "{message}");
    assert_eq!(machine.finished(Finished::CanaryStopped, at(41)), None);
    assert_eq!(machine.status().canary_weight, 0);
    assert_eq!(machine.status().stable_revision, "v1");

    // Retry starts the same revision from the first step.
    let Work::StartCanary { revision, .. } = machine.retry(at(50)).expect("retries") else {
        panic!("retry starts the canary");
    };
    assert_eq!(revision.name, "v2");
    assert_eq!(machine.status().phase, RolloutPhase::Progressing);
    assert!(machine.status().analysis_runs.is_empty());
    assert_eq!(
        machine.finished(Finished::CanaryStarted, at(51)),
        Some(Work::SetWeight(10))
    );
}

#[test]
fn an_inconclusive_analysis_pauses_until_promoted() {
    let mut machine = machine();
    walk_to_analysis(&mut machine);
    let next = machine.finished(
        Finished::Analysis(run(2, AnalysisPhase::Inconclusive, "3 requests")),
        at(40),
    );
    assert_eq!(next, None);
    assert_eq!(machine.status().phase, RolloutPhase::Paused);
    assert_eq!(
        machine.promote(false, at(45)).expect("promotes"),
        Work::SetWeight(50)
    );
}

#[test]
fn promote_full_skips_to_the_promotion_and_abort_stops_the_canary() {
    let mut machine = machine();
    walk_to_analysis(&mut machine);
    let work = machine.promote(true, at(35)).expect("promotes");
    assert!(matches!(work, Work::ReplaceStable { .. }), "{work:?}");
    let runs = &machine.status().analysis_runs;
    assert_eq!(
        runs.last().map(|run| run.phase),
        Some(AnalysisPhase::Inconclusive)
    );

    let mut machine = self::machine();
    start(&mut machine, "v2", &[]);
    assert!(
        machine.promote(false, at(2)).is_err(),
        "promote waits for the canary to start"
    );
    machine.finished(Finished::CanaryStarted, at(2));
    assert_eq!(machine.abort("by hand", at(3)), Ok(Work::StopCanary));
    assert_eq!(machine.status().message.as_deref(), Some("by hand"));
}

#[test]
fn verbs_at_the_wrong_time_are_refused_with_a_reason() {
    let mut machine = machine();
    assert!(matches!(
        machine.promote(false, at(1)),
        Err(RolloutError::NoRollout { .. })
    ));
    assert!(matches!(
        machine.abort("x", at(1)),
        Err(RolloutError::NoRollout { .. })
    ));
    assert_eq!(machine.retry(at(1)), Err(RolloutError::NotAborted));
    assert!(matches!(
        machine.undo(None, at(1)),
        Err(RolloutError::NoPreviousRevision(_))
    ));
    let unknown = machine.undo(Some("v9"), at(1)).expect_err("unknown");
    assert_eq!(unknown.kind(), ErrorKind::NotFound);
    assert!(unknown.to_string().contains("known: v1"), "{unknown}");
    let same = machine
        .start(
            StartRequest {
                revision: "v1".into(),
                ..StartRequest::default()
            },
            at(1),
        )
        .expect_err("v1 is stable");
    assert_eq!(same, RolloutError::AlreadyStable("v1".into()));

    start(&mut machine, "v2", &[]);
    let twice = machine
        .start(
            StartRequest {
                revision: "v3".into(),
                ..StartRequest::default()
            },
            at(2),
        )
        .expect_err("in progress");
    assert!(matches!(twice, RolloutError::InProgress { .. }));
}

#[test]
fn bad_revisions_are_invalid() {
    let mut machine = machine();
    for (name, key) in [
        ("", "A"),
        ("v 2", "A"),
        ("v2", "lower"),
        ("v2", "OPSBOX_API_ADDR"),
        ("v2", "9X"),
    ] {
        let error = machine
            .start(
                StartRequest {
                    revision: name.into(),
                    overrides: [(key.to_owned(), "1".to_owned())].into(),
                },
                at(1),
            )
            .expect_err("invalid");
        assert_eq!(
            error.kind(),
            ErrorKind::Invalid,
            "{name:?} {key:?}: {error}"
        );
    }
}

#[test]
fn revisions_do_not_change_and_undo_goes_back_and_forth() {
    let mut machine = machine();
    start(&mut machine, "v2", &[("OPSBOX_FAULT_ERROR_RATE", "0.3")]);
    machine.finished(Finished::CanaryStarted, at(2));
    machine.abort("bad", at(3)).expect("aborts");
    machine.finished(Finished::CanaryStopped, at(4));
    let conflict = machine
        .start(
            StartRequest {
                revision: "v2".into(),
                overrides: [("OPSBOX_FAULT_ERROR_RATE".to_owned(), "0".to_owned())].into(),
            },
            at(5),
        )
        .expect_err("v2 exists");
    assert!(matches!(conflict, RolloutError::RevisionConflict { .. }));

    // v3 goes all the way; undo brings v1 back, a second undo v3.
    start(&mut machine, "v3", &[]);
    machine.finished(Finished::CanaryStarted, at(6));
    let work = machine.promote(true, at(7)).expect("full");
    assert!(matches!(work, Work::ReplaceStable { .. }));
    machine.finished(Finished::StableReplaced, at(8));
    assert_eq!(machine.status().stable_revision, "v3");

    let Work::ReplaceStable {
        revision,
        canary_running: false,
        ..
    } = machine.undo(None, at(9)).expect("undo")
    else {
        panic!("undo replaces stable");
    };
    assert_eq!(revision.name, "v1", "v2 never was stable");
    machine.finished(Finished::StableReplaced, at(10));
    assert_eq!(machine.status().stable_revision, "v1");
    let Work::ReplaceStable { revision, .. } = machine.undo(None, at(11)).expect("undo") else {
        panic!("undo replaces stable");
    };
    assert_eq!(revision.name, "v3");
}

#[test]
fn the_history_keeps_the_last_ten_revisions_and_the_stable_one() {
    let mut machine = machine();
    for index in 2..=14 {
        start(&mut machine, &format!("v{index}"), &[]);
        machine.finished(Finished::CanaryStarted, at(2));
        machine.abort("next", at(3)).expect("aborts");
    }
    let names: Vec<&str> = machine
        .status()
        .revisions
        .iter()
        .map(|revision| revision.name.as_str())
        .collect();
    assert_eq!(names.len(), MAX_REVISIONS);
    assert_eq!(names[0], "v1", "the stable revision is never dropped");
    assert_eq!(names.last(), Some(&"v14"));
}

#[test]
fn a_rollout_interrupted_by_a_restart_resumes_as_aborted() {
    let mut machine = machine();
    walk_to_analysis(&mut machine);
    let saved = machine.status().clone();
    let resumed = RolloutMachine::resume(strategy(), saved, at(100));
    let status = resumed.status();
    assert_eq!(status.phase, RolloutPhase::Degraded);
    assert!(status.aborted);
    assert_eq!(status.canary_weight, 0);
    assert!(status.message.as_deref().unwrap_or("").contains("retry"));
    assert_eq!(resumed.stable().map(|r| r.name.as_str()), Some("v1"));
}
