//! Installing the chart into the tier's cluster, shared by the chart's tests and the
//! console's: the optional CRDs from their Go modules, test-only secrets, `helm` with
//! private homes, and the test values (no analysis ever dials out of loopback).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{ensure, Context, Result};
use serde_json::Value;

use crate::{cluster_dir, workspace_root, Cluster, User};

/// The release name every test installs.
pub const RELEASE: &str = "opsbox";

/// CRDs the chart uses beyond the tier's own (Argo Rollouts, KEDA), from
/// their Go modules (`go mod download`, cached like the tier's build):
/// (module@version, CRD files inside it).
pub const EXTRA_CRDS: [(&str, &[&str]); 5] = [
    (
        "github.com/prometheus-operator/prometheus-operator@v0.80.1",
        &[
            "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
            "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
        ],
    ),
    (
        "github.com/external-secrets/external-secrets@v0.16.2",
        &["config/crds/bases/external-secrets.io_externalsecrets.yaml"],
    ),
    // Not used by the chart: they let the API server judge policies/kyverno and deploy/argocd.
    (
        "github.com/kyverno/kyverno@v1.15.2",
        &["config/crds/kyverno/kyverno.io_clusterpolicies.yaml"],
    ),
    // The console's dependency outages on a cluster (no tagged module version: Chaos
    // Mesh's v2 tags lack a /v2 module path, so a commit is pinned).
    (
        "github.com/chaos-mesh/chaos-mesh@v0.9.1-0.20260902003049-47411975a8cb",
        &[
            "config/crd/bases/chaos-mesh.org_podchaos.yaml",
            "config/crd/bases/chaos-mesh.org_networkchaos.yaml",
        ],
    ),
    (
        "github.com/argoproj/argo-cd/v3@v3.1.8",
        &[
            "manifests/crds/application-crd.yaml",
            "manifests/crds/appproject-crd.yaml",
        ],
    ),
];

pub fn chart_dir() -> PathBuf {
    workspace_root().join("charts/opsbox")
}

pub fn bin(name: &str) -> PathBuf {
    cluster_dir().join("bin").join(name)
}

/// Runs a program with `stdin`; its output whatever the status.
pub fn run_with(
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &str,
) -> Result<Output> {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    let mut input = child.stdin.take().context("piped stdin")?;
    let text = stdin.to_owned();
    let writer = std::thread::spawn(move || input.write_all(text.as_bytes()));
    let out = child.wait_with_output()?;
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("stdin writer panicked"))??;
    Ok(out)
}

