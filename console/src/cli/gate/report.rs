//! What the gate prints as it goes: the change, each check, the SBOM delta, the verdict.
//! On stdout, or on stderr with `--json` so that stdout holds only the JSON record.

use std::io::Write;
use std::path::Path;

use super::{GateArgs, GateRecord};
use crate::gate::sbom::SbomDelta;
use crate::gate::{Approval, Check, CheckStatus, Decision, Verdict};

pub struct Progress {
    out: Box<dyn Write>,
}

impl Progress {
    pub fn new(json: bool) -> Self {
        let out: Box<dyn Write> = if json {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        };
        Self { out }
    }

    fn line(&mut self, text: &str) {
        // A closed pipe must not turn the gate's answer into a panic.
        let _ = writeln!(self.out, "{text}");
    }

    pub fn header(&mut self, args: &GateArgs, commit: Option<&str>, environment: &str) {
        let commit = commit.map_or("no commit (not a git repository)", |sha| {
            sha.get(..12).unwrap_or(sha)
        });
        self.line(&format!(
            "gate for {} (risk {}, owner {}) at {commit}, environment {environment}",
            args.ticket,
            risk(args),
            args.owner
        ));
        self.line(&format!("rollback plan: {}", args.rollback_plan));
    }

    pub fn check(&mut self, check: &Check) {
        let status = match check.status {
            CheckStatus::Pass => "PASS",
            CheckStatus::Fail => "FAIL",
            CheckStatus::Unknown => "UNKNOWN",
        };
        self.line(&format!("  {status:<7} {:<8} {}", check.name, check.detail));
    }

    pub fn delta(&mut self, delta: Option<&SbomDelta>) {
        let Some(delta) = delta else { return };
        self.line("SBOM delta against the deployed release:");
        for line in delta.lines() {
            self.line(&format!("  {line}"));
        }
    }

    pub fn verdict(&mut self, record: &GateRecord, log: &Path) {
        let approval = match &record.approval {
            Approval::Flags { approver, decision } => {
                format!("{approver} (--decision): {}", decision_text(*decision))
            }
            Approval::Prompt { approver, decision } => {
                format!("{approver} (at the prompt): {}", decision_text(*decision))
            }
            Approval::None { why } => format!("none ({why})"),
        };
        self.line(&format!("approver: {approval}"));
        let verdict = match record.verdict {
            Verdict::Go => "GO",
            Verdict::NoGo => "NO-GO",
        };
        self.line(&format!("verdict: {verdict}"));
        for reason in &record.reasons {
            self.line(&format!("  - {reason}"));
        }
        self.line(&format!("recorded in {}", log.display()));
    }
}

fn risk(args: &GateArgs) -> &'static str {
    match args.risk {
        crate::gate::Risk::Low => "low",
        crate::gate::Risk::Medium => "medium",
        crate::gate::Risk::High => "high",
    }
}

fn decision_text(decision: Decision) -> &'static str {
    match decision {
        Decision::Go => "go",
        Decision::NoGo => "no-go",
    }
}
