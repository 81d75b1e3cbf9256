use super::*;
use crate::chaos::{Dependency, OutageMode};
use opsbox_common::config::Track;

#[test]
fn every_operation_names_its_action_target_and_verb() {
    let cases = [
        (
            Operation::StartRollout {
                revision: "v2".to_owned(),
                overrides: BTreeMap::new(),
            },
            "rollout.start",
            "v2",
            Verb::StartRollout,
        ),
        (
            Operation::Promote { full: true },
            "rollout.promote",
            "api",
            Verb::Promote,
        ),
        (Operation::Abort, "rollout.abort", "api", Verb::Abort),
        (Operation::Retry, "rollout.retry", "api", Verb::Retry),
        (
            Operation::Undo { to: None },
            "rollout.undo",
            "api",
            Verb::Undo,
        ),
        (
            Operation::Kill(KillRequest {
                instance: Some("api-1".to_owned()),
                ..KillRequest::default()
            }),
            "chaos.kill",
            "api-1",
            Verb::Kill,
        ),
        (
            Operation::Kill(KillRequest {
                workload: Some("api".to_owned()),
                track: Some(Track::Canary),
                ..KillRequest::default()
            }),
            "chaos.kill",
            "random api on canary",
            Verb::Kill,
        ),
        (
            Operation::Restart {
                instance: "worker-1".to_owned(),
            },
            "instance.restart",
            "worker-1",
            Verb::Restart,
        ),
        (
            Operation::Outage(OutageRequest {
                dependency: Dependency::Redis,
                mode: OutageMode::Stop,
                duration_ms: 1_000,
            }),
            "chaos.outage",
            "redis",
            Verb::Outage,
        ),
        (
            Operation::Requeue(RequeueRequest::one("t1")),
            "queue.requeue",
            "t1",
            Verb::Requeue,
        ),
        (
            Operation::Requeue(RequeueRequest::all()),
            "queue.requeue",
            "all dead letters",
            Verb::Requeue,
        ),
    ];
    for (operation, action, target, verb) in cases {
        let audit = operation.audit_record();
        assert_eq!(
            (audit.action, audit.target.as_str(), operation.verb()),
            (action, target, verb),
            "{operation:?}"
        );
    }
}

#[test]
fn parameters_carry_what_was_asked() {
    assert_eq!(
        Operation::Promote { full: true }.parameters(),
        json!({ "full": true })
    );
    assert_eq!(
        Operation::Undo {
            to: Some("v1".to_owned())
        }
        .parameters(),
        json!({ "to_revision": "v1" })
    );
    assert_eq!(
        Operation::Requeue(RequeueRequest::all()).parameters(),
        json!({ "all": true })
    );
    let fault = FaultRequest {
        error_rate: 1.0,
        latency_ms: 0,
        duration_ms: 5_000,
        track: Some(Track::Canary),
    };
    assert_eq!(Operation::Fault(fault.clone()).target(), "api/canary");
    assert_eq!(Operation::Fault(fault).parameters()["error_rate"], 1.0);
}
