//! The console's kubernetes environment at scale: on the cluster tier's real control
//! plane, the chart installed and 50 ReplicaSets × 100 kwok pods of OpsBox's worker in
//! the namespace (5,000 pods the console watches, the size that makes k9s unusable in
//! its issues #1462 and #3245), it measures, on a release build of `opsbox`:
//!
//! - the time from start to the first complete frame (the Overview counts every pod),
//!   read from the terminal in tmux;
//! - idle CPU over a minute with the watches running, from the process's own
//!   `/proc/<pid>/stat` ticks;
//! - resident memory (VmRSS and its peak VmHWM);
//! - a one-shot `opsbox --env kubernetes status --json` (list per kind), best and median.
//!
//! A frame's draw time is `cargo bench -p opsbox --bench console_render`.
//!
//! Run: `cargo build --release -p opsbox --bin opsbox && cargo bench -p opsbox-cluster
//! --bench console_scale` (OPSBOX_SCALE_SETS and OPSBOX_SCALE_PODS_PER_SET change the
//! size; OPSBOX_SCALE_IDLE_SECS the idle window).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use opsbox_cluster::release::install;
use opsbox_cluster::tmux::Tmux;
use opsbox_cluster::{wait_until, workspace_root, Cluster, User};
use serde_json::{json, Value};

/// kwok's nodes take 110 pods each, like a kubelet's default.
const PODS_PER_NODE: usize = 110;

fn setting(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(value) => value.parse().with_context(|| format!("{name}={value}")),
        Err(_) => Ok(default),
    }
}

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; a filter argument is not meaningful here.
    let sets = setting("OPSBOX_SCALE_SETS", 50)?;
    let per_set = setting("OPSBOX_SCALE_PODS_PER_SET", 100)?;
    let idle = Duration::from_secs(setting("OPSBOX_SCALE_IDLE_SECS", 60)? as u64);
    let exe = workspace_root().join("target/release/opsbox");
    ensure!(
        exe.is_file(),
        "{} is not built: cargo build --release -p opsbox --bin opsbox",
        exe.display()
    );
    // The controllers' default client limits (20 requests/s) would take minutes to
    // create 5,000 pods; the measurement is of the console, not of them.
    let cluster = Cluster::start_with_env(&[("OPSBOX_CLUSTER_QPS", "500")])?;
    install(&cluster)?;
    let started = Instant::now();
    populate(&cluster, sets, per_set)?;
    let workers = await_running_workers(&cluster, sets * per_set)?;
    eprintln!(
        "console_scale: {workers} worker pods running in {:.0?} ({sets} ReplicaSets)",
        started.elapsed()
    );

    let records = tempfile::tempdir()?;
    let one_shot = one_shot_status(&cluster, &exe, records.path())?;
    let console = Console::start(&cluster, &exe, records.path().into(), workers)?;
    let first_frame = console.first_frame;
    let idle_cpu = console.idle_cpu(idle)?;
    let (rss, peak) = memory(console.pid)?;
    drop(console);

    println!("| measure ({} pods, {sets} ReplicaSets) | value |", workers);
    println!("|---|---|");
    println!("| first complete frame (start → every pod counted) | {first_frame:.2?} |");
    println!(
        "| idle CPU over {idle:?}, watches running | {:.2}% of a core |",
        idle_cpu * 100.0
    );
    println!("| resident memory after the idle window | {rss} MiB (peak {peak} MiB) |");
    println!(
        "| `status --json` one-shot, best / median of {} | {:.2?} / {:.2?} |",
        one_shot.len(),
        one_shot[0],
        one_shot[one_shot.len() / 2]
    );
    Ok(())
}

