//! Where the kubernetes environment points: a kubeconfig, a context in it, a namespace.
//! Every mistake here is a sentence that names the file or the context, before any
//! request is made.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

/// A connection that cannot be made within this is a down API server, not a slow one.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A kubeconfig context, checked: the client itself is made on first use, inside the
/// async runtime that will drive it (a kube client spawns its own worker task).
#[derive(Clone)]
pub struct Target {
    kubeconfig: Kubeconfig,
    pub namespace: String,
    pub context: String,
    pub server: String,
}

/// What the flags asked for (each defaults to the kubeconfig's choice).
#[derive(Debug, Clone, Default)]
pub struct TargetArgs {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub namespace: Option<String>,
}

/// The kubeconfig this run reads: the flag, then `$KUBECONFIG`, then `~/.kube/config`.
fn kubeconfig_path(flag: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = flag {
        return Some(path.to_path_buf());
    }
    if let Some(paths) = std::env::var_os("KUBECONFIG").filter(|paths| !paths.is_empty()) {
        return std::env::split_paths(&paths).next();
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".kube/config"))
}

impl Target {
    /// Reads the kubeconfig and finds the context, without a request.
    pub fn resolve(args: &TargetArgs) -> anyhow::Result<Self> {
        let path = kubeconfig_path(args.kubeconfig.as_deref()).ok_or_else(|| {
            anyhow::anyhow!("no kubeconfig: pass --kubeconfig, or set KUBECONFIG or HOME")
        })?;
        let kubeconfig = Kubeconfig::read_from(&path).map_err(|error| {
            anyhow::anyhow!("cannot read the kubeconfig {}: {error}", path.display())
        })?;
        let context = match &args.context {
            Some(context) => context.clone(),
            None => kubeconfig.current_context.clone().ok_or_else(|| {
                anyhow::anyhow!(
                    "the kubeconfig {} has no current context: pass --context",
                    path.display()
                )
            })?,
        };
        let Some(named) = kubeconfig
            .contexts
            .iter()
            .find(|named| named.name == context)
        else {
            let known: Vec<&str> = kubeconfig
                .contexts
                .iter()
                .map(|named| named.name.as_str())
                .collect();
            anyhow::bail!(
                "there is no context {context:?} in the kubeconfig {} (it has: {})",
                path.display(),
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            );
        };
        let details = named.context.as_ref();
        let namespace = args
            .namespace
            .clone()
            .or_else(|| details.and_then(|context| context.namespace.clone()))
            .unwrap_or_else(|| "default".to_owned());
        let cluster = details.map(|context| context.cluster.as_str());
        let server = kubeconfig
            .clusters
            .iter()
            .find(|named| Some(named.name.as_str()) == cluster)
            .and_then(|named| named.cluster.as_ref())
            .and_then(|cluster| cluster.server.clone())
            .unwrap_or_else(|| "(no server)".to_owned());
        Ok(Self {
            kubeconfig,
            namespace,
            context,
            server,
        })
    }

    /// A client for the context; call it inside the runtime that will use it.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        let options = KubeConfigOptions {
            context: Some(self.context.clone()),
            ..KubeConfigOptions::default()
        };
        let mut config = kube::Config::from_custom_kubeconfig(self.kubeconfig.clone(), &options)
            .await
            .map_err(|error| {
                anyhow::anyhow!("the context {:?} is not usable: {error}", self.context)
            })?;
        config.connect_timeout = Some(CONNECT_TIMEOUT);
        // kube retries 429/503/504 up to 15 times with backoff, which would outlast every
        // deadline here and hide the answer (a proxy's "no endpoints" is a 503). Each
        // call reports at once instead; the next reading or keypress tries again, and
        // the watches keep their own backoff.
        config.default_retry = false;
        kube::Client::try_from(config)
            .map_err(|error| anyhow::anyhow!("cannot build a client for {}: {error}", self.server))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(path: &Path, context: Option<&str>) -> TargetArgs {
        TargetArgs {
            kubeconfig: Some(path.to_path_buf()),
            context: context.map(str::to_owned),
            namespace: None,
        }
    }

    const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\ncurrent-context: test\n\
        clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n\
        users:\n- name: u\n  user: {token: t}\n\
        contexts:\n- name: test\n  context: {cluster: c, user: u, namespace: opsbox}\n";

    #[test]
    fn a_missing_kubeconfig_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nope");
        let error = Target::resolve(&args(&path, None)).err().expect("fails");
        let message = format!("{error:#}");
        assert!(message.contains("cannot read the kubeconfig"), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
    }

    #[test]
    fn an_unknown_context_lists_the_known_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config");
        std::fs::write(&path, KUBECONFIG).expect("write");
        let error = Target::resolve(&args(&path, Some("prod")))
            .err()
            .expect("fails");
        let message = format!("{error:#}");
        assert!(message.contains("no context \"prod\""), "{message}");
        assert!(message.contains("it has: test"), "{message}");
    }

    #[test]
    fn the_contexts_namespace_is_the_default() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config");
        std::fs::write(&path, KUBECONFIG).expect("write");
        let target = Target::resolve(&args(&path, None)).expect("resolves without a request");
        assert_eq!(target.namespace, "opsbox");
        assert_eq!(target.context, "test");
        assert_eq!(target.server, "https://127.0.0.1:1");
        let flagged = Target::resolve(&TargetArgs {
            namespace: Some("other".into()),
            ..args(&path, None)
        })
        .expect("resolves");
        assert_eq!(flagged.namespace, "other");
    }
}