pub fn ok(what: &str, out: Output) -> Result<String> {
    ensure!(
        out.status.success(),
        "{what}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

pub fn helm(args: &[&str], env: &[(&str, &str)]) -> Result<Output> {
    run_with(&bin("helm"), args, env, "")
}

/// The directory of a Go module, downloaded into the module cache if needed.
pub fn module_dir(module: &str) -> Result<PathBuf> {
    let out = Command::new("go")
        .args(["mod", "download", "-json", module])
        .env("GOFLAGS", "-mod=mod")
        .current_dir(std::env::temp_dir())
        .output()
        .context("go mod download")?;
    let text = ok(&format!("go mod download {module}"), out)?;
    let info: Value = serde_json::from_str(&text)?;
    Ok(PathBuf::from(info["Dir"].as_str().context("Dir")?))
}

pub fn install_extra_crds(cluster: &Cluster) -> Result<()> {
    let mut names = Vec::new();
    for (module, files) in EXTRA_CRDS {
        let dir = module_dir(module)?;
        for file in files {
            let path = dir.join(file);
            let path = path.to_str().context("crd path")?;
            // Server-side: the ServiceMonitor CRD is over client-side apply's annotation limit.
            cluster.kubectl(User::Admin, &["apply", "--server-side", "-f", path])?;
            let crd: Value = serde_yaml::from_str(&std::fs::read_to_string(path)?)?;
            names.push(
                crd["metadata"]["name"]
                    .as_str()
                    .context("crd name")?
                    .to_owned(),
            );
        }
    }
    for name in names {
        cluster.kubectl(
            User::Admin,
            &[
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                &format!("crd/{name}"),
            ],
        )?;
    }
    Ok(())
}

pub fn helm_cluster(cluster: &Cluster, args: &[&str]) -> Result<String> {
    let kubeconfig = cluster.kubeconfig(User::Admin)?;
    let mut all = vec![
        "--kubeconfig",
        kubeconfig,
        "--namespace",
        cluster.namespace(),
    ];
    all.extend(args);
    let data = tempfile::tempdir()?;
    let dirs = data.path().to_str().context("helm dirs")?;
    ok(
        &format!("helm {}", args.join(" ")),
        helm(&all, &helm_homes(dirs))?,
    )
}

/// Private homes for one helm (or one `opsbox deploy`, which runs helm): no
/// repository index, cache or plugin of this machine's user is read or written.
pub fn helm_homes(dir: &str) -> [(&'static str, &str); 3] {
    [
        ("HELM_CACHE_HOME", dir),
        ("HELM_CONFIG_HOME", dir),
        ("HELM_DATA_HOME", dir),
    ]
}

/// The `opsbox` binary the console's tests drive: `OPSBOX_EXE`, else the workspace's
/// debug build (`cargo build -p opsbox`; `make test` builds it).
pub fn opsbox_exe() -> Result<PathBuf> {
    let exe = std::env::var_os("OPSBOX_EXE")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target/debug/opsbox"));
    ensure!(
        exe.is_file(),
        "{} is not built: run `cargo build -p opsbox` (make test does)",
        exe.display()
    );
    Ok(exe)
}

/// Test-only credentials of this test process, never written to the repository.
fn test_password() -> String {
    format!("test-{}", std::process::id())
}

/// The admin token [`create_secrets`] puts in the release's Secret.
pub fn admin_token() -> String {
    format!("admin-{}", test_password())
}

/// Test-only credentials, made here and never written to the repository.
pub fn create_secrets(cluster: &Cluster) -> Result<()> {
    let password = test_password();
    let host = format!("{RELEASE}-postgres");
    for args in [
        vec![
            "create".to_owned(),
            "secret".to_owned(),
            "generic".to_owned(),
            "opsbox-secrets".to_owned(),
            format!("--from-literal=DATABASE_URL=postgres://opsbox:{password}@{host}:5432/opsbox"),
            format!("--from-literal=REDIS_URL=redis://{RELEASE}-redis:6379"),
            format!("--from-literal=REDIS_ADDRESS={RELEASE}-redis:6379"),
            "--from-literal=REDIS_PASSWORD=".to_owned(),
            format!("--from-literal=OPSBOX_ADMIN_TOKEN={}", admin_token()),
        ],
        vec![
            "create".to_owned(),
            "secret".to_owned(),
            "generic".to_owned(),
            "opsbox-postgres".to_owned(),
            format!("--from-literal=POSTGRES_PASSWORD={password}"),
        ],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cluster.kubectl(User::Admin, &args)?;
    }
    // No provisioner here: one volume per in-chart StatefulSet, bound by the
    // real PV controller (kwok never mounts it).
    for name in ["opsbox-test-pv-0", "opsbox-test-pv-1"] {
        let pv = serde_json::json!({
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name},
            "spec": {
                "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                "storageClassName": "", "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": format!("/nonexistent/{name}")},
            },
        });
        cluster.kubectl_stdin(User::Admin, &["apply", "-f", "-"], &pv.to_string())?;
    }
    Ok(())
}

/// `--set`s of the test: Prometheus on a closed loopback port (an analysis
/// step must never dial out of 127.0.0.0/8).
pub const TEST_SETS: [&str; 1] = ["prometheus.address=http://127.0.0.1:9"];

pub fn dev_values() -> Result<String> {
    Ok(chart_dir()
        .join("values-dev.yaml")
        .to_str()
        .context("values path")?
        .to_owned())
}

/// Test secrets, then `helm install` of the chart with the dev values, the test
/// `--set`s and `extra` arguments (`--set-json ...`), waiting up to 90 s for the hooks.
pub fn install_with(cluster: &Cluster, extra: &[&str]) -> Result<()> {
    create_secrets(cluster)?;
    let chart = chart_dir();
    let values = dev_values()?;
    let mut args = vec![
        "install",
        RELEASE,
        chart.to_str().context("chart")?,
        "-f",
        &values,
        // Client-side apply (Helm 3's way; later upgrades keep it): Argo
        // Rollouts adds its pod-template hash to the Services' selectors, an
        // atomic map, so a server-side apply of the chart's selector conflicts.
        "--server-side=false",
        "--timeout",
        "90s",
    ];
    for set in TEST_SETS {
        args.extend(["--set", set]);
    }
    args.extend(extra);
    helm_cluster(cluster, &args).map(drop)
}

/// [`install_with`] the test values alone.
pub fn install(cluster: &Cluster) -> Result<()> {
    install_with(cluster, &[])
}
