//! The Helm chart `charts/opsbox` on the cluster tier: `helm lint` of every
//! values file, the schema's rejections, the rollout steps shared with the
//! local environment, the policies (conftest), and on one real control plane:
//! server-side dry runs with the optional CRDs installed, kubeconform against
//! schemas taken from that API server, then install, upgrade (the canary
//! pauses where the values say) and uninstall.
//!
//! Skips with one line where the tier's binaries are not built and cannot
//! be (no Go); OPSBOX_REQUIRE_CLUSTER=1 (CI) makes that a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use opsbox_cluster::release::{
    bin, chart_dir, dev_values, helm, helm_cluster, install, install_extra_crds, ok, run_with,
    RELEASE, TEST_SETS,
};
use opsbox_cluster::{unavailable_reason, wait_until, workspace_root, Cluster, User, REQUIRE_ENV};
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);
const VALUES_FILES: [&str; 4] = [
    "values.yaml",
    "values-dev.yaml",
    "values-staging.yaml",
    "values-prod.yaml",
];

/// True when the tier's tools are here; else one skip line (or an error
/// under OPSBOX_REQUIRE_CLUSTER=1).
fn tools_or_skip(test: &str) -> Result<bool> {
    match unavailable_reason() {
        None => Ok(true),
        Some(reason) if std::env::var(REQUIRE_ENV).as_deref() == Ok("1") => {
            bail!("{test}: the cluster tier is required ({REQUIRE_ENV}=1) but {reason}")
        }
        Some(reason) => {
            eprintln!("SKIP {test}: cluster tier not run: {reason}");
            Ok(false)
        }
    }
}

/// `helm template` of the chart with a values file and `--set`s.
fn render(values: &str, sets: &[&str]) -> Result<String> {
    let chart = chart_dir();
    let file = chart.join(values);
    let mut args = vec![
        "template",
        RELEASE,
        chart.to_str().context("chart path")?,
        "--namespace",
        "opsbox",
        "-f",
        file.to_str().context("values path")?,
    ];
    for set in sets {
        args.extend(["--set", set]);
    }
    ok(
        &format!("helm template -f {values} {sets:?}"),
        helm(&args, &[])?,
    )
}

