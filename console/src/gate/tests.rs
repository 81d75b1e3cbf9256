use super::*;

fn all_pass() -> Vec<Check> {
    ["slo", "ci", "secrets", "sbom"]
        .iter()
        .map(|name| Check::new(name, CheckStatus::Pass, "fine"))
        .collect()
}

fn approved_by(approver: &str, decision: Decision) -> Approval {
    Approval::Flags {
        approver: approver.to_owned(),
        decision,
    }
}

#[test]
fn every_check_passing_and_another_person_saying_go_is_a_go() {
    let ruling = decide(&all_pass(), &approved_by("bea", Decision::Go), "ana");
    assert_eq!(ruling.verdict, Verdict::Go);
    assert!(ruling.reasons.is_empty(), "{:?}", ruling.reasons);
    let prompt = Approval::Prompt {
        approver: "bea".to_owned(),
        decision: Decision::Go,
    };
    assert_eq!(decide(&all_pass(), &prompt, "ana").verdict, Verdict::Go);
}

#[test]
fn a_check_that_cannot_tell_is_a_no_go_even_with_an_approval() {
    let mut checks = all_pass();
    checks[1] = Check::new("ci", CheckStatus::Unknown, "no CI evidence");
    let ruling = decide(&checks, &approved_by("bea", Decision::Go), "ana");
    assert_eq!(ruling.verdict, Verdict::NoGo);
    assert_eq!(ruling.reasons, ["ci cannot tell (a no-go): no CI evidence"]);
    assert!(!checks_pass(&checks));
}

#[test]
fn a_failed_check_is_a_no_go_and_each_reason_is_kept() {
    let mut checks = all_pass();
    checks[0] = Check::new("slo", CheckStatus::Fail, "api-availability is paging");
    checks[2] = Check::new("secrets", CheckStatus::Fail, "1 leak");
    let ruling = decide(&checks, &approved_by("bea", Decision::NoGo), "ana");
    assert_eq!(ruling.verdict, Verdict::NoGo);
    assert_eq!(
        ruling.reasons,
        [
            "slo failed: api-availability is paging",
            "secrets failed: 1 leak",
            "bea decided no-go"
        ]
    );
}

#[test]
fn no_decision_the_owner_approving_or_a_no_go_each_stop_the_release() {
    let none = Approval::None {
        why: "no terminal to ask".to_owned(),
    };
    let ruling = decide(&all_pass(), &none, "ana");
    assert_eq!(ruling.verdict, Verdict::NoGo);
    assert_eq!(
        ruling.reasons,
        ["no approver's decision: no terminal to ask"]
    );
    let ruling = decide(&all_pass(), &approved_by(" Ana ", Decision::Go), "ana");
    assert_eq!(ruling.verdict, Verdict::NoGo);
    assert!(
        ruling.reasons[0].contains("is the change owner"),
        "{ruling:?}"
    );
    let ruling = decide(&all_pass(), &approved_by("bea", Decision::NoGo), "ana");
    assert_eq!(ruling.reasons, ["bea decided no-go"]);
    let ruling = decide(&all_pass(), &approved_by("  ", Decision::Go), "ana");
    assert_eq!(ruling.reasons, ["the approver has no name"]);
}

#[test]
fn a_gate_without_checks_checked_nothing() {
    let ruling = decide(&[], &approved_by("bea", Decision::Go), "ana");
    assert_eq!(ruling.verdict, Verdict::NoGo);
    assert_eq!(ruling.reasons, ["no check ran"]);
    assert!(!checks_pass(&[]));
}

#[test]
fn the_record_serializes_with_the_names_pipelines_read() {
    let json = serde_json::to_value(decide(
        &all_pass(),
        &approved_by("bea", Decision::Go),
        "ana",
    ))
    .expect("json");
    assert_eq!(json, serde_json::json!({ "verdict": "go", "reasons": [] }));
    let json = serde_json::to_value(approved_by("bea", Decision::NoGo)).expect("json");
    assert_eq!(
        json,
        serde_json::json!({ "source": "flags", "approver": "bea", "decision": "no-go" })
    );
}
