//! `opsbox queue [--json]` and `opsbox queue requeue TASK_ID|--all`: the job queue and its
//! dead letter, for people and scripts.

use std::fmt::Write as _;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Serialize;

use super::runtime;
use crate::env::{AnyEnvironment, Environment};
use crate::model::{DeadLetters, QueueOverview, RequeueReport, RequeueRequest};
use crate::operations::{self, Operation, Performed, Via};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct QueueArgs {
    #[command(subcommand)]
    pub command: Option<QueueCommand>,
    /// Dead letters to list, newest first (1 to 1000).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub dead: u16,
    /// Print depth, throughput and dead letters as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Give dead-lettered tasks a fresh run (new run id, attempts from zero) and queue it.
    Requeue(RequeueArgs),
}

#[derive(Debug, Args)]
pub struct RequeueArgs {
    /// The task id of the dead letter (as `opsbox queue` lists it).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub task_id: Option<String>,
    /// Every dead letter (up to 500 per call; the answer says how many remain).
    #[arg(long)]
    pub all: bool,
    #[arg(long)]
    pub json: bool,
}

/// What `opsbox queue --json` prints.
#[derive(Debug, Serialize)]
struct QueueReport {
    overview: QueueOverview,
    dead: DeadLetters,
}

pub fn run(environment: &AnyEnvironment, args: &QueueArgs) -> anyhow::Result<()> {
    match &args.command {
        Some(QueueCommand::Requeue(requeue_args)) => requeue(environment, requeue_args),
        None => show(environment, args),
    }
}

fn show(environment: &AnyEnvironment, args: &QueueArgs) -> anyhow::Result<()> {
    let (overview, dead) = runtime()?.block_on(async {
        tokio::try_join!(
            environment.queue_overview(),
            environment.dead_letters(usize::from(args.dead))
        )
    })?;
    if args.json {
        let report = QueueReport { overview, dead };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&overview, &dead));
    }
    Ok(())
}

fn requeue(environment: &AnyEnvironment, args: &RequeueArgs) -> anyhow::Result<()> {
    let request = match &args.task_id {
        Some(task_id) if !args.all => RequeueRequest::one(task_id),
        _ => RequeueRequest::all(),
    };
    let operation = Operation::Requeue(request.clone());
    let target = operation.target();
    let result = runtime()?.block_on(async {
        let result = operation
            .perform(environment)
            .await
            .and_then(|performed| match performed {
                Performed::Requeued(report) => check_one(&request, report),
                _ => anyhow::bail!("the environment did not answer with a requeue report"),
            });
        operations::record(
            environment,
            &operation.audit_record().via(Via::Cli),
            &result,
        )
        .await;
        result
    });
    let report = result.with_context(|| format!("cannot requeue {target}"))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", requeue_summary(&report));
    }
    Ok(())
}

/// A requeue of one task that discarded its letter instead is a failure for the caller.
fn check_one(request: &RequeueRequest, report: RequeueReport) -> anyhow::Result<RequeueReport> {
    if request.job.is_some() && report.requeued.is_empty() {
        let reason = report
            .discarded
            .first()
            .map_or("the daemon requeued nothing", |d| d.reason.as_str());
        anyhow::bail!("not requeued: {reason}; its dead letter was removed, as it could never run");
    }
    Ok(report)
}

fn requeue_summary(report: &RequeueReport) -> String {
    let mut out = String::new();
    for task_id in &report.requeued {
        let _ = writeln!(out, "requeued {task_id}: a fresh run is queued");
    }
    for discarded in &report.discarded {
        let _ = writeln!(
            out,
            "removed  {}: {} (it could never run)",
            discarded.task_id, discarded.reason
        );
    }
    if report.requeued.is_empty() && report.discarded.is_empty() {
        out.push_str("the dead letter is empty: nothing to requeue\n");
    }
    let _ = writeln!(
        out,
        "{} requeued, {} removed, {} still dead-lettered",
        report.requeued.len(),
        report.discarded.len(),
        report.remaining
    );
    out
}