/// The documents of a multi-document YAML stream, as JSON.
fn documents(yaml: &str) -> Result<Vec<Value>> {
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let value: Value = serde::Deserialize::deserialize(doc)?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

fn find<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

#[test]
fn helm_lint_passes_for_every_values_file() -> Result<()> {
    if !tools_or_skip("helm_lint_passes_for_every_values_file")? {
        return Ok(());
    }
    let chart = chart_dir();
    for values in VALUES_FILES {
        let file = chart.join(values);
        let out = helm(
            &[
                "lint",
                "--strict",
                chart.to_str().context("chart")?,
                "-f",
                file.to_str().context("values")?,
            ],
            &[],
        )?;
        ok(&format!("helm lint -f {values}"), out)?;
    }
    Ok(())
}

#[test]
fn schema_rejects_mistakes_with_the_field_named() -> Result<()> {
    if !tools_or_skip("schema_rejects_mistakes_with_the_field_named")? {
        return Ok(());
    }
    let cases = [
        ("api.replicas=-1", "/api/replicas"),
        ("worker.replicas=-3", "/worker/replicas"),
        (
            "argoRollouts.trafficRouting.type=linkerd",
            "/argoRollouts/trafficRouting/type",
        ),
        ("image.tag=", "/image/tag"),
        ("image.tag=latest", "/image/tag"),
        ("image.tag=null", "missing property 'tag'"),
    ];
    for (set, field) in cases {
        let chart = chart_dir();
        let out = helm(
            &[
                "template",
                RELEASE,
                chart.to_str().context("chart")?,
                "--set",
                set,
            ],
            &[],
        )?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(!out.status.success(), "--set {set} was accepted");
        ensure!(
            stderr.contains("schema") && stderr.contains(field),
            "--set {set}: the error does not name {field}: {stderr}"
        );
    }
    // What the schema cannot see, the templates refuse with a message.
    let short_grace = render(
        "values.yaml",
        &[
            "api.terminationGracePeriodSeconds=10",
            "api.drainTimeout=10s",
        ],
    );
    let err = format!(
        "{:#}",
        short_grace
            .err()
            .context("a grace period shorter than the drain")?
    );
    ensure!(err.contains("api.terminationGracePeriodSeconds"), "{err}");
    let nginx_without_ingress = render("values.yaml", &["argoRollouts.trafficRouting.type=nginx"]);
    let err = format!(
        "{:#}",
        nginx_without_ingress
            .err()
            .context("nginx routing without an Ingress")?
    );
    ensure!(err.contains("ingress.enabled"), "{err}");
    Ok(())
}

/// A rollout step reduced to what both environments act on.
fn step_summary(step: &Value) -> Result<String> {
    let (kind, body) = step
        .as_object()
        .and_then(|m| m.iter().next())
        .with_context(|| format!("not a step: {step}"))?;
    Ok(match kind.as_str() {
        "setWeight" => format!("setWeight {body}"),
        "pause" => format!("pause {}", body["duration"]),
        "analysis" => "analysis".to_owned(),
        other => bail!("unknown step kind {other}"),
    })
}

#[test]
fn rollout_steps_are_the_local_environments() -> Result<()> {
    if !tools_or_skip("rollout_steps_are_the_local_environments")? {
        return Ok(());
    }
    // The local environment builds `charts/opsbox/values.yaml` into the
    // console and walks its `rollout.steps`.
    let strategy = workspace_root().join("console/src/env/local/daemon/rollout/strategy.rs");
    let source = std::fs::read_to_string(&strategy)?;
    ensure!(
        source.contains("charts/opsbox/values.yaml\")"),
        "{} no longer reads the chart's values.yaml: compare the steps it walks instead",
        strategy.display()
    );
    let values: Value =
        serde_yaml::from_str(&std::fs::read_to_string(chart_dir().join("values.yaml"))?)?;
    let local: Vec<String> = values["rollout"]["steps"]
        .as_array()
        .context("rollout.steps")?
        .iter()
        .map(step_summary)
        .collect::<Result<_>>()?;
    for file in VALUES_FILES {
        let docs = documents(&render(file, &[])?)?;
        let rollout = find(&docs, "Rollout");
        let rollout = rollout.first().context("no Rollout rendered")?;
        let steps = rollout["spec"]["strategy"]["canary"]["steps"]
            .as_array()
            .context("canary steps")?;
        let chart: Vec<String> = steps.iter().map(step_summary).collect::<Result<_>>()?;
        ensure!(
            chart == local,
            "{file}: the Rollout walks {chart:?}, the local environment {local:?}"
        );
        for step in steps.iter().filter(|s| s.get("analysis").is_some()) {
            ensure!(
                step["analysis"]["templates"][0]["templateName"] == "opsbox-slo-api",
                "{file}: analysis step without the generated template: {step}"
            );
        }
    }
    Ok(())
}

/// Every workload's image: `kind` -> images, to check no render slips `:latest`.
fn images(docs: &[Value]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for doc in docs {
        let spec = if doc["kind"] == "Pod" {
            &doc["spec"]
        } else {
            &doc["spec"]["template"]["spec"]
        };
        for c in spec["containers"].as_array().into_iter().flatten() {
            if let Some(image) = c["image"].as_str() {
                out.insert(image.to_owned());
            }
        }
    }
    out
}

#[test]
fn every_render_is_hardened() -> Result<()> {
    if !tools_or_skip("every_render_is_hardened")? {
        return Ok(());
    }
    for file in VALUES_FILES {
        let docs = documents(&render(file, &[])?)?;
        for image in images(&docs) {
            ensure!(!image.ends_with(":latest"), "{file}: {image}");
        }
        for doc in docs.iter().filter(|d| {
            ["Deployment", "Rollout", "StatefulSet", "Job"]
                .contains(&d["kind"].as_str().unwrap_or(""))
        }) {
            let pod = &doc["spec"]["template"]["spec"];
            let name = format!("{file}: {} {}", doc["kind"], doc["metadata"]["name"]);
            ensure!(
                pod["automountServiceAccountToken"] == false,
                "{name}: token mounted"
            );
            ensure!(
                pod["securityContext"]["runAsNonRoot"] == true,
                "{name}: may run as root"
            );
            for c in pod["containers"].as_array().context("containers")? {
                let sc = &c["securityContext"];
                ensure!(
                    sc["readOnlyRootFilesystem"] == true,
                    "{name}: writable root"
                );
                ensure!(
                    sc["allowPrivilegeEscalation"] == false,
                    "{name}: escalation"
                );
                ensure!(
                    sc["capabilities"]["drop"][0] == "ALL",
                    "{name}: capabilities"
                );
                ensure!(
                    sc["seccompProfile"]["type"] == "RuntimeDefault",
                    "{name}: seccomp"
                );
                ensure!(
                    c["resources"]["limits"]["memory"].is_string(),
                    "{name}: no memory limit"
                );
                ensure!(
                    c["resources"]["requests"]["cpu"].is_string(),
                    "{name}: no cpu request"
                );
            }
        }
    }
    Ok(())
}

// ---- The control plane -------------------------------------------------------

#[test]
fn chart_installs_upgrades_and_uninstalls_on_the_control_plane() -> Result<()> {
    let started = Instant::now();
    let Some(cluster) =
        Cluster::start_or_skip("chart_installs_upgrades_and_uninstalls_on_the_control_plane")?
    else {
        return Ok(());
    };
    eprintln!("cluster up in {:.1?}", started.elapsed());
    let result: Result<()> = (|| {
        install_extra_crds(&cluster)?;
        every_render_passes_a_server_side_dry_run(&cluster)?;
        every_render_passes_kubeconform(&cluster)?;
        policies_and_gitops_manifests_are_accepted(&cluster)?;
        eprintln!("dry runs and kubeconform done at {:.1?}", started.elapsed());
        install_runs_the_migration_and_gets_healthy(&cluster)?;
        eprintln!("installed and Healthy at {:.1?}", started.elapsed());
        upgrade_walks_the_canary_to_the_first_pause(&cluster)?;
        eprintln!("canary paused at {:.1?}", started.elapsed());
        uninstall_removes_everything(&cluster)?;
        eprintln!("uninstalled at {:.1?}", started.elapsed());
        namespace_guardrails_and_rbac(&cluster)?;
        Ok(())
    })();
    if let Err(e) = &result {
        eprintln!("failed: {e:#}\n{}", cluster.status_report());
    }
    result
}

/// Every render, with every optional part on, accepted by the real API server
/// (admission, schemas of the CRDs, strict field validation), nothing stored.
fn every_render_passes_a_server_side_dry_run(cluster: &Cluster) -> Result<()> {
    for (file, sets) in all_renders() {
        let manifest = render(file, &sets)?;
        cluster
            .kubectl_stdin(
                User::Admin,
                &[
                    "apply",
                    "--dry-run=server",
                    "--server-side",
                    "--field-manager=chart-test",
                    "-f",
                    "-",
                ],
                &manifest,
            )
            .with_context(|| format!("dry run of {file} {sets:?}"))?;
    }
    Ok(())
}

fn all_renders() -> Vec<(&'static str, Vec<&'static str>)> {
    let everything = vec![
        "serviceMonitor.enabled=true",
        "prometheusRule.enabled=true",
        "ingress.enabled=true",
        "argoRollouts.trafficRouting.type=nginx",
        "api.autoscaling.enabled=true",
        "secrets.externalSecret.enabled=true",
        "postgresql.enabled=true",
        "redis.enabled=true",
    ];
    let mut renders: Vec<_> = VALUES_FILES.iter().map(|f| (*f, vec![])).collect();
    renders.push(("values.yaml", everything));
    renders.push((
        "values.yaml",
        vec!["argoRollouts.enabled=false", "api.autoscaling.enabled=true"],
    ));
    renders
}

/// kubeconform against JSON schemas made from the API server's own OpenAPI v3
/// documents (built-in kinds and the installed CRDs alike): nothing is
/// fetched from outside loopback.
fn every_render_passes_kubeconform(cluster: &Cluster) -> Result<()> {
    let schemas = tempfile::tempdir()?;
    let mut needed = BTreeSet::new();
    let mut renders = Vec::new();
    for (file, sets) in all_renders() {
        let manifest = render(file, &sets)?;
        for doc in documents(&manifest)? {
            needed.insert((
                doc["apiVersion"].as_str().context("apiVersion")?.to_owned(),
                doc["kind"].as_str().context("kind")?.to_owned(),
            ));
        }
        renders.push((file, sets, manifest));
    }
    write_schemas(cluster, schemas.path(), &needed)?;
    let location = format!(
        "{}/{{{{ .ResourceKind }}}}-{{{{ .Group }}}}-{{{{ .ResourceAPIVersion }}}}.json",
        schemas.path().display()
    );
    for (file, sets, manifest) in renders {
        let out = run_with(
            &bin("kubeconform"),
            &[
                "-schema-location",
                &location,
                "-summary",
                "-exit-on-error",
                "-",
            ],
            &[],
            &manifest,
        )?;
        let text = ok(&format!("kubeconform of {file} {sets:?}"), out)?;
        ensure!(
            text.contains("Invalid: 0, Errors: 0, Skipped: 0"),
            "kubeconform of {file} {sets:?}: {text}"
        );
    }
    Ok(())
}

/// One file per (apiVersion, kind), named as kubeconform's template asks:
/// `<kind>-<group or v1>-<version>.json`, holding its group-version's
/// components so `$ref`s resolve inside the file.
fn write_schemas(cluster: &Cluster, dir: &Path, needed: &BTreeSet<(String, String)>) -> Result<()> {
    let index: Value =
        serde_json::from_str(&cluster.kubectl(User::Admin, &["get", "--raw", "/openapi/v3"])?)?;
    let mut by_gv: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (api_version, kind) in needed {
        by_gv
            .entry(api_version.clone())
            .or_default()
            .push(kind.clone());
    }
    for (api_version, kinds) in by_gv {
        let path = if api_version.contains('/') {
            format!("apis/{api_version}")
        } else {
            format!("api/{api_version}")
        };
        let url = index["paths"][&path]["serverRelativeURL"]
            .as_str()
            .with_context(|| format!("{path} not in /openapi/v3"))?;
        let mut doc: Value =
            serde_json::from_str(&cluster.kubectl(User::Admin, &["get", "--raw", url])?)?;
        let components = doc["components"]["schemas"]
            .as_object_mut()
            .context("components.schemas")?;
        // OpenAPI's int-or-string is `type: string, format: int-or-string`:
        // as JSON schema it must accept integers too.
        for schema in components.values_mut() {
            fix_int_or_string(schema);
        }
        let (group, version) = api_version
            .split_once('/')
            .unwrap_or(("v1", api_version.as_str()));
        let api_group = if api_version.contains('/') { group } else { "" };
        for kind in kinds {
            let name = components
                .iter()
                .find(|(_, s)| {
                    s["x-kubernetes-group-version-kind"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|g| {
                            g["kind"] == kind.as_str()
                                && g["group"] == api_group
                                && g["version"] == version
                        })
                })
                .map(|(n, _)| n.clone())
                .with_context(|| format!("no schema for {api_version} {kind}"))?;
            let schema = serde_json::json!({
                "$ref": format!("#/components/schemas/{name}"),
                "components": {"schemas": components.clone()},
            });
            let file = dir.join(format!("{}-{group}-{version}.json", kind.to_lowercase()));
            std::fs::write(file, serde_json::to_vec(&schema)?)?;
        }
    }
    Ok(())
}

fn fix_int_or_string(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.get("format").and_then(Value::as_str) == Some("int-or-string") {
                map.remove("type");
                map.remove("format");
                map.insert(
                    "anyOf".into(),
                    serde_json::json!([{"type": "integer"}, {"type": "string"}]),
                );
            }
            for value in map.values_mut() {
                fix_int_or_string(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(fix_int_or_string),
        _ => {}
    }
}

fn install_runs_the_migration_and_gets_healthy(cluster: &Cluster) -> Result<()> {
    install(cluster)?;
    // Every object of the release exists.
    let manifest = helm_cluster(cluster, &["get", "manifest", RELEASE])?;
    let docs = documents(&manifest)?;
    ensure!(
        docs.len() >= 15,
        "only {} objects in the release",
        docs.len()
    );
    for doc in &docs {
        let kind = doc["kind"].as_str().context("kind")?;
        let name = doc["metadata"]["name"].as_str().context("name")?;
        // Admin: the tier's viewer cannot read KEDA's kinds (no aggregated view role).
        cluster
            .kubectl(User::Admin, &["get", kind, name, "-o", "name"])
            .with_context(|| format!("{kind} {name} of the release"))?;
    }
    migration_job_ran(cluster, 1)?;
    // Pods of every workload Running and Ready (kwok), the Rollout Healthy.
    wait_until(
        "every pod of the release Running and Ready",
        DEADLINE,
        || {
            let pods = cluster.json(
                User::Viewer,
                &[
                    "get",
                    "pods",
                    "-l",
                    &format!("app.kubernetes.io/instance={RELEASE}"),
                ],
            )?;
            let items = pods["items"].as_array().context("items")?;
            let mut components = BTreeSet::new();
            let mut not_ready = Vec::new();
            for pod in items {
                let component = pod["metadata"]["labels"]["app.kubernetes.io/component"]
                    .as_str()
                    .unwrap_or("?");
                if component == "migrations" {
                    continue;
                }
                components.insert(component.to_owned());
                let ready = pod["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True");
                if pod["status"]["phase"] != "Running" || !ready {
                    not_ready.push(format!(
                        "{} {}",
                        pod["metadata"]["name"], pod["status"]["phase"]
                    ));
                }
            }
            let expected: BTreeSet<String> = ["api", "worker", "postgres", "redis"]
                .map(String::from)
                .into();
            if components == expected && not_ready.is_empty() {
                Ok(Ok(()))
            } else {
                Ok(Err(format!(
                    "components {components:?}, not ready {not_ready:?}"
                )))
            }
        },
    )?;
    wait_until("the Rollout Healthy", DEADLINE, || {
        let r = cluster.json(User::Viewer, &["get", "rollout", &format!("{RELEASE}-api")])?;
        let status = &r["status"];
        if status["phase"] == "Healthy" && status["availableReplicas"] == 2 {
            Ok(Ok(()))
        } else {
            Ok(Err(format!(
                "phase={} available={} message={}",
                status["phase"], status["availableReplicas"], status["message"]
            )))
        }
    })
}

/// The pre-install/pre-upgrade hook Job ran `attempts` times and succeeded:
/// it deletes itself on success, so its Events are the record.
fn migration_job_ran(cluster: &Cluster, runs: usize) -> Result<()> {
    let job = format!("{RELEASE}-migrate");
    wait_until("the migration Job's events", DEADLINE, || {
        let events = cluster.json(
            User::Viewer,
            &[
                "get",
                "events",
                "--field-selector",
                &format!("involvedObject.kind=Job,involvedObject.name={job}"),
            ],
        )?;
        let reasons: Vec<String> = events["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                format!(
                    "{}x{}",
                    e["reason"].as_str().unwrap_or("?"),
                    e["count"].as_i64().unwrap_or(1)
                )
            })
            .collect();
        let count = |reason: &str| -> usize {
            events["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["reason"] == reason)
                .map(|e| e["count"].as_u64().unwrap_or(1) as usize)
                .sum()
        };
        if count("SuccessfulCreate") >= runs && count("Completed") >= runs {
            Ok(Ok(()))
        } else {
            Ok(Err(format!("events {reasons:?}")))
        }
    })?;
    let left = cluster.kubectl_output(User::Viewer, &["get", "job", &job], None)?;
    ensure!(
        !left.status.success(),
        "the succeeded hook Job was not deleted"
    );
    Ok(())
}

fn upgrade_walks_the_canary_to_the_first_pause(cluster: &Cluster) -> Result<()> {
    let chart = chart_dir();
    let values = dev_values()?;
    let mut args = vec![
        "upgrade",
        RELEASE,
        chart.to_str().context("chart")?,
        "-f",
        &values,
        "--set",
        "image.tag=0.1.1",
        "--timeout",
        "90s",
    ];
    for set in TEST_SETS {
        args.extend(["--set", set]);
    }
    helm_cluster(cluster, &args)?;
    migration_job_ran(cluster, 2)?;
    let chart_values: Value =
        serde_yaml::from_str(&std::fs::read_to_string(chart.join("values.yaml"))?)?;
    let steps = chart_values["rollout"]["steps"]
        .as_array()
        .context("steps")?;
    let pause_at = steps
        .iter()
        .position(|s| s.get("pause").is_some())
        .context("no pause step in rollout.steps")?;
    let weight = steps[..pause_at]
        .iter()
        .rev()
        .find_map(|s| s["setWeight"].as_i64())
        .context("no setWeight before the pause")?;
    let rollout = format!("{RELEASE}-api");
    wait_until(
        "the canary paused at the values' first pause",
        DEADLINE,
        || {
            let r = cluster.json(User::Viewer, &["get", "rollout", &rollout])?;
            let s = &r["status"];
            let paused = s["pauseConditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["reason"] == "CanaryPauseStep");
            if s["currentStepIndex"] == pause_at && paused && s["phase"] == "Paused" {
                Ok(Ok(()))
            } else {
                Ok(Err(format!(
                    "phase={} step={} pause={} message={}",
                    s["phase"], s["currentStepIndex"], s["pauseConditions"], s["message"]
                )))
            }
        },
    )?;
    // The canary ReplicaSet runs the new tag at the step's weight (no traffic
    // router: the weight is the share of the replicas, rounded up).
    let r = cluster.json(User::Viewer, &["get", "rollout", &rollout])?;
    let hash = r["status"]["currentPodHash"]
        .as_str()
        .context("currentPodHash")?;
    let rs = cluster.json(
        User::Viewer,
        &[
            "get",
            "rs",
            "-l",
            &format!("rollouts-pod-template-hash={hash}"),
        ],
    )?;
    let rs = &rs["items"][0];
    let replicas = r["spec"]["replicas"].as_i64().context("replicas")?;
    let expected = (replicas * weight + 99) / 100;
    ensure!(
        rs["spec"]["replicas"] == expected,
        "canary ReplicaSet at {} replicas, expected {expected} for setWeight {weight}",
        rs["spec"]["replicas"]
    );
    let image = &rs["spec"]["template"]["spec"]["containers"][0]["image"];
    ensure!(
        image.as_str().is_some_and(|i| i.ends_with(":0.1.1")),
        "canary image {image}"
    );
    Ok(())
}

fn uninstall_removes_everything(cluster: &Cluster) -> Result<()> {
    helm_cluster(
        cluster,
        &["uninstall", RELEASE, "--wait", "--timeout", "60s"],
    )?;
    let kinds = "rollouts,analysisruns,analysistemplates,deployments,replicasets,statefulsets,\
                 pods,services,configmaps,serviceaccounts,jobs,poddisruptionbudgets,\
                 networkpolicies,horizontalpodautoscalers,scaledobjects,triggerauthentications,\
                 persistentvolumeclaims";
    wait_until("nothing of the release left", DEADLINE, || {
        let left = cluster.kubectl(
            User::Admin,
            &[
                "get",
                kinds,
                "-l",
                &format!("app.kubernetes.io/instance={RELEASE}"),
                "-o",
                "name",
            ],
        )?;
        // AnalysisRuns and ReplicaSets carry the pod labels, not the instance label.
        let owned = cluster.kubectl(
            User::Admin,
            &["get", "replicasets,analysisruns", "-o", "name"],
        )?;
        let left: Vec<&str> = left
            .lines()
            .chain(owned.lines())
            .filter(|l| !l.is_empty())
            .collect();
        if left.is_empty() {
            Ok(Ok(()))
        } else {
            Ok(Err(format!("{left:?}")))
        }
    })?;
    let secrets = cluster.kubectl(User::Admin, &["get", "secrets", "-o", "name"])?;
    ensure!(
        !secrets.contains("sh.helm.release"),
        "helm's release record left: {secrets}"
    );
    Ok(())
}

// ---- Policies (conftest) ------------------------------------------------------

fn conftest(args: &[&str], stdin: &str) -> Result<Output> {
    let policies = workspace_root().join("policies/rego");
    let mut all = args.to_vec();
    all.extend(["--policy", policies.to_str().context("policy path")?]);
    run_with(&bin("conftest"), &all, &[], stdin)
}

/// The API's workload in a render, broken on purpose by `mutate`.
fn broken_render(mutate: impl Fn(&mut Value)) -> Result<String> {
    let docs = documents(&render("values.yaml", &[])?)?;
    let mut rollout = find(&docs, "Rollout")
        .first()
        .map(|r| (*r).clone())
        .context("no Rollout")?;
    mutate(&mut rollout["spec"]["template"]["spec"]["containers"][0]);
    Ok(serde_json::to_string(&rollout)?)
}

#[test]
fn policies_pass_every_render_and_reject_broken_ones() -> Result<()> {
    if !tools_or_skip("policies_pass_every_render_and_reject_broken_ones")? {
        return Ok(());
    }
    ok("conftest verify", conftest(&["verify"], "")?)?;
    for (file, sets) in all_renders() {
        let manifest = render(file, &sets)?;
        ok(
            &format!("conftest test of {file} {sets:?}"),
            conftest(&["test", "--no-color", "-"], &manifest)?,
        )?;
    }
    type Mutation = fn(&mut Value);
    let broken: [(&str, Mutation); 5] = [
        ("images:", |c| {
            c["image"] = "ghcr.io/opsbox/opsbox-api:latest".into()
        }),
        ("resources:", |c| {
            c["resources"] = serde_json::json!({"requests": {"cpu": "1"}})
        }),
        ("probes:", |c| {
            c.as_object_mut().map(|m| m.remove("readinessProbe"));
        }),
        ("security:", |c| {
            c["securityContext"]["readOnlyRootFilesystem"] = false.into()
        }),
        ("security:", |c| {
            c["securityContext"]["runAsNonRoot"] = false.into()
        }),
    ];
    for (rule, mutate) in broken {
        let out = conftest(
            &["test", "--no-color", "--parser", "json", "-"],
            &broken_render(mutate)?,
        )?;
        let text = String::from_utf8_lossy(&out.stdout);
        ensure!(
            !out.status.success(),
            "{rule} accepted a broken render: {text}"
        );
        ensure!(
            text.lines()
                .any(|l| l.starts_with("FAIL") && l.contains(rule)),
            "{rule}: not the rule that failed: {text}"
        );
    }
    Ok(())
}

// ---- Namespace guardrails and RBAC (deploy/namespace) ---------------------------

/// `kubectl auth can-i` as `who` (impersonated by the admin) in the app namespace.
fn can(cluster: &Cluster, who: &[&str], verb: &str, resource: &str) -> Result<bool> {
    let (resource, sub) = resource.split_once('/').unwrap_or((resource, ""));
    let subresource = format!("--subresource={sub}");
    let mut args = vec!["auth", "can-i", verb, resource];
    if !sub.is_empty() {
        args.push(&subresource);
    }
    args.extend(who);
    let out = cluster.kubectl_output(User::Admin, &args, None)?;
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "yes")
}

fn namespace_guardrails_and_rbac(cluster: &Cluster) -> Result<()> {
    let dir = workspace_root().join("deploy/namespace");
    cluster.kubectl(User::Admin, &["apply", "-f", dir.to_str().context("path")?])?;
    let console: &[&str] = &["--as", "system:serviceaccount:opsbox:opsbox-console"];
    let viewer: &[&str] = &["--as", "someone", "--as-group", "opsbox:viewers"];
    let operator: &[&str] = &["--as", "someone", "--as-group", "opsbox:operators"];
    for (who, verb, resource, expected) in [
        (viewer, "list", "rollouts.argoproj.io", true),
        (viewer, "list", "scaledobjects.keda.sh", true),
        (viewer, "patch", "rollouts.argoproj.io", false),
        (viewer, "get", "secrets", false),
        (operator, "patch", "rollouts.argoproj.io/status", true),
        (operator, "delete", "pods", true),
        (operator, "delete", "rollouts.argoproj.io", false),
        (operator, "create", "deployments.apps", false),
        (operator, "get", "secrets", false),
        (console, "patch", "rollouts.argoproj.io", true),
        (console, "create", "pods/exec", false),
        (console, "list", "secrets", false),
    ] {
        let allowed = can(cluster, who, verb, resource)?;
        ensure!(
            allowed == expected,
            "{who:?} {verb} {resource}: allowed={allowed}"
        );
    }
    Ok(())
}

// ---- Kyverno policies and Argo CD Applications --------------------------------

/// The API server (with Kyverno's and Argo CD's CRDs) accepts every Kyverno
/// ClusterPolicy and Argo CD object of the repository. Their controllers are
/// not here: this checks the objects' schemas, not Kyverno's verdicts.
fn policies_and_gitops_manifests_are_accepted(cluster: &Cluster) -> Result<()> {
    cluster.kubectl(User::Admin, &["create", "namespace", "argocd"])?;
    let root = workspace_root();
    // (path, namespace): the fixture's `-n opsbox` comes first, a second `-n` wins.
    for (path, namespace, objects) in [
        (root.join("policies/kyverno"), "opsbox", 5),
        (root.join("deploy/argocd/root.yaml"), "argocd", 2),
        (root.join("deploy/argocd/apps"), "argocd", 3),
    ] {
        let path = path.to_str().context("path")?;
        let accepted = cluster
            .kubectl(
                User::Admin,
                &[
                    "apply",
                    "--dry-run=server",
                    "--server-side",
                    "-n",
                    namespace,
                    "-f",
                    path,
                    "-o",
                    "name",
                ],
            )
            .with_context(|| format!("dry run of {path}"))?;
        ensure!(
            accepted.lines().count() == objects,
            "{path}: accepted {accepted}"
        );
    }
    Ok(())
}

// ---- The PrometheusRule carries the generated rules ---------------------------

#[test]
fn prometheus_rule_carries_the_generated_rules() -> Result<()> {
    if !tools_or_skip("prometheus_rule_carries_the_generated_rules")? {
        return Ok(());
    }
    // What `opsbox slo rules` wrote (the drift test keeps it equal to the spec).
    let dir = workspace_root().join("observability/prometheus/rules");
    let mut generated = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    paths.sort();
    for path in paths {
        let file: Value = serde_yaml::from_str(&std::fs::read_to_string(&path)?)?;
        generated.extend(file["groups"].as_array().context("groups")?.iter().cloned());
    }
    ensure!(
        !generated.is_empty(),
        "no generated rule groups in {}",
        dir.display()
    );
    let docs = documents(&render("values.yaml", &["prometheusRule.enabled=true"])?)?;
    let rule = find(&docs, "PrometheusRule");
    let rule = rule.first().context("no PrometheusRule rendered")?;
    ensure!(
        rule["spec"]["groups"] == Value::Array(generated),
        "the PrometheusRule's groups differ from observability/prometheus/rules"
    );
    Ok(())
}

#[test]
fn without_argo_rollouts_no_argo_kind_is_rendered() -> Result<()> {
    if !tools_or_skip("without_argo_rollouts_no_argo_kind_is_rendered")? {
        return Ok(());
    }
    let docs = documents(&render("values.yaml", &["argoRollouts.enabled=false"])?)?;
    let argo: Vec<String> = docs
        .iter()
        .filter(|d| {
            d["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("argoproj.io/"))
        })
        .map(|d| format!("{} {}", d["kind"], d["metadata"]["name"]))
        .collect();
    ensure!(
        argo.is_empty(),
        "Argo Rollouts kinds without Argo Rollouts: {argo:?}"
    );
    ensure!(
        find(&docs, "Deployment").len() == 2,
        "the API and the worker as Deployments"
    );
    Ok(())
}
