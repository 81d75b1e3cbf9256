//! The console's kubernetes environment on the cluster tier: with the chart installed
//! under the real Argo Rollouts controller, `opsbox --env kubernetes` drives the live
//! Rollout (new image → paused at weight 10 → promote → next step → abort → Degraded →
//! retry → promote --full → Healthy on the new revision → undo), kills a pod that its
//! ReplicaSet replaces, is refused by RBAC as `viewer` with the reason and a non-zero
//! exit, records an Event per action, shows a kwok pod's log, and runs a drill whose
//! kills act on the cluster while its traffic goes to `--api-url`.
//!
//! Needs `cargo build -p opsbox` first (`make test` builds every binary). Skips with one
//! line where the tier cannot run; OPSBOX_REQUIRE_CLUSTER=1 (CI) makes that a failure.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use opsbox_cluster::api_stand_in::ApiStandIn;
use opsbox_cluster::release::{admin_token, install_extra_crds, install_with, opsbox_exe, RELEASE};
use opsbox_cluster::tmux::Tmux;
use opsbox_cluster::{wait_until, Cluster, User};
use serde_json::Value;

/// Generous: on a loaded two-core machine the controller can lag far behind the API server.
const DEADLINE: Duration = Duration::from_secs(120);

/// Indefinite pauses, so each step waits for the console (the chart's own steps time
/// out and run analyses against a Prometheus the tier does not have).
const STEPS: &str = r#"rollout.steps=[{"setWeight":10},{"pause":{}},{"setWeight":50},{"pause":{}},{"setWeight":100}]"#;

struct Console<'a> {
    cluster: &'a Cluster,
    exe: PathBuf,
    records: tempfile::TempDir,
}

impl Console<'_> {
    fn run(&self, user: User, args: &[&str]) -> Result<Output> {
        Command::new(&self.exe)
            .args([
                "--env",
                "kubernetes",
                "--kubeconfig",
                self.cluster.kubeconfig(user)?,
            ])
            .args(["--namespace", self.cluster.namespace()])
            .arg("--state-dir")
            .arg(self.records.path())
            .args(args)
            .output()
            .with_context(|| format!("opsbox {args:?}"))
    }

    fn ok(&self, user: User, args: &[&str]) -> Result<String> {
        let out = self.run(user, args)?;
        ensure!(
            out.status.success(),
            "opsbox {args:?}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?)
    }

    fn rollout(&self) -> Result<Value> {
        Ok(serde_json::from_str(
            &self.ok(User::Operator, &["rollout", "status", "--json"])?,
        )?)
    }

    /// Waits until the console's reading of the rollout satisfies `done`.
    fn await_rollout(&self, what: &str, done: impl Fn(&Value) -> bool) -> Result<Value> {
        wait_until(what, DEADLINE, || {
            let status = self.rollout()?;
            Ok(if done(&status) {
                Ok(status)
            } else {
                Err(format!(
                    "phase={} step={} weight={}/{} stable={} canary={} message={}",
                    status["phase"],
                    status["current_step_index"],
                    status["canary_weight"],
                    status["set_weight"],
                    status["stable_revision"],
                    status["canary_revision"],
                    status["message"]
                ))
            })
        })
    }
}

