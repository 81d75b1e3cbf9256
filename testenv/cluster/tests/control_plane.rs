//! The cluster tier, end to end, on one cluster (a start-up costs seconds of
//! both cores): the server's version, RBAC of the three users, `kubectl logs`
//! from kwok, Argo Rollouts' canary driven by the real controller, the
//! network rule (every socket on loopback) and a teardown that leaves nothing.
//!
//! Skips with one line where the tier's binaries are not built and cannot
//! be (no Go); OPSBOX_REQUIRE_CLUSTER=1 (CI) makes that a failure.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use opsbox_cluster::{wait_until, workspace_root, Cluster, User};
use serde_json::Value;

const ROLLOUT: &str = "rollout-canary";
const DEADLINE: Duration = Duration::from_secs(60);

#[test]
fn control_plane_rollouts_rbac_logs_and_teardown() -> Result<()> {
    let Some(cluster) = Cluster::start_or_skip("control_plane_rollouts_rbac_logs_and_teardown")?
    else {
        return Ok(());
    };
    let result: Result<()> = (|| {
        server_reports_the_pinned_version(&cluster)?;
        rbac_of_viewer_and_operator(&cluster)?;
        canary_rollout_pauses_promotes_and_aborts(&cluster)?;
        kubectl_logs_come_from_the_configured_file(&cluster)?;
        every_socket_stays_on_loopback(&cluster)?;
        Ok(())
    })();
    if let Err(e) = &result {
        eprintln!("failed: {e:#}\n{}", cluster.status_report());
    }
    result?;
    teardown_leaves_no_process_and_no_port(cluster)
}

fn server_reports_the_pinned_version(cluster: &Cluster) -> Result<()> {
    let version = cluster.json(User::Admin, &["version"])?;
    let pinned = pinned("KUBERNETES_VERSION")?;
    ensure!(
        version["serverVersion"]["gitVersion"] == pinned.as_str(),
        "server version {} (pinned {pinned})",
        version["serverVersion"]
    );
    ensure!(
        version["clientVersion"]["gitVersion"] == pinned.as_str(),
        "kubectl {}",
        version["clientVersion"]
    );
    Ok(())
}

fn pinned(name: &str) -> Result<String> {
    let text = std::fs::read_to_string(workspace_root().join("testenv/versions.env"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .map(str::to_string)
        .with_context(|| format!("{name} not in testenv/versions.env"))
}

/// A SelfSubjectAccessReview as `user`: is `verb` on group/resource allowed?
fn allowed(
    cluster: &Cluster,
    user: User,
    verb: &str,
    group: &str,
    resource: &str,
    sub: &str,
) -> Result<bool> {
    let review = serde_json::json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {
            "namespace": cluster.namespace(), "verb": verb, "group": group,
            "resource": resource, "subresource": sub,
        }},
    });
    let out = cluster.kubectl_stdin(
        user,
        &[
            "create",
            "--raw",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            "-f",
            "-",
        ],
        &review.to_string(),
    )?;
    let v: Value = serde_json::from_str(&out)?;
    v["status"]["allowed"].as_bool().context("status.allowed")
}

fn rbac_of_viewer_and_operator(cluster: &Cluster) -> Result<()> {
    let argo = "argoproj.io";
    ensure!(
        !allowed(cluster, User::Viewer, "patch", argo, "rollouts", "")?,
        "viewer may patch rollouts"
    );
    ensure!(
        !allowed(cluster, User::Viewer, "patch", argo, "rollouts", "status")?,
        "viewer may patch rollouts/status"
    );
    ensure!(
        !allowed(cluster, User::Viewer, "delete", "", "pods", "")?,
        "viewer may delete pods"
    );
    // `view` includes Argo Rollouts' aggregated role: the viewer reads rollouts.
    ensure!(
        allowed(cluster, User::Viewer, "list", argo, "rollouts", "")?,
        "viewer may not list rollouts"
    );
    ensure!(
        allowed(cluster, User::Operator, "patch", argo, "rollouts", "")?,
        "operator may not patch rollouts"
    );
    ensure!(
        allowed(cluster, User::Operator, "patch", argo, "rollouts", "status")?,
        "operator may not patch rollouts/status"
    );
    ensure!(
        allowed(cluster, User::Operator, "delete", "", "pods", "")?,
        "operator may not delete pods"
    );
    ensure!(
        !allowed(cluster, User::Operator, "delete", argo, "rollouts", "")?,
        "operator may delete rollouts"
    );
    ensure!(
        !allowed(cluster, User::Operator, "create", "apps", "deployments", "")?,
        "operator may create deployments"
    );
    // And the API server enforces it, not only answers reviews.
    let denied = cluster.kubectl_output(
        User::Viewer,
        &["label", "namespace", cluster.namespace(), "opsbox/probe=1"],
        None,
    )?;
    ensure!(!denied.status.success(), "viewer could label a namespace");
    ensure!(
        String::from_utf8_lossy(&denied.stderr).contains("forbidden"),
        "viewer's denial: {}",
        String::from_utf8_lossy(&denied.stderr)
    );
    Ok(())
}

