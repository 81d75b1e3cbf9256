//! `opsbox deploy --env dev|staging|prod`: `helm upgrade --install --wait` of the chart
//! with that environment's values into the kubernetes target, then the rollout followed
//! live until it pauses, completes or aborts. The exit code says which, and the whole
//! deploy is one audit record (and an Event on the Rollout).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory};
use serde_json::json;

use super::{rollout, runtime, Cli, ExitWith};
use crate::audit::Outcome;
use crate::deploy::follow::{self, Followed, Settled};
use crate::deploy::helm::{self, HelmFailed, HelmRelease};
use crate::deploy::Stage;
use crate::env::kubernetes::KubernetesEnvironment;
use crate::env::{AnyEnvironment, EnvArgs, EnvKind};
use crate::operations::{record_outcome, AuditRecord};

/// Exit code when the rollout stopped on a pause step: promote it, or roll back.
pub const PAUSED_EXIT_CODE: u8 = 5;
/// Exit code when the rollout was aborted (Degraded): traffic is back on stable.
pub const DEGRADED_EXIT_CODE: u8 = 6;
/// Exit code when the rollout was still progressing at `--timeout`.
pub const TIMED_OUT_EXIT_CODE: u8 = 7;
/// Exit code when helm failed: the release is not (fully) upgraded; helm says why.
pub const HELM_FAILED_EXIT_CODE: u8 = 8;

/// The longest bound accepted for each phase (helm's wait, then the rollout).
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The environment whose values the release gets: CHART/values-<env>.yaml. Written
    /// `--env` after `deploy` (there it is not the console's local|kubernetes: a deploy
    /// always goes to the kubernetes target of --kubeconfig/--context/--namespace).
    #[arg(long = "stage", value_name = "ENV", value_enum)]
    pub stage: Stage,
    /// A chart value for this release, passed to helm: `--set image.tag=git-1a2b3c4`.
    /// Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = rollout::parse_override)]
    pub sets: Vec<(String, String)>,
    /// How long helm may wait for the release's objects, and then how long the rollout
    /// may take to pause, complete or abort (each), e.g. 90s, 5m.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// The chart directory.
    #[arg(long, default_value = "charts/opsbox")]
    pub chart: PathBuf,
    /// The Helm release name.
    #[arg(long, default_value = "opsbox")]
    pub release: String,
    /// The helm binary [default: helm on PATH, then target/tools/bin/helm,
    /// target/cluster/bin/helm].
    #[arg(long, env = "OPSBOX_HELM")]
    pub helm: Option<PathBuf>,
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let timeout = opsbox_common::duration::parse(text)?;
    if timeout < Duration::from_secs(1) || timeout > MAX_TIMEOUT {
        return Err("the timeout is at least 1s and at most 1h".to_owned());
    }
    Ok(timeout)
}

pub fn run(env: &EnvArgs, args: &DeployArgs) -> anyhow::Result<()> {
    let target = EnvArgs {
        kind: EnvKind::Kubernetes,
        ..env.clone()
    };
    let AnyEnvironment::Kubernetes(cluster) = target.open(false)? else {
        anyhow::bail!("a deploy goes to a kubernetes target");
    };
    let release = helm_release(env, args, &cluster)?;
    let environment = AnyEnvironment::Kubernetes(cluster);
    println!(
        "deploy: {} ({}) into {}/{}: helm upgrade --install --wait (up to {})",
        release.release,
        args.stage.as_str(),
        release.context,
        release.namespace,
        crate::durations::spoken(args.timeout)
    );
    let runtime = runtime()?;
    let began = std::time::Instant::now();
    let mut settled = None;
    let result = match release.upgrade() {
        Ok(helm_output) => {
            print!("{helm_output}");
            println!(
                "deploy: following the rollout (up to {})",
                crate::durations::spoken(args.timeout)
            );
            let followed = runtime.block_on(follow::follow(&environment, args.timeout, |line| {
                println!("  {} {line}", chrono::Utc::now().format("%H:%M:%S"));
            }));
            settled = Some(followed.settled);
            judge(&followed)
        }
        Err(error) => Err(helm_exit(error)),
    };
    let audit = AuditRecord {
        action: "release.deploy",
        target: release.release.clone(),
        parameters: json!({
            "env": args.stage.as_str(),
            "set": release.sets,
            "chart": release.chart,
            "namespace": release.namespace,
            // What the delivery metrics count: how the rollout settled, and after how
            // long (the entry's time is the end of the deploy).
            "settled": settled.map(Settled::as_str),
            "took_secs": began.elapsed().as_secs(),
        }),
    };
    let outcome = match &result {
        // A canary waiting at its pause is a deploy that did what it should.
        Ok(()) => Outcome::Ok,
        Err(error) if super::exit_code(error) == PAUSED_EXIT_CODE => Outcome::Ok,
        Err(error) => Outcome::Error(format!("{error:#}")),
    };
    runtime.block_on(record_outcome(&environment, &audit, outcome));
    result
}

fn helm_release(
    env: &EnvArgs,
    args: &DeployArgs,
    cluster: &KubernetesEnvironment,
) -> anyhow::Result<HelmRelease> {
    let values = args.chart.join(args.stage.values_file());
    anyhow::ensure!(
        values.is_file(),
        "no {} in the chart {}: run from the repository root or pass --chart",
        args.stage.values_file(),
        args.chart.display()
    );
    let (context, namespace) = cluster
        .context_and_namespace()
        .ok_or_else(|| anyhow::anyhow!("no kubeconfig context to deploy to"))?;
    Ok(HelmRelease {
        helm: helm::find(args.helm.as_deref())?,
        release: args.release.clone(),
        chart: args.chart.clone(),
        values,
        sets: args
            .sets
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect(),
        timeout: args.timeout,
        kubeconfig: env.kubeconfig.clone(),
        context: context.to_owned(),
        namespace: namespace.to_owned(),
    })
}

