//! `opsbox drill list|run NAME`: scripted chaos experiments with a verdict.
//!
//! A run prints its report (a table, or JSON with `--json`), keeps it in the state dir,
//! records an audit entry, and exits non-zero when the drill failed. Ctrl-C ends the
//! run early with a failed report; the chaos it began ends by itself in the daemon.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::audit::Outcome;
use crate::drill::{last_report, runner, DrillCatalog, DrillReport, DrillSource};
use crate::env::{AnyEnvironment, EnvArgs, Environment};
use crate::operations::{self, AuditRecord, Via};

#[derive(Debug, Subcommand)]
pub enum DrillCommand {
    /// The drills there are, with the result of each one's last run.
    List(ListArgs),
    /// Run one drill against the running local environment.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct DrillsDir {
    /// Where the drill files are [default: ./observability/drills when it exists,
    /// else the drills built into opsbox].
    #[arg(long, env = "OPSBOX_DRILLS_DIR")]
    pub drills_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub dir: DrillsDir,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The drill, e.g. `redis-outage` (see `opsbox drill list`).
    pub name: String,
    #[command(flatten)]
    pub dir: DrillsDir,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(env: &EnvArgs, command: &DrillCommand) -> anyhow::Result<()> {
    // Opened, not connected: the catalogue and the reports need no running environment,
    // and a drill that cannot start is audited like one that failed.
    let environment = env.open(false)?;
    match command {
        DrillCommand::List(args) => list(&environment, args),
        DrillCommand::Run(args) => run_drill(&environment, args),
    }
}

fn list(environment: &AnyEnvironment, args: &ListArgs) -> anyhow::Result<()> {
    let catalog = DrillCatalog::load(args.dir.drills_dir.as_deref())?;
    let mut rows = Vec::new();
    for drill in &catalog.drills {
        let last = last_report(environment.records().drill_reports(), &drill.name)?;
        rows.push(serde_json::json!({
            "name": drill.name,
            "description": drill.description,
            "runbook": drill.runbook,
            "last_run": last.as_ref().map(|report| serde_json::json!({
                "started_at": report.started_at,
                "passed": report.passed,
            })),
        }));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!("drills from {}\n", catalog.source);
    let width = catalog
        .drills
        .iter()
        .map(|drill| drill.name.len())
        .max()
        .unwrap_or(0);
    for drill in &catalog.drills {
        let last = last_report(environment.records().drill_reports(), &drill.name)?.map_or_else(
            || "never run".to_owned(),
            |report| {
                format!(
                    "last run {}: {}",
                    report
                        .started_at
                        .with_timezone(&chrono::Local)
                        .format("%Y-%m-%d %H:%M"),
                    if report.passed { "passed" } else { "FAILED" }
                )
            },
        );
        println!("{:<width$}  {}", drill.name, drill.description);
        println!("{:<width$}  ({last})", "");
    }
    Ok(())
}

fn run_drill(environment: &AnyEnvironment, args: &RunArgs) -> anyhow::Result<()> {
    let result = run_and_save(environment, args);
    let outcome = match &result {
        Ok(report) if report.passed => Outcome::Ok,
        Ok(report) => Outcome::Error(format!("failed: {}", report.failures.join("; "))),
        Err(error) => Outcome::Error(format!("{error:#}")),
    };
    let parameters = serde_json::json!({
        "drills_dir": args.dir.drills_dir,
        "passed": result.as_ref().ok().map(|report| report.passed),
    });
    super::runtime()?.block_on(operations::record_outcome(
        environment,
        &AuditRecord::drill(&args.name, parameters).via(Via::Cli),
        outcome,
    ));
    let report = result?;
    anyhow::ensure!(
        report.passed,
        "drill {} failed: {} (runbook: {})",
        report.drill,
        report.failures.join("; "),
        report.runbook
    );
    Ok(())
}

fn run_and_save(environment: &AnyEnvironment, args: &RunArgs) -> anyhow::Result<DrillReport> {
    let catalog = DrillCatalog::load(args.dir.drills_dir.as_deref())?;
    let drill = catalog.get(&args.name)?.clone();
    let source = match &catalog.source {
        DrillSource::Directory(dir) => dir.display().to_string(),
        DrillSource::BuiltIn => "built-in".to_owned(),
    };
    // Two threads: the load, the prober and the monitor run side by side, and a busy
    // load must not delay the prober's timing.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    if !args.json {
        eprintln!("running drill {}: {}", drill.name, drill.description);
    }
    let report = runtime.block_on(async {
        let interrupt = CancellationToken::new();
        let watcher = interrupt.clone();
        let ctrl_c = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted: stopping the load and writing the report (the chaos ends by itself)");
                watcher.cancel();
            }
        });
        let report = runner::run(&drill, &source, environment, interrupt).await;
        ctrl_c.abort();
        report
    })?;
    let saved = report.save(environment.records().drill_reports());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render());
    }
    match saved {
        Ok(path) if !args.json => println!("report    {}", path.display()),
        Ok(_) => {}
        Err(error) => eprintln!("warning: the report was not kept: {error:#}"),
    }
    Ok(report)
}