fn manifest() -> PathBuf {
    match std::env::var_os("OPSBOX_SHARED_FIXTURES") {
        Some(dir) => PathBuf::from(dir).join("argo-rollouts/rollout-canary.yaml"),
        None => workspace_root().join("testenv/cluster/fixtures/rollout-canary.yaml"),
    }
}

fn rollout(cluster: &Cluster) -> Result<Value> {
    cluster.json(User::Viewer, &["get", "rollout", ROLLOUT])
}

/// The ReplicaSet of the rollout's pods with template hash `hash`: (spec, ready) replicas.
fn replicas_of(cluster: &Cluster, hash: &str) -> Result<(i64, i64)> {
    let list = cluster.json(
        User::Viewer,
        &[
            "get",
            "replicasets",
            "-l",
            &format!("rollouts-pod-template-hash={hash}"),
        ],
    )?;
    let rs = list["items"]
        .get(0)
        .with_context(|| format!("no ReplicaSet with hash {hash}"))?;
    Ok((
        rs["spec"]["replicas"].as_i64().unwrap_or(0),
        rs["status"]["readyReplicas"].as_i64().unwrap_or(0),
    ))
}

fn summary(r: &Value) -> String {
    let s = &r["status"];
    format!(
        "phase={} step={} abort={} updated={} available={} pause={} message={}",
        s["phase"],
        s["currentStepIndex"],
        s["abort"],
        s["updatedReplicas"],
        s["availableReplicas"],
        s["pauseConditions"],
        s["message"]
    )
}

