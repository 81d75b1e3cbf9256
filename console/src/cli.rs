//! The command line: one enum of subcommands, each handed to the module that does the work.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::slo::{generate, SloSpec};

#[derive(Debug, Parser)]
#[command(name = "opsbox", version, about = "Operator console for OpsBox")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Service level objectives: the spec and what is generated from it.
    #[command(subcommand)]
    Slo(SloCommand),
}

#[derive(Debug, Subcommand)]
pub enum SloCommand {
    /// Regenerate the Prometheus rules, their promtool tests and the Argo
    /// Rollouts AnalysisTemplate from the SLO spec.
    Rules(RulesArgs),
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// The SLO spec.
    #[arg(long, default_value = "observability/slo.yaml")]
    pub spec: PathBuf,
    /// Repository root the generated paths are relative to.
    #[arg(long, default_value = ".")]
    pub out_dir: PathBuf,
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Slo(SloCommand::Rules(args)) => slo_rules(&args),
    }
}

fn slo_rules(args: &RulesArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.spec).with_context(|| {
        format!(
            "cannot read the SLO spec {} (run from the repository root or pass --spec)",
            args.spec.display()
        )
    })?;
    let spec = SloSpec::from_yaml(&text)
        .with_context(|| format!("invalid SLO spec {}", args.spec.display()))?;
    let report = generate::write(&args.out_dir, &generate::generated_files(&spec)?)?;
    for path in &report.written {
        println!("wrote   {}", path.display());
    }
    for path in &report.removed {
        println!("removed {}", path.display());
    }
    println!(
        "{} written, {} unchanged, {} removed, from {} SLOs; \
         check them with scripts/check-rules.sh",
        report.written.len(),
        report.unchanged.len(),
        report.removed.len(),
        spec.slos.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn slo_rules_defaults_to_the_repository_layout() {
        let cli = Cli::try_parse_from(["opsbox", "slo", "rules"]).expect("parses");
        let Command::Slo(SloCommand::Rules(args)) = cli.command;
        assert_eq!(args.spec, PathBuf::from("observability/slo.yaml"));
        assert_eq!(args.out_dir, PathBuf::from("."));
        let cli = Cli::try_parse_from([
            "opsbox",
            "slo",
            "rules",
            "--spec",
            "s.yaml",
            "--out-dir",
            "/tmp/x",
        ])
        .expect("parses");
        let Command::Slo(SloCommand::Rules(args)) = cli.command;
        assert_eq!(args.spec, PathBuf::from("s.yaml"));
        assert_eq!(args.out_dir, PathBuf::from("/tmp/x"));
    }
}