/// Nodes enough for the pods, then the ReplicaSets (the real ReplicaSet controller
/// makes the pods, the real scheduler binds them, kwok runs them).
fn populate(cluster: &Cluster, sets: usize, per_set: usize) -> Result<()> {
    let nodes = (sets * per_set).div_ceil(PODS_PER_NODE);
    let mut items: Vec<Value> = (0..nodes)
        .map(|n| {
            json!({"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": format!("kwok-scale-{n}"),
                    "annotations": {"kwok.x-k8s.io/node": "fake"},
                    "labels": {"type": "kwok", "kubernetes.io/hostname": format!("kwok-scale-{n}")}}})
        })
        .collect();
    items.extend((0..sets).map(|n| {
        let labels = json!({"app.kubernetes.io/name": "opsbox",
            "app.kubernetes.io/component": "worker", "opsbox.dev/scale-set": n.to_string()});
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": format!("opsbox-scale-{n}"), "namespace": cluster.namespace(),
                "labels": labels},
            "spec": {"replicas": per_set,
                "selector": {"matchLabels": {"opsbox.dev/scale-set": n.to_string()}},
                "template": {"metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "worker",
                        "image": "ghcr.io/opsbox/opsbox-worker:scale"}]}}}})
    }));
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    cluster.kubectl_stdin(User::Admin, &["create", "-f", "-"], &list.to_string())?;
    Ok(())
}

/// Waits until every worker pod (the chart's and the scale's) is Running; their count.
fn await_running_workers(cluster: &Cluster, scale: usize) -> Result<usize> {
    wait_until("the scale pods to run", Duration::from_secs(900), || {
        let pods = cluster.json(
            User::Admin,
            &[
                "get",
                "pods",
                "-l",
                "app.kubernetes.io/component=worker",
                "-n",
                cluster.namespace(),
            ],
        )?;
        let items = pods["items"].as_array().cloned().unwrap_or_default();
        let running = items
            .iter()
            .filter(|pod| pod["status"]["phase"] == "Running")
            .count();
        Ok(if running >= scale && running == items.len() {
            Ok(running)
        } else {
            Err(format!("{running} of {} running", items.len()))
        })
    })
}

fn console_args(cluster: &Cluster, records: &Path) -> Result<Vec<String>> {
    Ok(vec![
        "--env".into(),
        "kubernetes".into(),
        "--kubeconfig".into(),
        cluster.kubeconfig(User::Operator)?.to_owned(),
        "--namespace".into(),
        cluster.namespace().to_owned(),
        "--state-dir".into(),
        records.display().to_string(),
    ])
}

/// Wall times of `status --json`, sorted.
fn one_shot_status(cluster: &Cluster, exe: &Path, records: &Path) -> Result<Vec<Duration>> {
    let mut times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let out = Command::new(exe)
            .args(console_args(cluster, records)?)
            .args(["status", "--json"])
            .output()?;
        times.push(start.elapsed());
        ensure!(
            out.status.success(),
            "status --json: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    times.sort();
    Ok(times)
}

struct Console {
    _tmux: Tmux,
    pid: u32,
    first_frame: Duration,
}

impl Console {
    fn start(cluster: &Cluster, exe: &Path, records: PathBuf, workers: usize) -> Result<Self> {
        let command = format!(
            "exec {} {}",
            exe.display(),
            console_args(cluster, &records)?.join(" ")
        );
        let counted = format!("{workers}/{workers} up");
        let start = Instant::now();
        let tmux = Tmux::start("opsbox-scale", 200, 50, &command)?;
        // Polled every 20 ms: the granularity of the figure, and little load on the
        // two cores the console shares with the control plane.
        let first_frame = loop {
            let screen = tmux.screen()?;
            if screen
                .lines()
                .any(|line| line.contains("worker") && line.contains(&counted))
            {
                break start.elapsed();
            }
            ensure!(
                start.elapsed() < Duration::from_secs(60),
                "no frame counted {workers} workers within a minute; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let pid = tmux.pid()?;
        Ok(Self {
            _tmux: tmux,
            pid,
            first_frame,
        })
    }

    /// CPU time over `window` as a fraction of one core.
    fn idle_cpu(&self, window: Duration) -> Result<f64> {
        let before = cpu_ticks(self.pid)?;
        let start = Instant::now();
        std::thread::sleep(window);
        let ticks = cpu_ticks(self.pid)? - before;
        // USER_HZ is 100 on Linux.
        Ok(ticks as f64 / 100.0 / start.elapsed().as_secs_f64())
    }
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) closes with ')'.
    let rest = stat.rsplit_once(')').context("stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Ok(fields[11].parse::<u64>()? + fields[12].parse::<u64>()?)
}

/// VmRSS and VmHWM in MiB.
fn memory(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> Result<u64> {
        let line = status
            .lines()
            .find(|line| line.starts_with(name))
            .with_context(|| format!("{name} in /proc/{pid}/status"))?;
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .context("a number")?
            .parse()?;
        Ok(kib / 1024)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}
