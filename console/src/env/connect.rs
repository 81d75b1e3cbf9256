//! The one place an environment is chosen and opened, from the global flags: `--env`
//! (or `OPSBOX_ENV`), `--state-dir` for `local`, `--context`, `--namespace` and
//! `--kubeconfig` for `kubernetes`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::local::{LocalEnvironment, StateDir};
use super::AnyEnvironment;

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
}

/// No environment runs where the flags point; the message says where and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotRunning(pub String);

/// The environment asked for does not exist in this build; exit code 2, like a usage error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

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
            EnvKind::Kubernetes => Err(Unavailable(
                "the kubernetes environment is not available yet in this build of opsbox; \
                 use --env local (the default)"
                    .to_owned(),
            )
            .into()),
        }
    }

    /// The environment, running: fails fast with [`NotRunning`] when it is not there.
    pub fn connect(&self) -> anyhow::Result<AnyEnvironment> {
        let environment = self.open(false)?;
        match &environment {
            AnyEnvironment::Local(local) => local.ensure_running()?,
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
    fn kubernetes_is_refused_with_a_clear_message_not_a_panic() {
        let args = EnvArgs {
            kind: EnvKind::Kubernetes,
            ..EnvArgs::default()
        };
        let error = args.open(false).expect_err("not available yet");
        let unavailable = error.downcast_ref::<Unavailable>().expect("typed");
        assert!(unavailable.0.contains("not available yet"), "{unavailable}");
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
}
