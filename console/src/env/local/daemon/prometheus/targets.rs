//! Keeps Prometheus' file-discovered targets equal to the stack's instances: canaries
//! come and go with rollouts, and Prometheus re-reads the file as soon as it changes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use serde::Serialize;
use tokio::sync::watch;

use super::super::super::supervisor::{Instances, Workload};
use super::super::state::DaemonState;

/// One `file_sd_configs` target group: an address and its target labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct TargetGroup {
    targets: Vec<String>,
    labels: BTreeMap<&'static str, String>,
}

/// The target list as JSON: every API instance and worker with an address (whatever
/// its state: a down instance should show as `up == 0`), and the router's metrics.
pub fn render(
    instances: &Instances,
    addresses: &BTreeMap<String, SocketAddr>,
    router_metrics: Option<SocketAddr>,
) -> anyhow::Result<String> {
    let mut groups: Vec<TargetGroup> = instances
        .values()
        .filter(|instance| matches!(instance.workload, Workload::Api | Workload::Worker))
        .filter_map(|instance| {
            let addr = addresses.get(&instance.name)?;
            Some(TargetGroup {
                targets: vec![addr.to_string()],
                labels: BTreeMap::from([
                    ("instance", instance.name.clone()),
                    ("workload", instance.workload.as_str().to_owned()),
                    ("track", instance.track.as_str().to_owned()),
                    ("revision", instance.revision.clone()),
                ]),
            })
        })
        .collect();
    if let Some(addr) = router_metrics {
        // No `track`: the router's series name the track each request went to.
        groups.push(TargetGroup {
            targets: vec![addr.to_string()],
            labels: BTreeMap::from([
                ("instance", "router".to_owned()),
                ("workload", "router".to_owned()),
            ]),
        });
    }
    serde_json::to_string_pretty(&groups).context("cannot render the Prometheus targets")
}

/// Replaces the file in one rename, so Prometheus never reads half a list.
pub fn write(path: &Path, contents: &str) -> anyhow::Result<()> {
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, contents)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("cannot replace {}", path.display()))
}

/// Rewrites the target list whenever the instance set changes, until the daemon stops.
pub async fn follow(
    mut instances: watch::Receiver<Instances>,
    state: Arc<DaemonState>,
    path: PathBuf,
    mut written: String,
) {
    loop {
        let router_metrics = state.router.get().map(|router| router.metrics_addr);
        let rendered = render(
            &instances.borrow_and_update(),
            &state.addresses_now(),
            router_metrics,
        );
        match rendered {
            Ok(contents) if contents != written => match write(&path, &contents) {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "Prometheus targets updated");
                    written = contents;
                }
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "cannot update the Prometheus targets");
                }
            },
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %format!("{error:#}"), "Prometheus targets"),
        }
        tokio::select! {
            changed = instances.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = state.shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::local::supervisor::{InstanceSnapshot, InstanceSpec};
    use opsbox_common::config::Track;

    fn snapshot(name: &str, workload: Workload, track: Track, revision: &str) -> InstanceSnapshot {
        InstanceSnapshot::new(
            &InstanceSpec::new(name, workload, "/bin/true", "/dev/null")
                .track(track)
                .revision(revision),
        )
    }

    #[test]
    fn every_api_instance_and_worker_is_a_target_with_its_labels() {
        let instances: Instances = [
            snapshot("api-1", Workload::Api, Track::Stable, "v1"),
            snapshot("api-canary-1", Workload::Api, Track::Canary, "v2"),
            snapshot("worker-1", Workload::Worker, Track::Stable, "v1"),
            snapshot("prometheus", Workload::Prometheus, Track::Stable, ""),
        ]
        .into_iter()
        .map(|instance| (instance.name.clone(), instance))
        .collect();
        let addresses: BTreeMap<String, SocketAddr> = [
            ("api-1", "127.0.0.1:5001"),
            ("api-canary-1", "127.0.0.1:5002"),
            ("worker-1", "127.0.0.1:5003"),
            ("prometheus", "127.0.0.1:5004"),
        ]
        .into_iter()
        .map(|(name, addr)| (name.to_owned(), addr.parse().expect("addr")))
        .collect();
        let router: SocketAddr = "127.0.0.1:5005".parse().expect("addr");
        let text = render(&instances, &addresses, Some(router)).expect("rendered");
        let groups: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            groups,
            serde_json::json!([
                {"targets": ["127.0.0.1:5001"], "labels": {"instance": "api-1", "revision": "v1", "track": "stable", "workload": "api"}},
                {"targets": ["127.0.0.1:5002"], "labels": {"instance": "api-canary-1", "revision": "v2", "track": "canary", "workload": "api"}},
                {"targets": ["127.0.0.1:5003"], "labels": {"instance": "worker-1", "revision": "v1", "track": "stable", "workload": "worker"}},
                {"targets": ["127.0.0.1:5005"], "labels": {"instance": "router", "workload": "router"}},
            ])
        );
    }

    /// Polls `path` until `done` holds for its contents, for at most ten seconds.
    async fn file_until(path: &Path, done: impl Fn(&str) -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if done(&text) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out; {} holds:\n{text}",
                path.display()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_file_follows_instances_as_rollouts_add_and_remove_them() {
        use crate::env::local::supervisor::{Supervisor, SupervisorConfig};
        use crate::env::local::StateDir;

        let dir = tempfile::tempdir().expect("temp dir");
        let state_dir = StateDir::resolve(Some(dir.path())).expect("state dir");
        let state = DaemonState::new(state_dir, "token".to_owned());
        let supervisor = Supervisor::new(SupervisorConfig {
            stop_grace: std::time::Duration::from_secs(1),
            ..SupervisorConfig::default()
        })
        .expect("supervisor");
        let sleeper = |name: &str, track: Track| {
            InstanceSpec::new(
                name,
                Workload::Api,
                "/bin/sleep",
                dir.path().join(format!("{name}.log")),
            )
            .arg("60")
            .track(track)
            .revision("v1")
        };
        state.register_address("api-1", "127.0.0.1:5001".parse().expect("addr"));
        supervisor
            .add(sleeper("api-1", Track::Stable))
            .expect("added");
        let path = dir.path().join("targets.json");
        tokio::spawn(follow(
            supervisor.subscribe(),
            state.clone(),
            path.clone(),
            String::new(),
        ));
        file_until(&path, |text| text.contains("\"api-1\"")).await;

        state.register_address("api-canary-1", "127.0.0.1:5002".parse().expect("addr"));
        supervisor
            .add(sleeper("api-canary-1", Track::Canary))
            .expect("added");
        file_until(&path, |text| {
            text.contains("\"api-canary-1\"") && text.contains("\"canary\"")
        })
        .await;
        supervisor.remove("api-canary-1").await.expect("removed");
        file_until(&path, |text| {
            !text.contains("api-canary-1") && text.contains("api-1")
        })
        .await;

        state.shutdown.cancel();
        supervisor.stop_all().await;
    }

    #[test]
    fn the_file_is_replaced_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("targets.json");
        write(&path, "[]").expect("first");
        write(&path, "[{}]").expect("second");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "[{}]");
        assert!(!path.with_extension("json.partial").exists());
    }
}