#[test]
fn the_console_drives_the_rollout_on_the_control_plane() -> Result<()> {
    let Some(cluster) =
        Cluster::start_or_skip("the_console_drives_the_rollout_on_the_control_plane")?
    else {
        return Ok(());
    };
    let console = Console {
        cluster: &cluster,
        exe: opsbox_exe()?,
        records: tempfile::tempdir()?,
    };
    let result = drive(&console);
    if let Err(error) = &result {
        // What the controller made of it is usually the rest of the story.
        let log = std::fs::read_to_string(cluster.state_dir().join("logs/rollouts-controller.log"))
            .unwrap_or_default();
        let kept = std::env::temp_dir().join("opsbox-console-kubernetes-rollouts-controller.log");
        let _ = std::fs::write(&kept, &log);
        eprintln!("the whole controller log: {}", kept.display());
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        eprintln!(
            "failed: {error:#}\n{}\nrollouts-controller, last lines:\n{}",
            cluster.status_report(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    result
}

fn drive(console: &Console) -> Result<()> {
    let cluster = console.cluster;
    install_extra_crds(cluster)?;
    install_with(cluster, &["--set-json", STEPS])?;
    let healthy = console.await_rollout("the Rollout Healthy", |s| s["phase"] == "Healthy")?;
    let first = healthy["stable_revision"]
        .as_str()
        .context("stable revision")?
        .to_owned();
    ensure!(!first.is_empty(), "no stable revision in {healthy}");

    console.ok(User::Operator, &["rollout", "start", "--revision", "0.9.0"])?;
    console.await_rollout("paused at the first pause with weight 10", |s| {
        s["phase"] == "Paused"
            && s["current_step_index"] == 1
            && s["set_weight"] == 10
            && s["canary_revision"] == "0.9.0"
    })?;

    console.ok(User::Operator, &["rollout", "promote"])?;
    console.await_rollout("promoted to the next pause (weight 50)", |s| {
        s["phase"] == "Paused" && s["current_step_index"] == 3 && s["set_weight"] == 50
    })?;

    // viewer may read but not act: the reason names the user and the request.
    let refused = console.run(User::Viewer, &["rollout", "abort"])?;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    ensure!(!refused.status.success(), "viewer's abort succeeded");
    ensure!(
        stderr.contains("refused by RBAC (403)") && stderr.contains("viewer"),
        "viewer's refusal: {stderr}"
    );

    console.ok(User::Operator, &["rollout", "abort"])?;
    console.await_rollout("aborted and Degraded", |s| {
        s["phase"] == "Degraded" && s["aborted"] == true
    })?;

    console.ok(User::Operator, &["rollout", "retry"])?;
    console.await_rollout("retried, back at the first pause", |s| {
        s["aborted"] == false && s["phase"] == "Paused" && s["current_step_index"] == 1
    })?;

    console.ok(User::Operator, &["rollout", "promote", "--full"])?;
    console.await_rollout("Healthy on the new revision", |s| {
        s["phase"] == "Healthy" && s["stable_revision"] == "0.9.0"
    })?;

    console.ok(User::Operator, &["rollout", "undo"])?;
    console.await_rollout("the first revision back as the canary", |s| {
        s["canary_revision"] == first.as_str() && s["phase"] == "Paused"
    })?;

    // The undone revision is a canary paused at the first pause: promote it from the
    // console, in a terminal, as a person would.
    console_promotes_on_screen(console)?;
    pod_kill_is_replaced(console)?;
    events_name_the_operator(console)?;
    logs_show_a_pod_line(console)?;
    admin_calls_go_through_the_api_servers_proxies(console)?;
    slos_through_the_service_proxy_name_who_refused(console)?;
    drills_refuse_before_they_start(console)?;
    drills_run_through_the_api_url(console)?;
    autoscalers_show_in_the_status(console)?;
    outages_are_chaos_mesh_objects_with_their_duration(console)?;
    Ok(())
}

/// `stop` is a PodChaos pod-failure and `freeze` a NetworkChaos partition of the release's
/// datastore pods, each with its duration (Chaos Mesh ends it; no Chaos Mesh controller
/// runs here, so the objects are what is checked), listed by `chaos list`.
fn outages_are_chaos_mesh_objects_with_their_duration(console: &Console) -> Result<()> {
    let cluster = console.cluster;
    console.ok(
        User::Admin,
        &["chaos", "outage", "postgres", "--for", "45s"],
    )?;
    console.ok(
        User::Admin,
        &[
            "chaos", "outage", "redis", "--for", "1m", "--mode", "freeze",
        ],
    )?;
    let ns = cluster.namespace();
    let pod_chaos = cluster.json(User::Admin, &["get", "podchaos", "-n", ns])?;
    let stop = &pod_chaos["items"][0]["spec"];
    ensure!(
        stop["action"] == "pod-failure"
            && stop["duration"] == "45s"
            && stop["selector"]["labelSelectors"]["app.kubernetes.io/component"] == "postgres",
        "the PodChaos: {stop}"
    );
    let network_chaos = cluster.json(User::Admin, &["get", "networkchaos", "-n", ns])?;
    let freeze = &network_chaos["items"][0]["spec"];
    ensure!(
        freeze["action"] == "partition"
            && freeze["duration"] == "60s"
            && freeze["selector"]["labelSelectors"]["app.kubernetes.io/component"] == "redis",
        "the NetworkChaos: {freeze}"
    );
    let listed: Value =
        serde_json::from_str(&console.ok(User::Admin, &["chaos", "list", "--json"])?)?;
    let outages = listed["outages"].as_array().cloned().unwrap_or_default();
    ensure!(
        outages.len() == 2
            && outages
                .iter()
                .any(|o| o["dependency"] == "postgres" && o["mode"] == "stop")
            && outages
                .iter()
                .any(|o| o["dependency"] == "redis" && o["mode"] == "freeze"),
        "chaos list: {listed}"
    );
    Ok(())
}

/// The chart's KEDA ScaledObject for the worker is in the status; with KEDA's CRDs but
/// no KEDA operator here, it has no status, and the console says what that means.
fn autoscalers_show_in_the_status(console: &Console) -> Result<()> {
    let status: Value = serde_json::from_str(&console.ok(User::Operator, &["status", "--json"])?)?;
    let scalers = status["scalers"].as_array().cloned().unwrap_or_default();
    let worker = scalers
        .iter()
        .find(|scaler| scaler["kind"] == "KEDA" && scaler["workload"] == "worker")
        .with_context(|| format!("no KEDA scaler for the worker in {scalers:?}"))?;
    ensure!(
        worker["trigger"]
            .as_str()
            .is_some_and(|trigger| trigger.starts_with("redis list")),
        "the worker's trigger: {worker}"
    );
    ensure!(
        worker["problem"]
            .as_str()
            .is_some_and(|problem| problem.contains("KEDA operator")),
        "the worker's scaler problem: {worker}"
    );
    let table = console.ok(User::Operator, &["status"])?;
    ensure!(
        table.contains("autoscaler: worker KEDA"),
        "opsbox status: {table}"
    );
    Ok(())
}

/// The queue and faults go through the API server's service and pod proxies with the
/// token from the release's Secret. The API server here will not forward to a loopback
/// pod address (the only kind this machine's pods have), so what is checked is that the
/// real API server got the calls and the console says it cannot reach an API pod; the
/// mocked tier checks what a reachable API answers.
fn admin_calls_go_through_the_api_servers_proxies(console: &Console) -> Result<()> {
    let queue = console.run(User::Operator, &["queue"])?;
    let stderr = String::from_utf8_lossy(&queue.stderr);
    ensure!(
        !queue.status.success(),
        "the queue read succeeded: {stderr}"
    );
    ensure!(
        stderr.contains("through the service proxy to opsbox-api")
            && stderr.contains("cannot reach an API pod"),
        "opsbox queue: {stderr}"
    );

    let fault = ["chaos", "fault", "--error-rate", "0.5", "--for", "30s"];
    let refused = console.run(User::Operator, &fault)?;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    // The test cluster's operator may not `update pods/proxy`: the API server's 403.
    ensure!(
        !refused.status.success()
            && stderr.contains("refused by RBAC (403)")
            && stderr.contains("pods/proxy"),
        "operator's fault: {stderr}"
    );
    let unreachable = console.run(User::Admin, &fault)?;
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    ensure!(
        !unreachable.status.success()
            && stderr.contains("no API pod took the fault")
            && stderr.contains("through the pod proxy"),
        "admin's fault: {stderr}"
    );
    Ok(())
}

/// `--prometheus-service` reads through the API server's service proxy: the real API
/// server's refusals come back as its own, with the reason (no Prometheus runs here;
/// the mocked tier reads SLOs through the same path).
fn slos_through_the_service_proxy_name_who_refused(console: &Console) -> Result<()> {
    let slo = |user| {
        let out = console.run(
            user,
            &[
                "--prometheus-service",
                "monitoring/prometheus-operated:9090",
                "slo",
            ],
        )?;
        ensure!(
            !out.status.success(),
            "opsbox slo succeeded without a Prometheus"
        );
        Ok(String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let viewer = slo(User::Viewer)?;
    ensure!(
        viewer.contains(
            "did not forward to Prometheus at service monitoring/prometheus-operated:9090"
        ) && viewer.contains("refused by RBAC (403)")
            && viewer.contains("services/proxy"),
        "viewer's SLOs: {viewer}"
    );
    let admin = slo(User::Admin)?;
    ensure!(
        admin.contains("not found (404)") && admin.contains("prometheus-operated"),
        "admin's SLOs: {admin}"
    );
    Ok(())
}

/// The drill files the repository ships.
fn drills_dir() -> Result<String> {
    let drills =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../observability/drills");
    Ok(drills.to_str().context("a UTF-8 path")?.to_owned())
}

/// Without `--api-url` a drill's probes and load have no path into a cluster: it
/// refuses before its first step, with the reason and a non-zero exit, and nothing is
/// touched.
fn drills_refuse_before_they_start(console: &Console) -> Result<()> {
    let drills = drills_dir()?;
    let pods_before = worker_pods(console.cluster)?;
    let out = console.run(
        User::Operator,
        &["drill", "run", "worker-crash", "--drills-dir", &drills],
    )?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        !out.status.success()
            && stderr.contains("drill worker-crash cannot run here")
            && stderr.contains("--api-url"),
        "opsbox drill run: {stderr}"
    );
    ensure!(
        worker_pods(console.cluster)? == pods_before,
        "a refused drill changed the worker pods"
    );
    Ok(())
}

/// With `--api-url` the same drill runs: its two kills delete the release's worker pods
/// (their ReplicaSet replaces them and the drill waits until all run again), its probes
/// and load go to the URL, and its queue depth and task census come from the API there
/// with the token the console read from the release's Secret. Behind the URL is what a
/// port-forward would reach ([`ApiStandIn`]: kwok's pods run nothing).
fn drills_run_through_the_api_url(console: &Console) -> Result<()> {
    let logs = tempfile::tempdir()?;
    let api = ApiStandIn::start(&console.exe, &admin_token(), logs.path())?;
    let drills = drills_dir()?;
    let pods_before = worker_pods(console.cluster)?;
    let out = console.run(
        User::Operator,
        &[
            "--api-url",
            api.url(),
            "drill",
            "run",
            "worker-crash",
            "--drills-dir",
            &drills,
            "--json",
        ],
    )?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.success(),
        "opsbox drill run --api-url: {}\n{stdout}\n{stderr}",
        out.status
    );
    let report: Value = serde_json::from_str(&stdout).context("the drill's JSON report")?;
    ensure!(report["passed"] == true, "the drill failed: {report:#}");
    let killed: Vec<String> = report["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|step| step["detail"].as_str()?.strip_prefix("killed "))
        .map(str::to_owned)
        .collect();
    ensure!(killed.len() == 2, "two kills expected: {report:#}");
    // The cluster's pods: the first was there before, none of them is there now.
    let now = worker_pods(console.cluster)?;
    ensure!(
        pods_before.contains(&killed[0])
            && killed.iter().all(|pod| !now.contains(pod))
            && now.len() == pods_before.len(),
        "killed {killed:?}, worker pods before {pods_before:?}, now {now:?}"
    );
    let traffic = &report["traffic"];
    let tasks = &report["tasks"];
    ensure!(
        traffic["load_requests"].as_u64() > Some(0)
            && traffic["probe_requests"].as_u64() > Some(0)
            && traffic["load_failures"] == 0
            && tasks["created"].as_u64() > Some(0)
            && tasks["lost"] == 0,
        "traffic {traffic}, tasks {tasks}"
    );
    eprintln!(
        "worker-crash on the cluster through --api-url: killed {killed:?}; traffic {traffic}; tasks {tasks}; recovery {}",
        report["recovery"]
    );

    // The queue is read there too (the token from the Secret, as the operator may read
    // it), and the status names the URL as the release's ingress with its API pods.
    let queue: Value = serde_json::from_str(
        &console.ok(User::Operator, &["--api-url", api.url(), "queue", "--json"])?,
    )?;
    ensure!(
        queue["overview"]["depth"]["ready"].is_u64() && queue["dead"].is_object(),
        "opsbox queue --json: {queue}"
    );
    let status = console.ok(User::Operator, &["--api-url", api.url(), "status"])?;
    ensure!(
        status.contains(&format!("router {}: stable", api.url()))
            && status.contains("queue: ready "),
        "opsbox status: {status}"
    );
    Ok(())
}

fn console_promotes_on_screen(console: &Console) -> Result<()> {
    let cluster = console.cluster;
    let command = format!(
        "{} --env kubernetes --kubeconfig {} --namespace {} --state-dir {}",
        console.exe.display(),
        cluster.kubeconfig(User::Operator)?,
        cluster.namespace(),
        console.records.path().display()
    );
    let tmux = Tmux::start("opsbox-kube", 160, 48, &command)?;
    tmux.await_line("the console connected", &["kubernetes connected"], DEADLINE)?;
    // Overview → SLO → Rollout.
    tmux.press("Tab")?;
    tmux.press("Tab")?;
    tmux.await_line(
        "the rollout's steps, paused at the first pause",
        &["2 pause", "current"],
        DEADLINE,
    )?;
    // The pods, as ready replicas per revision.
    tmux.await_line("the canary's pods", &["canary 1/1"], DEADLINE)?;
    tmux.await_line("the stable pods", &["stable 2/2"], DEADLINE)?;
    tmux.press("p")?;
    tmux.await_line("the confirmation", &["Promote the api rollout"], DEADLINE)?;
    tmux.press("y")?;
    tmux.await_line(
        "the step advanced on screen",
        &["4 pause", "current"],
        DEADLINE,
    )?;
    tmux.press("q")?;
    Ok(())
}

fn worker_pods(cluster: &Cluster) -> Result<Vec<String>> {
    let pods = cluster.json(
        User::Viewer,
        &[
            "get",
            "pods",
            "-l",
            &format!("app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component=worker"),
        ],
    )?;
    Ok(pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|pod| pod["metadata"]["deletionTimestamp"].is_null())
        .filter_map(|pod| pod["metadata"]["name"].as_str().map(str::to_owned))
        .collect())
}

fn pod_kill_is_replaced(console: &Console) -> Result<()> {
    let cluster = console.cluster;
    let before = worker_pods(cluster)?;
    ensure!(!before.is_empty(), "no worker pods");
    let killed = console.ok(User::Operator, &["chaos", "kill", &before[0]])?;
    ensure!(killed.contains(&before[0]), "kill said: {killed}");
    wait_until("the killed pod replaced", DEADLINE, || {
        let now = worker_pods(cluster)?;
        Ok(if !now.contains(&before[0]) && now.len() == before.len() {
            Ok(())
        } else {
            Err(format!("worker pods {now:?}, killed {}", before[0]))
        })
    })
}

fn events_name_the_operator(console: &Console) -> Result<()> {
    let events = console.cluster.json(User::Viewer, &["get", "events"])?;
    let ours: Vec<(String, String)> = events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|event| event["reportingComponent"] == "opsbox")
        .map(|event| {
            (
                event["reason"].as_str().unwrap_or_default().to_owned(),
                event["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for reason in [
        "OpsboxStart",
        "OpsboxPromote",
        "OpsboxAbort",
        "OpsboxRetry",
        "OpsboxUndo",
        "OpsboxKill",
    ] {
        let found = ours.iter().find(|(r, _)| r == reason);
        ensure!(found.is_some(), "no {reason} Event among {ours:?}");
        let (_, message) = found.expect("found");
        ensure!(message.contains("operator"), "{reason}: {message}");
    }
    // viewer may not create Events either: its refused abort is in the operator's
    // own audit log, with the API server's reason.
    let audit = console.ok(User::Viewer, &["audit", "--json"])?;
    ensure!(
        audit
            .lines()
            .any(|line| line.contains("rollout.abort") && line.contains("403")),
        "no refused abort in the audit log: {audit}"
    );
    Ok(())
}

fn logs_show_a_pod_line(console: &Console) -> Result<()> {
    let out = console.ok(User::Operator, &["logs", "--app", "worker"])?;
    ensure!(
        out.contains("opsbox pod log: line 1") && out.contains("opsbox pod log: line 2"),
        "opsbox logs: {out}"
    );
    Ok(())
}
