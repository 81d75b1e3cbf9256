//! `opsbox rollback`: the on-call name for `rollout undo` in whichever environment is
//! current. It says what it is about to change and asks on stdin first (`--yes` skips
//! that), then goes through the same operation, permission check and audit record as
//! the console's undo.

use std::io::BufRead;

use clap::Args;

use super::{rollout, runtime};
use crate::env::{AnyEnvironment, Environment};
use crate::model::RolloutStatus;
use crate::operations::{Operation, Performed, Via};

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The workload to roll back: only the API has revisions (the worker follows the
    /// chart's release).
    #[arg(long, default_value = "api", value_parser = ["api"])]
    pub app: String,
    /// The revision to go back to, by name or number as `opsbox rollout status` lists
    /// them [default: the previous stable one].
    #[arg(long, value_name = "REVISION")]
    pub to: Option<String>,
    /// Roll back without asking (pipelines, scripts).
    #[arg(long)]
    pub yes: bool,
    /// Print the rollout as JSON once rolled back.
    #[arg(long)]
    pub json: bool,
}

/// The operator's answer to the question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Yes,
    No,
    /// Stdin was closed or empty: nobody is there to ask.
    Nobody,
}

pub fn run(environment: &AnyEnvironment, args: &RollbackArgs) -> anyhow::Result<()> {
    let runtime = runtime()?;
    if !args.yes {
        let current = runtime.block_on(environment.rollout())?;
        eprint!(
            "{} [y/N] ",
            question(environment, &current, args.to.as_deref())
        );
        match read_answer(&mut std::io::stdin().lock())? {
            Answer::Yes => {}
            Answer::No => anyhow::bail!("not confirmed: nothing was rolled back"),
            Answer::Nobody => anyhow::bail!(
                "no answer on stdin (closed or not a terminal): nothing was rolled back; \
                 pass --yes to roll back without asking"
            ),
        }
    }
    let operation = Operation::Undo {
        to: args.to.clone(),
    };
    let performed = runtime.block_on(operation.perform_and_record(environment, Via::Cli))?;
    let Performed::Rollout(status) = performed else {
        anyhow::bail!("the environment did not answer with the rollout");
    };
    print!("{}", rollout::render(&status, args.json)?);
    Ok(())
}

/// What will change, in one sentence: where, what runs now, where it goes back to.
fn question(environment: &impl Environment, current: &RolloutStatus, to: Option<&str>) -> String {
    let target = to.map_or_else(
        || "the previous revision".to_owned(),
        |revision| format!("revision {revision}"),
    );
    let now = match &current.canary_revision {
        Some(canary) if !current.aborted && *canary != current.stable_revision => format!(
            "the rollout of {canary} at {}% is undone (stable is {})",
            current.canary_weight, current.stable_revision
        ),
        _ => format!("stable is {}", current.stable_revision),
    };
    format!(
        "Roll back the api in {} ({}): {now}; go back to {target}?",
        environment.name(),
        environment.location(),
    )
}

fn read_answer(input: &mut impl BufRead) -> anyhow::Result<Answer> {
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(Answer::Nobody);
    }
    Ok(match line.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Answer::Yes,
        _ => Answer::No,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_y_or_yes_confirms_and_a_closed_stdin_is_nobody() {
        for (input, expected) in [
            ("y\n", Answer::Yes),
            ("YES\n", Answer::Yes),
            (" yes ", Answer::Yes),
            ("\n", Answer::No),
            ("n\n", Answer::No),
            ("yep\n", Answer::No),
            ("", Answer::Nobody),
        ] {
            let answer = read_answer(&mut input.as_bytes()).expect("reads");
            assert_eq!(answer, expected, "{input:?}");
        }
    }
}