fn canary_rollout_pauses_promotes_and_aborts(cluster: &Cluster) -> Result<()> {
    let manifest = manifest();
    let manifest = manifest.to_str().context("manifest path")?;
    cluster.kubectl(User::Admin, &["apply", "-f", manifest])?;
    let replicas = rollout(cluster)?["spec"]["replicas"]
        .as_i64()
        .context("spec.replicas")?;
    let steps = rollout(cluster)?["spec"]["strategy"]["canary"]["steps"].clone();
    let first_pause = steps
        .as_array()
        .and_then(|s| {
            s.iter().position(|step| {
                step.get("pause")
                    .is_some_and(|p| p.get("duration").is_none())
            })
        })
        .context("a `pause: {}` step")?;
    let weight_before_pause = steps
        .as_array()
        .and_then(|s| {
            s[..first_pause]
                .iter()
                .rev()
                .find_map(|step| step["setWeight"].as_i64())
        })
        .context("a setWeight before the pause")?;

    // Pods Running and Ready on kwok's nodes (scheduled by the scheduler,
    // created by the ReplicaSet controller), the rollout Healthy.
    wait_until("the rollout to be Healthy", DEADLINE, || {
        let r = rollout(cluster)?;
        let s = &r["status"];
        Ok(
            if s["phase"] == "Healthy" && s["availableReplicas"].as_i64() == Some(replicas) {
                Ok(())
            } else {
                Err(summary(&r))
            },
        )
    })?;
    let pods = cluster.json(
        User::Viewer,
        &["get", "pods", "-l", &format!("app={ROLLOUT}")],
    )?;
    let pods = pods["items"].as_array().context("pods")?;
    ensure!(
        pods.len() as i64 == replicas,
        "{} pods, want {replicas}",
        pods.len()
    );
    for pod in pods {
        let name = &pod["metadata"]["name"];
        ensure!(
            pod["status"]["phase"] == "Running",
            "pod {name}: {}",
            pod["status"]["phase"]
        );
        let ready = pod["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        });
        ensure!(
            ready,
            "pod {name} not Ready: {}",
            pod["status"]["conditions"]
        );
        let node = pod["spec"]["nodeName"].as_str().unwrap_or("");
        ensure!(
            node.starts_with("kwok-node-"),
            "pod {name} on node {node:?}"
        );
        let ip: IpAddr = pod["status"]["podIP"].as_str().unwrap_or("").parse()?;
        ensure!(
            ip.is_loopback(),
            "pod {name} has IP {ip}, outside 127.0.0.0/8"
        );
    }
    let stable_hash = rollout(cluster)?["status"]["stableRS"]
        .as_str()
        .context("stableRS")?
        .to_string();

    // A new image tag (patched by the operator): the canary stops at the
    // first `pause: {}` with the weight of the step before it.
    let patch = r#"[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"argoproj/rollouts-demo:yellow"}]"#;
    cluster.kubectl(
        User::Operator,
        &["patch", "rollout", ROLLOUT, "--type", "json", "-p", patch],
    )?;
    let canary_at = |weight: i64| ((replicas * weight) as f64 / 100.0).ceil() as i64;
    let canary_hash = wait_until(
        "the rollout to pause at the first pause step",
        DEADLINE,
        || {
            let r = rollout(cluster)?;
            let s = &r["status"];
            let paused = s["phase"] == "Paused"
                && s["currentStepIndex"].as_i64() == Some(first_pause as i64)
                && s["pauseConditions"][0]["reason"] == "CanaryPauseStep";
            let hash = s["currentPodHash"].as_str().unwrap_or("").to_string();
            if paused && hash != stable_hash {
                let (spec, ready) = replicas_of(cluster, &hash)?;
                if spec == canary_at(weight_before_pause) && ready == spec {
                    return Ok(Ok(hash));
                }
            }
            Ok(Err(summary(&r)))
        },
    )?;
    ensure!(
        rollout(cluster)?["status"]["stableRS"] == stable_hash.as_str(),
        "the stable ReplicaSet changed while paused"
    );

    // Promote: on to the next setWeight and its timed pause.
    cluster.rollouts_plugin(User::Operator, &["promote", ROLLOUT])?;
    let next_weight = steps[first_pause + 1]["setWeight"]
        .as_i64()
        .context("setWeight after the pause")?;
    wait_until(
        "the promoted rollout to reach the next step",
        DEADLINE,
        || {
            let r = rollout(cluster)?;
            let step = r["status"]["currentStepIndex"].as_i64().unwrap_or(0);
            let (spec, ready) = replicas_of(cluster, &canary_hash)?;
            Ok(
                if step > first_pause as i64 + 1 && spec >= canary_at(next_weight) && ready == spec
                {
                    Ok(())
                } else {
                    Err(format!("{} canary={spec}/{ready}", summary(&r)))
                },
            )
        },
    )?;

    // Abort: Degraded, the canary scaled away, the stable ReplicaSet whole.
    cluster.rollouts_plugin(User::Operator, &["abort", ROLLOUT])?;
    wait_until("the aborted rollout to be Degraded", DEADLINE, || {
        let r = rollout(cluster)?;
        let s = &r["status"];
        let (canary, _) = replicas_of(cluster, &canary_hash)?;
        let (_, stable_ready) = replicas_of(cluster, &stable_hash)?;
        Ok(
            if s["abort"] == true
                && s["phase"] == "Degraded"
                && canary == 0
                && stable_ready == replicas
            {
                Ok(())
            } else {
                Err(format!(
                    "{} canary={canary} stable_ready={stable_ready}",
                    summary(&r)
                ))
            },
        )
    })?;
    let message = rollout(cluster)?["status"]["message"]
        .as_str()
        .unwrap_or("")
        .to_string();
    ensure!(
        message.contains("RolloutAborted"),
        "aborted rollout's message: {message:?}"
    );
    Ok(())
}

fn kubectl_logs_come_from_the_configured_file(cluster: &Cluster) -> Result<()> {
    // The file is in the CRI log format: time, stream, tag, message.
    let file = std::fs::read_to_string(cluster.env("OPSBOX_CLUSTER_POD_LOG")?)?;
    let expected: String = file
        .lines()
        .filter_map(|l| l.splitn(4, ' ').nth(3))
        .map(|m| format!("{m}\n"))
        .collect();
    ensure!(!expected.is_empty(), "no log lines in {file:?}");
    let pods = cluster.json(
        User::Viewer,
        &["get", "pods", "-l", &format!("app={ROLLOUT}")],
    )?;
    let pod = pods["items"][0]["metadata"]["name"]
        .as_str()
        .context("a pod")?
        .to_string();
    // The API server fetches them from kwok's kubelet endpoint on 127.0.0.1.
    let logs = cluster.kubectl(User::Operator, &["logs", &pod, "-c", "rollouts-demo"])?;
    ensure!(
        logs == expected,
        "kubectl logs {pod}: {logs:?}, want {expected:?}"
    );
    Ok(())
}

// ---- sockets --------------------------------------------------------------

#[derive(Debug)]
struct Socket {
    local: (IpAddr, u16),
    remote: (IpAddr, u16),
    listening: bool,
    inode: u64,
}

fn parse_addr(hex: &str, v6: bool) -> Result<(IpAddr, u16)> {
    let (ip, port) = hex.split_once(':').context("address")?;
    let port = u16::from_str_radix(port, 16)?;
    let ip = if v6 {
        let mut bytes = [0u8; 16];
        for (i, chunk) in bytes.chunks_mut(4).enumerate() {
            let word = u32::from_str_radix(&ip[i * 8..i * 8 + 8], 16)?;
            chunk.copy_from_slice(&word.to_ne_bytes());
        }
        let v6 = Ipv6Addr::from(bytes);
        match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        }
    } else {
        IpAddr::V4(Ipv4Addr::from(u32::from_str_radix(ip, 16)?.to_ne_bytes()))
    };
    Ok((ip, port))
}

