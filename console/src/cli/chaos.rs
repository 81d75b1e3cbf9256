//! `opsbox chaos kill|outage|fault|list`: the chaos primitives from the command line.
//!
//! Each verb asks the daemon and returns; whatever lasts (an outage, a fault) is ended
//! by the daemon or the API instances themselves, so Ctrl-C here never leaves it behind.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Local, Utc};
use clap::{Args, Subcommand};
use serde::Serialize;

use opsbox_common::config::Track;

use super::runtime;
use crate::chaos::{
    check_duration, humanize, ChaosStatus, Dependency, FaultReport, FaultRequest, KillRequest,
    Killed, Outage, OutageMode, OutageRequest,
};
use crate::env::{AnyEnvironment, EnvArgs, Environment};
use crate::operations::{Operation, Performed, Via};

/// How often `outage --wait` looks whether the dependency is back.
const WAIT_POLL: Duration = Duration::from_millis(250);

/// How long past its planned end `outage --wait` waits for the restore to be reported.
const RESTORE_SLACK: Duration = Duration::from_secs(60);

#[derive(Debug, Subcommand)]
pub enum ChaosCommand {
    /// SIGKILL one instance, named or random within a workload and/or track; the
    /// supervisor restarts it after its backoff.
    Kill(KillArgs),
    /// Make PostgreSQL or Redis unavailable for a while; the daemon restores it by itself.
    Outage(OutageArgs),
    /// Inject an error rate and/or latency into the API instances for a while; the
    /// instances end it by themselves.
    Fault(FaultArgs),
    /// Outages and faults in force, and what chaos happened lately.
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// The instance, e.g. `api-2`; without it a random one is chosen.
    pub name: Option<String>,
    /// Choose among instances of this workload (`api` or `worker`).
    #[arg(long)]
    pub workload: Option<String>,
    /// Choose among instances of this track.
    #[arg(long, value_enum)]
    pub track: Option<Track>,
    /// Print the daemon's answer as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct OutageArgs {
    #[arg(value_enum)]
    pub dependency: Dependency,
    /// How long, e.g. `20s` (at most 10m).
    #[arg(long = "for", value_parser = chaos_duration)]
    pub duration: Duration,
    /// `stop` refuses connections (Redis comes back empty); `freeze` makes them hang.
    #[arg(long, value_enum, default_value_t = OutageMode::Stop)]
    pub mode: OutageMode,
    /// Return only once the dependency is back.
    #[arg(long)]
    pub wait: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FaultArgs {
    /// Fraction of task requests answered 500, e.g. `0.3`.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Added to every task request, e.g. `200ms`.
    #[arg(long, value_parser = opsbox_common::duration::parse, default_value = "0")]
    pub latency: Duration,
    /// How long, e.g. `60s` (at most 10m).
    #[arg(long = "for", value_parser = chaos_duration)]
    pub duration: Duration,
    /// Only the instances of this track.
    #[arg(long, value_enum)]
    pub track: Option<Track>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long)]
    pub json: bool,
}

/// A duration as people write it, within the chaos limits.
fn chaos_duration(text: &str) -> Result<Duration, String> {
    let duration = opsbox_common::duration::parse(text)?;
    check_duration(duration)?;
    Ok(duration)
}

pub fn run(env: &EnvArgs, command: &ChaosCommand) -> anyhow::Result<()> {
    // Opened, not connected: a request is checked before the environment is asked, and
    // a refusal because nothing runs is audited like any other outcome.
    let environment = env.open(false)?;
    match command {
        ChaosCommand::Kill(args) => kill(&environment, args),
        ChaosCommand::Outage(args) => outage(&environment, args),
        ChaosCommand::Fault(args) => fault(&environment, args),
        ChaosCommand::List(args) => list(&environment, args),
    }
}

/// Performs and audits one chaos operation.
fn perform(environment: &AnyEnvironment, operation: &Operation) -> anyhow::Result<Performed> {
    runtime()?.block_on(operation.perform_and_record(environment, Via::Cli))
}

fn kill(environment: &AnyEnvironment, args: &KillArgs) -> anyhow::Result<()> {
    let operation = Operation::Kill(KillRequest {
        instance: args.name.clone(),
        workload: args.workload.clone(),
        track: args.track,
    });
    let Performed::Killed(killed) = perform(environment, &operation)? else {
        anyhow::bail!("the environment did not answer with the instance it killed");
    };
    print(args.json, &killed, || killed_line(&killed))
}

fn killed_line(killed: &Killed) -> String {
    let pid = killed
        .pid
        .map_or_else(String::new, |pid| format!(", pid {pid}"));
    format!(
        "killed {} ({} on {}{pid}) with SIGKILL; the supervisor restarts it after its backoff \
         (watch `opsbox status`)\n",
        killed.instance, killed.workload, killed.track
    )
}

