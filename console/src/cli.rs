//! The command line: one enum of subcommands, each handed to the module that does the work.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::env::local::daemon::{self, DaemonConfig, MAX_REPLICAS};
use crate::env::EnvArgs;
use crate::slo::{generate, SloSpec};

mod audit;
mod chaos;
mod console;
mod deploy;
mod drill;
mod gate;
mod image;
mod load;
mod local;
mod logs;
mod queue;
mod rollback;
mod rollout;
mod rollout_view;
mod slo;
mod smoke;
mod status;
mod status_table;

#[derive(Debug, Parser)]
#[command(name = "opsbox", version, about = "Operator console for OpsBox")]
pub struct Cli {
    /// Which environment, and where: `--env`, `--state-dir`, `--context`, ...
    #[command(flatten)]
    pub env: EnvArgs,
    /// Without a subcommand, `opsbox` opens the console.
    #[command(flatten)]
    pub console: console::ConsoleArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Service level objectives: status (exit code 3 while a page alert is active), or
    /// `slo rules` to regenerate what comes from the spec.
    Slo(slo::SloArgs),
    /// Start the local environment in the background and wait until it is ready.
    Up(UpArgs),
    /// Show instances, queue depth and traffic split of the running environment.
    Status(StatusArgs),
    /// Chaos primitives: kill an instance, take a dependency away, inject API faults.
    #[command(subcommand)]
    Chaos(chaos::ChaosCommand),
    /// Chaos drills: scripted experiments with a steady-state hypothesis and a verdict.
    #[command(subcommand)]
    Drill(drill::DrillCommand),
    /// Canary rollouts of the API: start, status, promote, abort, retry, undo.
    #[command(subcommand)]
    Rollout(rollout::RolloutCommand),
    /// List the audit log: every mutating operation, who, when, and its outcome; or
    /// `--metrics`, the delivery metrics computed from it.
    Audit(audit::AuditArgs),
    /// The pre-deployment gate: SLOs, CI, secrets scan and SBOM delta, then an
    /// approver's go/no-go, recorded in the audit log. Exit 0 go, 4 no-go, 2 usage.
    Gate(gate::GateArgs),
    /// Stop the local environment; no process of it survives.
    Down,
    /// Send bounded synthetic traffic to the task API and report what came back.
    Load(load::LoadArgs),
    /// The services' log lines, parsed and merged: recent ones, or `--follow`.
    Logs(logs::LogsArgs),
    /// The job queue: depth, throughput and dead letters; `queue requeue` gives dead
    /// tasks a fresh run.
    Queue(queue::QueueArgs),
    /// Build the container images (API, worker, console) with docker, podman or
    /// buildah, tagged `git-<sha>` and with the version.
    Build(image::ImageArgs),
    /// Push the images of the current commit (`git-<sha>` and the version tags).
    Push(image::ImageArgs),
    /// Go back to the previous stable revision of the API (or `--to`) in the current
    /// environment: `rollout undo`, asked for on stdin first unless `--yes`.
    Rollback(rollback::RollbackArgs),
    /// Release the chart into the kubernetes target with an environment's values (`helm
    /// upgrade --install --wait`) and follow the rollout until it pauses, completes or
    /// aborts. Exit 0 completed, 5 paused, 6 aborted, 7 still progressing at --timeout,
    /// 8 helm failed.
    Deploy(deploy::DeployArgs),
    /// The post-deploy smoke check: health, readiness, then a task created, run and
    /// awaited to DONE, each step timed. Exit 0 passed, 1 failed, 4 unreachable.
    Smoke(smoke::SmokeArgs),
    /// Run the local environment's daemon (started by `up`).
    #[command(name = "__daemon", hide = true)]
    Daemon(DaemonArgs),
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// API instances of the stable revision.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=i64::from(MAX_REPLICAS)))]
    pub api_replicas: u16,
    /// Worker instances.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(0..=i64::from(MAX_REPLICAS)))]
    pub workers: u16,
    /// The router's port on 127.0.0.1.
    #[arg(long, default_value_t = 8080, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
    /// Refresh every second until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    #[command(flatten)]
    pub up: UpArgs,
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
    let env = &cli.env;
    let Some(command) = cli.command else {
        return console::run(env, &cli.console);
    };
    match command {
        Command::Slo(slo::SloArgs {
            command: Some(SloCommand::Rules(args)),
            ..
        }) => slo_rules(&args),
        Command::Slo(args) => slo::status(&env.connect()?, &args.status),
        Command::Up(args) => local::up(&env.local_state_dir()?, &args),
        Command::Status(args) => status::run(&env.connect()?, &args),
        Command::Rollout(command) => rollout::run(&env.connect()?, &command),
        Command::Audit(args) => audit::run(&env.open(false)?, &args),
        Command::Gate(args) => gate::run(env, &args),
        Command::Down => local::down(&env.local_state_dir()?),
        Command::Chaos(command) => chaos::run(env, &command),
        Command::Drill(command) => drill::run(env, &command),
        Command::Load(args) => load::load(env, &args),
        Command::Queue(args) => queue::run(&env.connect()?, &args),
        Command::Logs(args) => logs::run(&env.connect()?, &args),
        Command::Build(args) => image::run(image::Verb::Build, &args),
        Command::Push(args) => image::run(image::Verb::Push, &args),
        Command::Rollback(args) => rollback::run(&env.connect()?, &args),
        Command::Deploy(args) => deploy::run(env, &args),
        Command::Smoke(args) => smoke::run(env, &args),
        Command::Daemon(args) => daemon::run(DaemonConfig {
            state_dir: env.local_state_dir()?,
            api_replicas: args.up.api_replicas,
            workers: args.up.workers,
            port: args.up.port,
        }),
    }
}

