use clap::Parser;

use super::*;
use crate::cli::{Cli, Command};

const REQUIRED: [&str; 9] = [
    "opsbox",
    "gate",
    "--ticket",
    "OPS-1",
    "--risk",
    "low",
    "--rollback-plan",
    "opsbox rollout undo",
    "--owner",
];

fn parse(extra: &[&str]) -> Result<GateArgs, clap::Error> {
    let mut args: Vec<&str> = REQUIRED.to_vec();
    args.push("ana");
    args.extend_from_slice(extra);
    let cli = Cli::try_parse_from(args)?;
    match cli.command {
        Some(Command::Gate(args)) => Ok(args),
        other => panic!("not gate: {other:?}"),
    }
}

#[test]
fn the_change_fields_are_required_and_defaults_are_strict() {
    let args = parse(&[]).expect("parses");
    assert_eq!(args.risk, Risk::Low);
    assert!((args.max_burn_rate - 1.0).abs() < f64::EPSILON);
    assert!(!args.local && args.approver.is_none() && args.decision.is_none());
    assert_eq!(
        args.sbom,
        PathBuf::from("target/sbom/opsbox-api-bin.cdx.json")
    );
    let args = parse(&["--approver", "bea", "--decision", "no-go", "--json"]).expect("parses");
    assert_eq!(args.decision, Some(Decision::NoGo));
    // The owner flag without its value, or no owner at all: usage errors.
    let error = Cli::try_parse_from(REQUIRED).expect_err("no owner");
    assert_eq!(error.exit_code(), 2);
    let error = Cli::try_parse_from(REQUIRED[..8].iter().copied()).expect_err("no owner flag");
    assert_eq!(
        error.kind(),
        clap::error::ErrorKind::MissingRequiredArgument
    );
}

#[test]
fn bad_values_are_usage_errors() {
    for bad in [
        &["--risk", "extreme"][..],
        &["--max-burn-rate", "0"],
        &["--max-burn-rate", "-2"],
        &["--max-burn-rate", "NaN"],
        &["--decision", "go"],
        &["--approver", "bea"],
        &["--approver", "bea", "--decision", "maybe"],
        &["--approver", "", "--decision", "go"],
    ] {
        let error = parse(bad).expect_err("refused");
        assert_eq!(error.exit_code(), 2, "{bad:?}: {error}");
    }
    let error = Cli::try_parse_from([
        "opsbox",
        "gate",
        "--ticket",
        "",
        "--risk",
        "low",
        "--rollback-plan",
        "x",
        "--owner",
        "a",
    ])
    .expect_err("an empty ticket");
    assert_eq!(error.exit_code(), 2);
}

#[test]
fn the_prompt_takes_go_only_when_said() {
    let args = parse(&[]).expect("parses");
    let approval = ask(&args, &mut "bea\ngo\n".as_bytes());
    assert_eq!(
        approval,
        Approval::Prompt {
            approver: "bea".to_owned(),
            decision: Decision::Go
        }
    );
    let approval = ask(&args, &mut "bea\nyes\n".as_bytes());
    assert_eq!(
        approval,
        Approval::Prompt {
            approver: "bea".to_owned(),
            decision: Decision::NoGo
        }
    );
    // No answer at all (end of input) is no decision.
    assert!(matches!(
        ask(&args, &mut "".as_bytes()),
        Approval::None { .. }
    ));
    assert!(matches!(
        ask(&args, &mut "bea\n".as_bytes()),
        Approval::Prompt {
            decision: Decision::NoGo,
            ..
        }
    ));
}

#[test]
fn failed_checks_mean_nobody_is_asked_but_flags_are_recorded() {
    let args = parse(&[]).expect("parses");
    let failed = [Check::new("ci", CheckStatus::Unknown, "no evidence")];
    assert_eq!(
        approval(&args, &failed),
        Approval::None {
            why: "not asked: a check did not pass".to_owned()
        }
    );
    let args = parse(&["--approver", "bea", "--decision", "go"]).expect("parses");
    assert_eq!(
        approval(&args, &failed),
        Approval::Flags {
            approver: "bea".to_owned(),
            decision: Decision::Go
        }
    );
}