fn outage(environment: &AnyEnvironment, args: &OutageArgs) -> anyhow::Result<()> {
    let operation = Operation::Outage(OutageRequest {
        dependency: args.dependency,
        mode: args.mode,
        duration_ms: millis(args.duration),
    });
    let Performed::Outage(outage) = perform(environment, &operation)? else {
        anyhow::bail!("the environment did not answer with the outage");
    };
    if !args.json {
        print!("{}", outage_line(&outage));
    }
    if !args.wait {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&outage)?);
        }
        return Ok(());
    }
    if !args.json {
        println!(
            "waiting for it to come back (Ctrl-C stops waiting; the daemon restores it anyway)"
        );
    }
    let ended = runtime()?.block_on(wait_for_restore(environment, &outage))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&ended)?);
    } else {
        println!(
            "{} is back at {}: {}",
            outage.dependency,
            local_time(ended.at),
            ended.message
        );
    }
    anyhow::ensure!(
        ended.kind == "outage-end",
        "{} was not restored: {}",
        outage.dependency,
        ended.message
    );
    Ok(())
}

fn outage_line(outage: &Outage) -> String {
    let length = (outage.ends_at - outage.started_at)
        .to_std()
        .map(humanize)
        .unwrap_or_default();
    let how = match outage.mode {
        OutageMode::Stop => "stopped",
        OutageMode::Freeze => "frozen",
    };
    format!(
        "{} is {how} for {length}, until {}; the daemon restores it by itself\n",
        outage.dependency,
        local_time(outage.ends_at)
    )
}

/// Polls the daemon until it reports the outage over (or its restore failed).
async fn wait_for_restore(
    environment: &AnyEnvironment,
    outage: &Outage,
) -> anyhow::Result<crate::chaos::ChaosEvent> {
    let planned = (outage.ends_at - Utc::now()).to_std().unwrap_or_default();
    let deadline = tokio::time::Instant::now() + planned + RESTORE_SLACK;
    loop {
        let status: ChaosStatus = environment
            .chaos_status()
            .await
            .context("lost the daemon while waiting for the outage to end")?;
        if let Some(ended) = status.outage_ended(outage.dependency, outage.started_at) {
            return Ok(ended.clone());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{} should have been restored at {}; see `opsbox chaos list` and the daemon log",
            outage.dependency,
            local_time(outage.ends_at)
        );
        tokio::time::sleep(WAIT_POLL).await;
    }
}

fn fault(environment: &AnyEnvironment, args: &FaultArgs) -> anyhow::Result<()> {
    let operation = Operation::Fault(FaultRequest {
        error_rate: args.error_rate,
        latency_ms: millis(args.latency),
        duration_ms: millis(args.duration),
        track: args.track,
    });
    let Performed::Fault(report) = perform(environment, &operation)? else {
        anyhow::bail!("the environment did not answer with the fault report");
    };
    print(args.json, &report, || fault_lines(&report))
}

fn fault_lines(report: &FaultReport) -> String {
    let fault = &report.fault;
    let mut out = format!(
        "injected error rate {:.0}% and latency {}ms on {} until {}; the instances end it by themselves\n",
        fault.error_rate * 100.0,
        fault.latency_ms,
        fault.instances.join(", "),
        local_time(fault.ends_at)
    );
    for refusal in &report.refused {
        out.push_str(&format!(
            "warning: {} did not take the fault: {}\n",
            refusal.instance, refusal.message
        ));
    }
    out
}

fn list(environment: &AnyEnvironment, args: &ListArgs) -> anyhow::Result<()> {
    let status = runtime()?.block_on(environment.chaos_status())?;
    print(args.json, &status, || render_status(&status))
}

fn render_status(status: &ChaosStatus) -> String {
    let mut out = String::new();
    if status.outages.is_empty() && status.faults.is_empty() {
        out.push_str("no outage or fault in force\n");
    }
    for outage in &status.outages {
        out.push_str(&format!(
            "outage  {:<9} {:<7} until {}\n",
            outage.dependency,
            outage.mode,
            local_time(outage.ends_at)
        ));
    }
    for fault in &status.faults {
        out.push_str(&format!(
            "fault   {:<9} error rate {:.0}%, latency {}ms on {} until {}\n",
            fault.track.map_or("all", Track::as_str),
            fault.error_rate * 100.0,
            fault.latency_ms,
            fault.instances.join(", "),
            local_time(fault.ends_at)
        ));
    }
    if !status.history.is_empty() {
        out.push_str("\nrecent:\n");
        for event in &status.history {
            out.push_str(&format!(
                "  {}  {:<22} {:<12} {}\n",
                local_time(event.at),
                event.kind,
                event.target,
                event.message
            ));
        }
    }
    out
}

fn print<T: Serialize>(
    json: bool,
    value: &T,
    human: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        print!("{}", human());
    }
    Ok(())
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn local_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&Local).format("%H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chaos_durations_are_parsed_and_bounded() {
        assert_eq!(chaos_duration("20s"), Ok(Duration::from_secs(20)));
        assert!(chaos_duration("0").is_err());
        assert!(chaos_duration("0s").is_err());
        assert!(chaos_duration("11m").is_err());
        assert!(chaos_duration("soon").is_err());
    }
}