impl Cli {
    /// The command line, refused with a usage error (exit 2) when it mixes the console's
    /// own flags with a subcommand. The environment's flags go anywhere: `opsbox --env
    /// kubernetes rollout status` and `opsbox rollout status --env kubernetes` are one.
    /// `deploy --env dev` names the release's environment (see [`deploy::env_flag_as_stage`]).
    pub fn try_parse_checked<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let cli = Self::try_parse_from(deploy::env_flag_as_stage(args))?;
        if cli.console.read_only && cli.command.is_some() {
            return Err(clap::Error::raw(
                clap::error::ErrorKind::ArgumentConflict,
                "--read-only is the console's (opsbox with no subcommand); a subcommand changes only what it says\n",
            ));
        }
        Ok(cli)
    }
}

/// A current-thread runtime for one verb.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A failure with an exit code of its own; every other error exits 1.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ExitWith {
    pub code: u8,
    pub message: String,
}

/// The exit code for a command that failed with `error`.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    error.downcast_ref::<ExitWith>().map_or(1, |exit| exit.code)
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
        let Command::Slo(slo::SloArgs {
            command: Some(SloCommand::Rules(args)),
            ..
        }) = cli.command.expect("a subcommand")
        else {
            panic!("not slo rules");
        };
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
        let Command::Slo(slo::SloArgs {
            command: Some(SloCommand::Rules(args)),
            ..
        }) = cli.command.expect("a subcommand")
        else {
            panic!("not slo rules");
        };
        assert_eq!(args.spec, PathBuf::from("s.yaml"));
        assert_eq!(args.out_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn slo_without_a_subcommand_is_the_status_with_its_options() {
        use crate::model::slo::{SloScope, SourceChoice};
        let cli = Cli::try_parse_from(["opsbox", "slo"]).expect("parses");
        let Command::Slo(args) = cli.command.expect("a subcommand") else {
            panic!("not slo");
        };
        assert!(args.command.is_none());
        assert!(!args.status.json);
        assert_eq!(args.status.source, SourceChoice::Auto);
        assert_eq!(args.status.scope, SloScope::All);
        let cli = Cli::try_parse_from([
            "opsbox",
            "slo",
            "--json",
            "--source",
            "prometheus",
            "--scope",
            "canary",
        ])
        .expect("parses");
        let Command::Slo(args) = cli.command.expect("a subcommand") else {
            panic!("not slo");
        };
        assert!(args.status.json);
        assert_eq!(args.status.source, SourceChoice::Prometheus);
        assert_eq!(args.status.scope, SloScope::Canary);
        for bad in [
            &["opsbox", "slo", "--source", "grafana"][..],
            &["opsbox", "slo", "--scope", "blue"],
            &["opsbox", "slo", "--json", "rules"],
        ] {
            assert!(
                Cli::try_parse_from(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn no_subcommand_opens_the_console_and_its_flags_stay_its_own() {
        let cli = Cli::try_parse_from(["opsbox"]).expect("parses");
        assert!(cli.command.is_none());
        assert_eq!(
            (cli.env.kind, cli.console.read_only),
            (crate::env::EnvKind::Local, false)
        );
        let cli = Cli::try_parse_from([
            "opsbox",
            "--read-only",
            "--env",
            "local",
            "--state-dir",
            "/tmp/s",
        ])
        .expect("parses");
        assert!(cli.console.read_only && cli.command.is_none());
        assert_eq!(cli.env.state_dir, Some(PathBuf::from("/tmp/s")));
        let cli =
            Cli::try_parse_from(["opsbox", "status", "--state-dir", "/tmp/s"]).expect("parses");
        assert!(matches!(cli.command, Some(Command::Status(_))));
        // The environment's flags go before or after the subcommand alike.
        let cli = Cli::try_parse_checked([
            "opsbox",
            "--env",
            "kubernetes",
            "--context",
            "kind",
            "rollout",
            "status",
            "--namespace",
            "opsbox",
        ])
        .expect("parses");
        assert_eq!(cli.env.kind, crate::env::EnvKind::Kubernetes);
        assert_eq!(cli.env.context.as_deref(), Some("kind"));
        assert_eq!(cli.env.namespace.as_deref(), Some("opsbox"));
        let error =
            Cli::try_parse_checked(["opsbox", "--read-only", "status"]).expect_err("refused");
        assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict);
        for bad in [&["opsbox", "--env", "cloud"][..], &["opsbox", "--bogus"]] {
            assert!(
                Cli::try_parse_from(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn up_has_defaults_and_rejects_out_of_range_counts() {
        let cli = Cli::try_parse_from(["opsbox", "up"]).expect("parses");
        let Command::Up(args) = cli.command.expect("a subcommand") else {
            panic!("not up");
        };
        assert_eq!((args.api_replicas, args.workers, args.port), (2, 1, 8080));
        for bad in [
            &["opsbox", "up", "--api-replicas", "0"][..],
            &["opsbox", "up", "--api-replicas", "1000"],
            &["opsbox", "up", "--workers", "-1"],
            &["opsbox", "up", "--port", "0"],
            &["opsbox", "up", "--port", "99999"],
            &["opsbox", "status", "--bogus"],
        ] {
            assert!(
                Cli::try_parse_from(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }
}
