//! The pre-deployment gate: the checks a release must pass and an approver's go/no-go,
//! decided here without I/O so the rule "a check that cannot tell is a no-go" has one home.

pub mod ci;
pub mod sbom;
pub mod secrets;
pub mod slo;

use serde::{Deserialize, Serialize};

/// How risky the change is, as the change owner rates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    Low,
    Medium,
    High,
}

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Pass,
    Fail,
    /// The check could not tell (no evidence, a tool missing, an environment down).
    Unknown,
}

/// One check's result, with what the operator needs to see to believe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// `slo`, `ci`, `secrets`, `sbom`.
    pub name: String,
    pub status: CheckStatus,
    pub detail: String,
}

impl Check {
    pub fn new(name: &str, status: CheckStatus, detail: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            status,
            detail: detail.into(),
        }
    }
}

/// The approver's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    Go,
    NoGo,
}

/// Who decided, how the decision reached the gate, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "source")]
pub enum Approval {
    /// `--approver` and `--decision` on the command line.
    Flags {
        approver: String,
        decision: Decision,
    },
    /// Answered at the gate's prompt.
    Prompt {
        approver: String,
        decision: Decision,
    },
    /// Nobody was asked: no terminal and no flags, or the checks had already failed.
    None { why: String },
}

/// The gate's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Go,
    NoGo,
}

/// A verdict with every reason it is not a go (empty for a go).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ruling {
    pub verdict: Verdict,
    pub reasons: Vec<String>,
}

/// True when every check passed: only then is an approver asked.
pub fn checks_pass(checks: &[Check]) -> bool {
    !checks.is_empty() && checks.iter().all(|check| check.status == CheckStatus::Pass)
}

/// Go only when every check passed and an approver who is not the change owner said go.
/// An empty list of checks is a gate that checked nothing: a no-go.
pub fn decide(checks: &[Check], approval: &Approval, owner: &str) -> Ruling {
    let mut reasons: Vec<String> = checks
        .iter()
        .filter_map(|check| match check.status {
            CheckStatus::Pass => None,
            CheckStatus::Fail => Some(format!("{} failed: {}", check.name, check.detail)),
            CheckStatus::Unknown => Some(format!(
                "{} cannot tell (a no-go): {}",
                check.name, check.detail
            )),
        })
        .collect();
    if checks.is_empty() {
        reasons.push("no check ran".to_owned());
    }
    match approval {
        Approval::Flags { approver, decision } | Approval::Prompt { approver, decision } => {
            if approver.trim().is_empty() {
                reasons.push("the approver has no name".to_owned());
            } else if approver.trim().eq_ignore_ascii_case(owner.trim()) {
                // Four eyes: whoever owns the change does not approve it too.
                reasons.push(format!(
                    "the approver {approver} is the change owner; another person must approve"
                ));
            }
            if *decision == Decision::NoGo {
                reasons.push(format!("{approver} decided no-go"));
            }
        }
        Approval::None { why } => reasons.push(format!("no approver's decision: {why}")),
    }
    Ruling {
        verdict: if reasons.is_empty() {
            Verdict::Go
        } else {
            Verdict::NoGo
        },
        reasons,
    }
}

#[cfg(test)]
mod tests;
