//! The one place an environment is chosen and opened, from the global flags: `--env`
//! (or `OPSBOX_ENV`), `--state-dir` for `local`, `--context`, `--namespace` and
//! `--kubeconfig` for `kubernetes`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::kubernetes::{
    ApiUrl, KubernetesEnvironment, KubernetesOptions, PrometheusAccess, TargetArgs,
};
use super::local::{LocalEnvironment, StateDir};
use super::AnyEnvironment;
use super::Records;
use crate::sources::prometheus::ServiceRef;

/// Which environment to operate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum EnvKind {
    /// The whole stack as processes on this machine (`opsbox up`).
    #[default]
    Local,
    /// A cluster, through the kubeconfig's context and namespace.
    Kubernetes,
}

impl EnvKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvKind::Local => "local",
            EnvKind::Kubernetes => "kubernetes",
        }
    }
}

/// The global flags that say where the console and every verb act.
#[derive(Debug, Clone, Default, Args)]
pub struct EnvArgs {
    /// The environment to operate.
    #[arg(long = "env", global = true, env = "OPSBOX_ENV", value_enum, default_value_t = EnvKind::Local)]
    pub kind: EnvKind,
    /// local: where the environment keeps its state [default: ./.opsbox].
    #[arg(long, global = true, env = "OPSBOX_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// kubernetes: the kubeconfig context [default: the current context].
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// kubernetes: the namespace of the OpsBox release [default: the context's namespace].
    #[arg(long, global = true)]
    pub namespace: Option<String>,
    /// kubernetes: the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config].
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// kubernetes: the Rollout (or Deployment) of the API the verbs act on, when the
    /// namespace has several [default: the only one].
    #[arg(long, global = true)]
    pub rollout: Option<String>,
    /// kubernetes: the Prometheus that holds the chart's SLO recording rules (e.g. a
    /// port-forward: http://127.0.0.1:9090).
    #[arg(long, global = true, env = "OPSBOX_PROMETHEUS_URL")]
    pub prometheus_url: Option<String>,
    /// kubernetes: the same Prometheus as an in-cluster Service, reached through the API
    /// server's service proxy: [NAMESPACE/]NAME:PORT (e.g.
    /// monitoring/prometheus-operated:9090; the release's namespace when none is named).
    #[arg(
        long,
        global = true,
        env = "OPSBOX_PROMETHEUS_SERVICE",
        conflicts_with = "prometheus_url"
    )]
    pub prometheus_service: Option<ServiceRef>,
    /// kubernetes: the release's API as this machine reaches it, a port-forward
    /// (scripts/port-forward.sh --background: http://127.0.0.1:8080) or an ingress.
    /// Drills, `load` and `smoke` send their traffic there, and the queue, dead letters
    /// and requeue go there with the admin token.
    #[arg(long, global = true, env = "OPSBOX_API_URL")]
    pub api_url: Option<ApiUrl>,
}

/// No environment runs where the flags point; the message says where and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotRunning(pub String);

impl EnvArgs {
    /// The local environment's state directory, for `up`, `down` and the daemon.
    pub fn local_state_dir(&self) -> anyhow::Result<StateDir> {
        StateDir::resolve(self.state_dir.as_deref())
    }

    /// The environment, whether or not it runs yet (the console waits for it and offers
    /// to start it); each call on it says when it is not there.
    pub fn open(&self, read_only: bool) -> anyhow::Result<AnyEnvironment> {
        match self.kind {
            EnvKind::Local => Ok(AnyEnvironment::Local(LocalEnvironment::open(
                self.local_state_dir()?,
                read_only,
            ))),
            EnvKind::Kubernetes => {
                // The operator's own records stay on this machine, as with `local`.
                let state = self.local_state_dir()?;
                let records = Records::new(
                    state.root().to_path_buf(),
                    state.audit_log(),
                    state.drill_reports(),
                );
                let options = KubernetesOptions {
                    target: TargetArgs {
                        kubeconfig: self.kubeconfig.clone(),
                        context: self.context.clone(),
                        namespace: self.namespace.clone(),
                    },
                    rollout: self.rollout.clone(),
                    prometheus: match (&self.prometheus_url, &self.prometheus_service) {
                        (Some(url), _) => Some(PrometheusAccess::Url(url.clone())),
                        (None, Some(service)) => Some(PrometheusAccess::Service(service.clone())),
                        (None, None) => None,
                    },
                    api_url: self.api_url.clone(),
                    read_only,
                };
                Ok(AnyEnvironment::Kubernetes(KubernetesEnvironment::open(
                    options, records,
                )?))
            }
        }
    }

