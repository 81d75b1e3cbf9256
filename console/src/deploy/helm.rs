//! Finding `helm` and running the one command a deploy needs, with the flags that keep
//! it working next to Argo Rollouts (ADR 0005).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

/// Where `scripts/bootstrap.sh` and the cluster tier's build put their tools, relative
/// to the repository root, for a machine without helm on PATH.
const REPOSITORY_HELMS: [&str; 2] = ["target/tools/bin/helm", "target/cluster/bin/helm"];

/// One `helm upgrade --install` of the chart.
#[derive(Debug, Clone)]
pub struct HelmRelease {
    pub helm: PathBuf,
    pub release: String,
    pub chart: PathBuf,
    pub values: PathBuf,
    /// `key=value`, passed on as `--set`.
    pub sets: Vec<String>,
    pub timeout: Duration,
    pub kubeconfig: Option<PathBuf>,
    pub context: String,
    pub namespace: String,
}

/// Helm ran and failed (a schema violation, an object the API server refused, a wait
/// that timed out): its own message, as it printed it.
#[derive(Debug, thiserror::Error)]
#[error("helm upgrade --install failed ({status}): {message}")]
pub struct HelmFailed {
    pub status: String,
    pub message: String,
}

/// `explicit` (`--helm`, `OPSBOX_HELM`), else `helm` on PATH, else the repository's
/// own tool directories.
pub fn find(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        anyhow::ensure!(path.is_file(), "--helm {}: no such file", path.display());
        return Ok(path.to_path_buf());
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("helm"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(REPOSITORY_HELMS.iter().map(PathBuf::from))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "helm is not installed: put it on PATH (scripts/bootstrap.sh --tools-only), \
                 or pass --helm PATH"
            )
        })
}

/// Helm's major version, from `helm version --short` (`v4.3.2+g...`).
pub fn major_version(helm: &Path) -> anyhow::Result<u32> {
    let output = Command::new(helm)
        .args(["version", "--short"])
        .output()
        .with_context(|| format!("cannot run {}", helm.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    parse_major(&text).with_context(|| {
        format!(
            "{} version --short said {:?}: not a helm version",
            helm.display(),
            text.trim()
        )
    })
}

fn parse_major(text: &str) -> Option<u32> {
    text.trim()
        .strip_prefix('v')?
        .split('.')
        .next()?
        .parse()
        .ok()
}

impl HelmRelease {
    /// The arguments for a helm of this major version.
    pub fn args(&self, major: u32) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "upgrade".into(),
            "--install".into(),
            self.release.clone().into(),
            self.chart.clone().into(),
            "--values".into(),
            self.values.clone().into(),
            "--namespace".into(),
            self.namespace.clone().into(),
            "--kube-context".into(),
            self.context.clone().into(),
            "--timeout".into(),
            format!("{}s", self.timeout.as_secs().max(1)).into(),
        ];
        if let Some(kubeconfig) = &self.kubeconfig {
            args.extend(["--kubeconfig".into(), kubeconfig.clone().into()]);
        }
        if major >= 4 {
            // Helm 4's default `--wait` (kstatus) cannot read an Argo Rollout's string
            // `observedGeneration` and would wait out the timeout; the rollout is followed
            // by opsbox afterwards. Client-side apply: ADR 0005.
            args.extend(["--wait=legacy".into(), "--server-side=false".into()]);
        } else {
            args.push("--wait".into());
        }
        for set in &self.sets {
            args.extend(["--set".into(), set.clone().into()]);
        }
        args
    }

    /// Runs it; helm's output on success, [`HelmFailed`] with helm's message otherwise.
    pub fn upgrade(&self) -> anyhow::Result<String> {
        let major = major_version(&self.helm)?;
        let output = Command::new(&self.helm)
            .args(self.args(major))
            .stdin(std::process::Stdio::null())
            .output()
            .with_context(|| format!("cannot run {}", self.helm.display()))?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let message = if stderr.trim().is_empty() {
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        } else {
            stderr.trim().to_owned()
        };
        Err(HelmFailed {
            status: output.status.to_string(),
            message,
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release() -> HelmRelease {
        HelmRelease {
            helm: PathBuf::from("helm"),
            release: "opsbox".to_owned(),
            chart: PathBuf::from("charts/opsbox"),
            values: PathBuf::from("charts/opsbox/values-dev.yaml"),
            sets: vec!["image.tag=0.2.0".to_owned()],
            timeout: Duration::from_secs(90),
            kubeconfig: None,
            context: "kind".to_owned(),
            namespace: "opsbox-dev".to_owned(),
        }
    }

    fn strings(args: Vec<OsString>) -> Vec<String> {
        args.into_iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn helm_4_waits_the_legacy_way_and_applies_client_side() {
        let args = strings(release().args(4));
        assert_eq!(
            args[..4],
            ["upgrade", "--install", "opsbox", "charts/opsbox"]
        );
        for expected in [
            "--wait=legacy",
            "--server-side=false",
            "90s",
            "opsbox-dev",
            "image.tag=0.2.0",
        ] {
            assert!(
                args.iter().any(|arg| arg == expected),
                "{expected}: {args:?}"
            );
        }
        let helm3 = strings(release().args(3));
        assert!(helm3.iter().any(|arg| arg == "--wait"));
        assert!(!helm3.iter().any(|arg| arg.starts_with("--server-side")));
    }

    #[test]
    fn versions_are_read_from_the_short_form() {
        assert_eq!(parse_major("v4.3.2+g1234abc\n"), Some(4));
        assert_eq!(parse_major("v3.17.0"), Some(3));
        assert_eq!(parse_major("helm"), None);
    }

    #[test]
    fn an_explicit_helm_must_exist() {
        let error = find(Some(Path::new("/nonexistent/helm"))).expect_err("missing");
        assert!(error.to_string().contains("/nonexistent/helm"), "{error}");
    }
}
