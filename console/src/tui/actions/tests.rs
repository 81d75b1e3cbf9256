use super::*;
use crate::model::RolloutPhase;
use crate::tui::test_support::{empty_store, normal_store};

fn joined(confirmation: &Confirmation) -> String {
    confirmation.effects.join("\n")
}

#[test]
fn confirmations_name_the_steps_the_canary_leaves_and_enters() {
    let store = normal_store();
    let store = store.borrow();
    let promote = describe(&Action::Promote, &store);
    assert_eq!(promote.question, "Promote the api rollout of v2?");
    assert!(
        joined(&promote)
            .contains("leaves step 5/6 (pause) and goes on with step 6/6 (setWeight 100)"),
        "{promote:?}"
    );
    assert!(joined(&promote).contains("50% now"), "{promote:?}");
    let full = describe(&Action::PromoteFull, &store);
    assert!(
        joined(&full).contains("The 2 remaining steps are skipped"),
        "{full:?}"
    );
    assert!(
        joined(&full).contains("v2 becomes the stable revision and gets 100% of traffic (now 50%)")
    );
    let abort = describe(&Action::Abort, &store);
    assert!(
        joined(&abort).contains("back to stable v1 at once (the canary has 50% now)"),
        "{abort:?}"
    );
    // Retry of a rollout that is not aborted: the dialog says it will likely be refused.
    assert!(joined(&describe(&Action::Retry, &store)).contains("likely refuse"));
    let undo = describe(&Action::Undo, &store);
    assert!(
        joined(&undo).contains("v0 becomes the stable revision again, replacing v1"),
        "{undo:?}"
    );
}

#[test]
fn confirmations_of_instance_and_queue_actions_say_what_they_hit() {
    let store = normal_store();
    let store = store.borrow();
    let kill = describe(&Action::KillInstance("worker-1".to_owned()), &store);
    assert_eq!(kill.question, "Kill instance worker-1?");
    assert!(joined(&kill).contains("worker-1: workload worker, stable track, revision v1, running as pid 4001, 1 restarts so far."));
    assert!(joined(&kill).contains("SIGKILL"));
    let unknown = describe(&Action::RestartInstance("api-9".to_owned()), &store);
    assert!(joined(&unknown).contains("does not list it"), "{unknown:?}");
    let all = describe(&Action::RequeueAllDead, &store);
    assert_eq!(all.question, "Requeue all 2 dead-lettered tasks?");
    let drill = describe(&Action::RunDrill("worker-crash".to_owned()), &store);
    assert!(joined(&drill).contains("running local environment"));
}

#[test]
fn confirmations_without_a_rollout_do_not_pretend_to_know() {
    let store = empty_store();
    let store = store.borrow();
    for action in [
        Action::Promote,
        Action::PromoteFull,
        Action::Abort,
        Action::Retry,
        Action::Undo,
    ] {
        let confirmation = describe(&action, &store);
        assert!(
            joined(&confirmation).contains("no rollout status yet"),
            "{confirmation:?}"
        );
    }
}

#[test]
fn the_previous_stable_revision_is_the_one_stable_most_recently() {
    let mut rollout = crate::tui::test_support::rollout();
    assert_eq!(describe::previous_stable(&rollout), Some("v0"));
    rollout.revisions.retain(|revision| revision.name != "v0");
    assert_eq!(describe::previous_stable(&rollout), None);
}

#[test]
fn audit_records_name_the_verb_and_its_target() {
    let cases = [
        (Action::Promote, "rollout.promote", "api"),
        (Action::PromoteFull, "rollout.promote", "api"),
        (Action::Abort, "rollout.abort", "api"),
        (Action::Retry, "rollout.retry", "api"),
        (Action::Undo, "rollout.undo", "api"),
        (
            Action::KillInstance("api-1".to_owned()),
            "chaos.kill",
            "api-1",
        ),
        (
            Action::RestartInstance("api-1".to_owned()),
            "instance.restart",
            "api-1",
        ),
        (Action::RequeueDead("t1".to_owned()), "queue.requeue", "t1"),
        (Action::RequeueAllDead, "queue.requeue", "all dead letters"),
        (
            Action::RunDrill("worker-crash".to_owned()),
            "drill.run",
            "worker-crash",
        ),
    ];
    for (action, verb, target) in cases {
        let record = audit_record(&action);
        assert_eq!(
            (record.action, record.target.as_str()),
            (verb, target),
            "{action:?}"
        );
        assert_eq!(record.parameters["via"], "console");
    }
    assert_eq!(audit_record(&Action::PromoteFull).parameters["full"], true);
    assert_eq!(
        summary(&Action::KillInstance("api-1".to_owned())),
        "kill api-1"
    );
    assert_eq!(summary(&Action::RequeueAllDead), "requeue-all");
}

#[test]
fn rollout_answers_are_summarised_in_one_line() {
    let mut rollout = crate::tui::test_support::rollout();
    assert_eq!(
        rollout_summary(&rollout),
        "rollout Paused at step 5/6 (pause), canary v2 at 50%; stable v1"
    );
    rollout.phase = RolloutPhase::Healthy;
    rollout.canary_revision = None;
    rollout.current_step_index = None;
    assert_eq!(rollout_summary(&rollout), "rollout Healthy; stable v1");
}