fn render(overview: &QueueOverview, dead: &DeadLetters) -> String {
    let depth = overview.depth;
    let oldest = overview
        .oldest_ready_age_secs
        .map_or_else(|| "none ready".to_owned(), |secs| format!("{secs:.1}s"));
    let mut out = format!(
        "ready {}  delayed {}  processing {}  dead {}  oldest ready {oldest}\n",
        depth.ready, depth.delayed, depth.processing, depth.dead
    );
    match &overview.processed {
        Some(processed) => {
            let outcomes: Vec<String> = processed
                .by_outcome
                .iter()
                .map(|(outcome, jobs)| format!("{outcome} {jobs}"))
                .collect();
            let _ = writeln!(
                out,
                "processed since the workers started ({} answered): {}",
                processed.workers,
                outcomes.join("  ")
            );
        }
        None => out.push_str("processed: no worker's metrics could be read\n"),
    }
    out.push('\n');
    if dead.letters.is_empty() {
        out.push_str("no dead letters\n");
        return out;
    }
    let _ = writeln!(
        out,
        "DEAD LETTERS: {} (newest {} shown)",
        dead.total,
        dead.letters.len()
    );
    let _ = writeln!(
        out,
        "{:<36}  {:<5}  {:>3}  {:<20}  ERROR",
        "TASK", "KIND", "ATT", "DEAD AT (UTC)"
    );
    for letter in &dead.letters {
        let at = letter.dead_at.map_or_else(
            || "?".to_owned(),
            |at| at.format("%Y-%m-%d %H:%M:%S").to_string(),
        );
        let error = letter.error.as_deref().unwrap_or("").replace('\n', " ");
        let _ = writeln!(
            out,
            "{:<36}  {:<5}  {:>3}  {:<20}  {error}",
            letter.task_id, letter.kind, letter.attempts, at
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{TimeZone, Utc};
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};
    use crate::model::{DeadLetter, DiscardedLetter, ProcessedTotals, QueueStatus};

    fn parse(args: &[&str]) -> Result<QueueArgs, clap::Error> {
        let cli = Cli::try_parse_from(args)?;
        match cli.command.expect("a subcommand") {
            Command::Queue(args) => Ok(args),
            other => panic!("not queue: {other:?}"),
        }
    }

    #[test]
    fn the_command_line_takes_one_task_or_all_never_both_or_neither() {
        let show = parse(&["opsbox", "queue", "--json"]).expect("queue --json");
        assert!(show.json && show.command.is_none());
        assert_eq!(show.dead, 20);
        let one = parse(&["opsbox", "queue", "requeue", "abc"]).expect("one");
        let Some(QueueCommand::Requeue(one)) = one.command else {
            panic!("not requeue")
        };
        assert_eq!((one.task_id.as_deref(), one.all), (Some("abc"), false));
        let all = parse(&["opsbox", "queue", "requeue", "--all"]).expect("all");
        let Some(QueueCommand::Requeue(all)) = all.command else {
            panic!("not requeue")
        };
        assert!(all.all && all.task_id.is_none());
        for bad in [
            &["opsbox", "queue", "requeue"][..],
            &["opsbox", "queue", "requeue", "abc", "--all"],
            &["opsbox", "queue", "--dead", "0"],
            &["opsbox", "queue", "--dead", "1001"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn a_single_requeue_that_only_removed_the_letter_fails() {
        let discarded = RequeueReport {
            requeued: Vec::new(),
            discarded: vec![DiscardedLetter {
                task_id: "abc".to_owned(),
                reason: "the task was deleted".to_owned(),
            }],
            remaining: 0,
        };
        let error = check_one(&RequeueRequest::one("abc"), discarded.clone()).expect_err("fails");
        assert!(
            error
                .to_string()
                .contains("not requeued: the task was deleted"),
            "{error}"
        );
        assert!(check_one(&RequeueRequest::all(), discarded).is_ok());
    }

    #[test]
    fn the_table_lists_depth_throughput_and_letters() {
        let overview = QueueOverview {
            depth: QueueStatus {
                ready: 2,
                delayed: 1,
                processing: 1,
                dead: 1,
            },
            oldest_ready_age_secs: Some(3.31),
            processed: Some(ProcessedTotals {
                by_outcome: BTreeMap::from([("dead".to_owned(), 1), ("done".to_owned(), 40)]),
                workers: 2,
            }),
        };
        let dead = DeadLetters {
            total: 1,
            letters: vec![DeadLetter {
                task_id: "0190f1a2-7b3c-7d4e-8f60-123456789abc".to_owned(),
                kind: "fail".to_owned(),
                attempts: 3,
                error: Some("fail: always\nfails".to_owned()),
                dead_at: Utc.with_ymd_and_hms(2026, 11, 21, 22, 27, 41).single(),
            }],
        };
        let text = render(&overview, &dead);
        assert_eq!(
            text,
            "ready 2  delayed 1  processing 1  dead 1  oldest ready 3.3s\n\
             processed since the workers started (2 answered): dead 1  done 40\n\
             \n\
             DEAD LETTERS: 1 (newest 1 shown)\n\
             TASK                                  KIND   ATT  DEAD AT (UTC)         ERROR\n\
             0190f1a2-7b3c-7d4e-8f60-123456789abc  fail     3  2026-11-21 22:27:41   fail: always fails\n"
        );
        let summary = requeue_summary(&RequeueReport {
            requeued: vec!["a".to_owned()],
            discarded: Vec::new(),
            remaining: 4,
        });
        assert_eq!(
            summary,
            "requeued a: a fresh run is queued\n1 requeued, 0 removed, 4 still dead-lettered\n"
        );
    }
}