    /// The environment, running: fails fast with [`NotRunning`] when it is not there.
    pub fn connect(&self) -> anyhow::Result<AnyEnvironment> {
        let environment = self.open(false)?;
        match &environment {
            AnyEnvironment::Local(local) => local.ensure_running()?,
            // Its client belongs to the runtime of the verb that uses it, so the first
            // request there says (within its deadline) when the cluster is not there.
            AnyEnvironment::Kubernetes(_) => {}
        }
        Ok(environment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(dir: &std::path::Path) -> EnvArgs {
        EnvArgs {
            state_dir: Some(dir.to_path_buf()),
            ..EnvArgs::default()
        }
    }

    #[test]
    fn kubernetes_names_a_missing_kubeconfig_instead_of_panicking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let args = EnvArgs {
            kind: EnvKind::Kubernetes,
            kubeconfig: Some(dir.path().join("missing")),
            ..args(dir.path())
        };
        let error = args.open(false).expect_err("no kubeconfig");
        assert!(
            format!("{error:#}").contains("cannot read the kubeconfig"),
            "{error:#}"
        );
        assert!(args.connect().is_err());
    }

    #[test]
    fn local_opens_without_a_daemon_and_connect_says_where_none_runs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let environment = args(dir.path()).open(false).expect("opens lazily");
        assert_eq!(
            crate::env::Environment::location(&environment),
            dir.path().display().to_string()
        );
        let error = args(dir.path()).connect().expect_err("nothing runs");
        let NotRunning(message) = error.downcast_ref::<NotRunning>().expect("typed");
        assert!(
            message.contains("no local environment is running"),
            "{message}"
        );
        assert!(message.contains("opsbox up"), "{message}");
    }

    #[test]
    fn prometheus_is_one_url_or_one_service_and_a_bad_service_is_a_usage_error() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            crate::cli::Cli::try_parse_from(["opsbox", "--env", "kubernetes"].iter().chain(args))
        };
        let cli = parse(&[
            "--prometheus-service",
            "monitoring/prometheus-operated:9090",
            "slo",
        ])
        .expect("a service");
        assert_eq!(
            cli.env
                .prometheus_service
                .map(|service| service.to_string())
                .as_deref(),
            Some("monitoring/prometheus-operated:9090")
        );
        let both = parse(&[
            "--prometheus-service",
            "prometheus:9090",
            "--prometheus-url",
            "http://127.0.0.1:9090",
            "slo",
        ])
        .expect_err("one or the other");
        assert_eq!(both.kind(), clap::error::ErrorKind::ArgumentConflict);
        let bad = parse(&["--prometheus-service", "prometheus", "slo"]).expect_err("no port");
        assert_eq!(bad.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(bad.to_string().contains("[NAMESPACE/]NAME:PORT"), "{bad}");
    }

    #[test]
    fn the_api_url_is_a_base_url_or_a_usage_error() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            crate::cli::Cli::try_parse_from(["opsbox", "--env", "kubernetes"].iter().chain(args))
        };
        let cli = parse(&["--api-url", "http://127.0.0.1:8080", "drill", "list"]).expect("a URL");
        assert_eq!(
            cli.env.api_url.map(|url| url.to_string()).as_deref(),
            Some("http://127.0.0.1:8080")
        );
        let bad = parse(&["--api-url", "127.0.0.1:8080", "status"]).expect_err("no scheme");
        assert_eq!(bad.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(
            bad.to_string().contains("e.g. http://127.0.0.1:8080"),
            "{bad}"
        );
    }
}