/// Every TCP socket of the machine (/proc/net/tcp and tcp6).
fn tcp_sockets() -> Result<Vec<Socket>> {
    let mut all = Vec::new();
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                continue;
            }
            all.push(Socket {
                local: parse_addr(f[1], v6)?,
                remote: parse_addr(f[2], v6)?,
                listening: f[3] == "0A",
                inode: f[9].parse()?,
            });
        }
    }
    Ok(all)
}

/// The socket inodes a process holds.
fn socket_inodes(pid: u32) -> BTreeSet<u64> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return BTreeSet::new();
    };
    fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let t = target.to_string_lossy().into_owned();
            t.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

/// The network rule: every connection of every component has both ends in
/// 127.0.0.0/8. Listeners are on 127.0.0.1, except Argo Rollouts' metrics
/// and healthz servers, which Argo Rollouts (v1.9 and v1.10) binds to the wildcard address
/// (hard-coded "0.0.0.0:%d"); they only accept, and their ports are free ones.
fn every_socket_stays_on_loopback(cluster: &Cluster) -> Result<()> {
    let sockets = tcp_sockets()?;
    let rollouts_pid: u32 =
        std::fs::read_to_string(cluster.state_dir().join("run/rollouts-controller.pid"))?
            .trim()
            .parse()?;
    let mut checked = 0;
    for pid in cluster.pids()? {
        let inodes = socket_inodes(pid);
        for s in sockets.iter().filter(|s| inodes.contains(&s.inode)) {
            checked += 1;
            if s.listening {
                let wildcard_ok = pid == rollouts_pid && s.local.0.is_unspecified();
                ensure!(
                    s.local.0.is_loopback() || wildcard_ok,
                    "pid {pid} listens on {:?}, outside loopback",
                    s.local
                );
            } else {
                ensure!(
                    s.local.0.is_loopback() && s.remote.0.is_loopback(),
                    "pid {pid} has a connection {:?} -> {:?} outside loopback",
                    s.local,
                    s.remote
                );
            }
        }
    }
    ensure!(
        checked > 0,
        "no socket of the cluster's processes found in /proc"
    );
    Ok(())
}

fn teardown_leaves_no_process_and_no_port(mut cluster: Cluster) -> Result<()> {
    let pids = cluster.pids()?;
    let ports: BTreeSet<u16> = cluster.ports()?.into_iter().collect();
    ensure!(pids.len() == 6, "pids: {pids:?}");
    ensure!(ports.len() >= 4, "ports: {ports:?}");
    let listening = |ports: &BTreeSet<u16>| -> Result<Vec<u16>> {
        Ok(tcp_sockets()?
            .into_iter()
            .filter(|s| s.listening && ports.contains(&s.local.1))
            .map(|s| s.local.1)
            .collect())
    };
    ensure!(
        !listening(&ports)?.is_empty(),
        "no cluster port listened before teardown"
    );
    cluster.stop()?;
    // A process of a component's group (its pid is the group id) still there?
    let mut left = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let name = entry?.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the command name (which may hold spaces): state, ppid, pgrp.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let (state, pgrp) = (
            f.first().copied().unwrap_or(""),
            f.get(2).and_then(|p| p.parse::<u32>().ok()),
        );
        if state != "Z" && (pids.contains(&pid) || pgrp.is_some_and(|g| pids.contains(&g))) {
            left.push(format!(
                "{pid} ({})",
                stat.split_whitespace().nth(1).unwrap_or("?")
            ));
        }
    }
    if !left.is_empty() {
        bail!("processes left after down: {left:?}");
    }
    let still = listening(&ports)?;
    ensure!(
        still.is_empty(),
        "ports still listening after down: {still:?}"
    );
    Ok(())
}