fn helm_exit(error: anyhow::Error) -> anyhow::Error {
    match error.downcast::<HelmFailed>() {
        Ok(failed) => ExitWith {
            code: HELM_FAILED_EXIT_CODE,
            message: failed.to_string(),
        }
        .into(),
        Err(other) => other,
    }
}

/// The exit the rollout's settling maps to, with the sentence the operator needs.
fn judge(followed: &Followed) -> anyhow::Result<()> {
    let shown = followed
        .last
        .as_ref()
        .map_or_else(|| "no reading".to_owned(), follow::progress_line);
    let (code, message) = match followed.settled {
        Settled::Completed => {
            println!("deploy: completed: {shown}");
            return Ok(());
        }
        Settled::Paused => (
            PAUSED_EXIT_CODE,
            format!(
                "the rollout is paused: {shown}; check `opsbox slo --scope canary`, then \
                 `opsbox rollout promote` or `opsbox rollback`"
            ),
        ),
        Settled::Degraded => (
            DEGRADED_EXIT_CODE,
            format!("the rollout was aborted, traffic is on stable: {shown}"),
        ),
        Settled::TimedOut => (
            TIMED_OUT_EXIT_CODE,
            format!(
                "the rollout did not settle within the timeout: {}",
                followed.last_error.as_deref().unwrap_or(&shown)
            ),
        ),
    };
    Err(ExitWith { code, message }.into())
}

/// `deploy` takes `--env dev|staging|prod` as release pipelines write it, while the
/// global `--env` chooses local or kubernetes; clap cannot hold both under one name, so
/// an `--env` after the `deploy` subcommand is handed to it as `--stage`.
pub fn env_flag_as_stage<T: Into<OsString> + Clone>(
    args: impl IntoIterator<Item = T>,
) -> Vec<OsString> {
    let command = Cli::command();
    let valued: Vec<String> = command
        .get_arguments()
        .filter(|arg| arg.get_action().takes_values())
        .filter_map(|arg| arg.get_long().map(|long| format!("--{long}")))
        .collect();
    let mut args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // The subcommand is the first word that is neither a flag nor a flag's value.
    let mut index = 1;
    while index < args.len() {
        let word = args[index].to_string_lossy();
        if !word.starts_with('-') {
            break;
        }
        index += if valued.iter().any(|flag| *flag == word) {
            2
        } else {
            1
        };
    }
    if args.get(index).is_some_and(|word| word == "deploy") {
        for arg in &mut args[index + 1..] {
            let word = arg.to_string_lossy();
            if word == "--" {
                break;
            }
            if word == "--env" {
                *arg = "--stage".into();
            } else if let Some(value) = word.strip_prefix("--env=") {
                *arg = format!("--stage={value}").into();
            }
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(args: &[&str]) -> Vec<String> {
        env_flag_as_stage(args.iter().copied())
            .into_iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn env_after_deploy_is_the_stage_and_elsewhere_the_environment() {
        assert_eq!(
            rewritten(&["opsbox", "deploy", "--env", "dev", "--set", "a=b"]),
            ["opsbox", "deploy", "--stage", "dev", "--set", "a=b"]
        );
        assert_eq!(
            rewritten(&["opsbox", "--namespace", "deploy", "deploy", "--env=prod"]),
            ["opsbox", "--namespace", "deploy", "deploy", "--stage=prod"]
        );
        assert_eq!(
            rewritten(&["opsbox", "--env", "kubernetes", "status"]),
            ["opsbox", "--env", "kubernetes", "status"]
        );
        assert_eq!(
            rewritten(&["opsbox", "--env", "local", "rollout", "status", "--env", "local"]),
            ["opsbox", "--env", "local", "rollout", "status", "--env", "local"]
        );
    }

    #[test]
    fn the_command_line_names_the_stage_and_checks_its_values() {
        let cli = Cli::try_parse_checked([
            "opsbox",
            "--namespace",
            "opsbox-dev",
            "deploy",
            "--env",
            "staging",
            "--set",
            "image.tag=git-1a2b3c4",
            "--timeout",
            "90s",
        ])
        .expect("parses");
        let Some(super::super::Command::Deploy(args)) = cli.command else {
            panic!("not deploy");
        };
        assert_eq!(args.stage, Stage::Staging);
        assert_eq!(
            args.sets,
            [("image.tag".to_owned(), "git-1a2b3c4".to_owned())]
        );
        assert_eq!(args.timeout, Duration::from_secs(90));
        assert_eq!(cli.env.namespace.as_deref(), Some("opsbox-dev"));
        for bad in [
            &["opsbox", "deploy"][..],
            &["opsbox", "deploy", "--env", "qa"],
            &["opsbox", "deploy", "--env", "dev", "--set", "novalue"],
            &["opsbox", "deploy", "--env", "dev", "--timeout", "0s"],
        ] {
            assert!(
                Cli::try_parse_checked(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn each_settling_has_its_exit_code() {
        for (settled, code) in [
            (Settled::Paused, PAUSED_EXIT_CODE),
            (Settled::Degraded, DEGRADED_EXIT_CODE),
            (Settled::TimedOut, TIMED_OUT_EXIT_CODE),
        ] {
            let followed = Followed {
                settled,
                last: None,
                last_error: None,
            };
            let error = judge(&followed).expect_err("not completed");
            assert_eq!(super::super::exit_code(&error), code, "{settled:?}");
        }
        let completed = Followed {
            settled: Settled::Completed,
            last: None,
            last_error: None,
        };
        assert!(judge(&completed).is_ok());
    }
}
