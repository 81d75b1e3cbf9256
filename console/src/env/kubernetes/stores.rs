//! Reflector stores of the release's objects: one watch per kind, selected by the chart's
//! labels, re-listing on expired resource versions and reconnecting with backoff
//! (kube-runtime's watcher). A reading is computed from the stores, so an idle console
//! costs no requests however many pods the namespace holds.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{DynamicObject, ListParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::argo::{self, AnalysisRun, Rollout};
use super::snapshot::Snapshot;
use super::workload::{self, API_SELECTOR, WORKLOAD_SELECTOR};
use super::{errors, rollout_events, scalers, Cluster};

/// The most pods the console keeps. Past it the pod watch stops and the panel says why:
/// a namespace that large needs a narrower selector, not a bigger cache.
pub const MAX_PODS: usize = 20_000;

/// Events on Rollouts kept (they expire after an hour by default).
const MAX_EVENTS: usize = 5_000;

/// Objects per page of a watch's (re-)list.
const LIST_PAGE: u32 = 2_000;

/// What the watches have to say: which kinds are failing, and a signal on any change.
#[derive(Clone, Default)]
pub struct WatchHealth {
    errors: Arc<Mutex<BTreeMap<&'static str, String>>>,
    /// Kinds whose watch stopped at its cap: their stores will not fill.
    capped: Arc<Mutex<BTreeSet<&'static str>>>,
    changed: Arc<Notify>,
}

impl WatchHealth {
    fn report(&self, kind: &'static str, error: Option<String>) {
        let mut errors = self
            .errors
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        match error {
            Some(error) => errors.insert(kind, error),
            None => errors.remove(kind),
        };
        drop(errors);
        // A stored permit when nobody waits: changes in a burst make one wake-up.
        self.changed.notify_one();
    }

    fn cap(&self, kind: &'static str, cap: usize) {
        self.capped
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .insert(kind);
        self.report(
            kind,
            Some(format!(
                "more than {cap} in the namespace; the console stopped watching them"
            )),
        );
    }

    fn is_capped(&self, kind: &str) -> bool {
        self.capped
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .contains(kind)
    }

    /// The failing watches, in words; `None` while all deliver.
    pub fn error(&self) -> Option<String> {
        let errors = self
            .errors
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        (!errors.is_empty()).then(|| {
            errors
                .iter()
                .map(|(kind, error)| format!("{kind}: {error}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}

pub struct ReleaseStores {
    health: WatchHealth,
    pods: Store<Pod>,
    replica_sets: Store<ReplicaSet>,
    deployments: Store<Deployment>,
    /// `None` when Argo Rollouts' CRDs are not installed.
    rollouts: Option<Store<DynamicObject>>,
    analysis_runs: Option<Store<DynamicObject>>,
    autoscalers: Store<HorizontalPodAutoscaler>,
    /// `None` when KEDA's CRDs are not installed.
    scaled_objects: Option<Store<DynamicObject>>,
    events: Store<Event>,
}

impl ReleaseStores {
    /// Starts the watches; they run until `stop`.
    pub async fn start(cluster: &Cluster, health: &WatchHealth, stop: &CancellationToken) -> Self {
        let namespaced = |resource| {
            Api::<DynamicObject>::namespaced_with(
                cluster.client.clone(),
                &cluster.namespace,
                &resource,
            )
        };
        let argo = installed(workload::rollouts(cluster)).await;
        let keda = installed(scalers::scaled_objects(cluster)).await;
        Self {
            health: health.clone(),
            pods: watch(
                "pods",
                Api::namespaced(cluster.client.clone(), &cluster.namespace),
                (),
                Select::Labels(WORKLOAD_SELECTOR),
                Keep {
                    trim: trim_pod,
                    cap: Some(MAX_PODS),
                },
                health,
                stop,
            ),
            replica_sets: watch(
                "replicasets",
                Api::namespaced(cluster.client.clone(), &cluster.namespace),
                (),
                Select::Labels(API_SELECTOR),
                Keep::everything(),
                health,
                stop,
            ),
            deployments: watch(
                "deployments",
                Api::namespaced(cluster.client.clone(), &cluster.namespace),
                (),
                Select::Labels(API_SELECTOR),
                Keep::everything(),
                health,
                stop,
            ),
            rollouts: argo.then(|| {
                watch(
                    "rollouts",
                    namespaced(argo::rollout_resource()),
                    argo::rollout_resource(),
                    Select::Labels(API_SELECTOR),
                    Keep::everything(),
                    health,
                    stop,
                )
            }),
            analysis_runs: argo.then(|| {
                watch(
                    "analysisruns",
                    namespaced(argo::analysis_run_resource()),
                    argo::analysis_run_resource(),
                    Select::All,
                    Keep::everything(),
                    health,
                    stop,
                )
            }),
            autoscalers: watch(
                "horizontalpodautoscalers",
                Api::namespaced(cluster.client.clone(), &cluster.namespace),
                (),
                Select::All,
                Keep::everything(),
                health,
                stop,
            ),
            events: watch(
                "events",
                Api::namespaced(cluster.client.clone(), &cluster.namespace),
                (),
                Select::Fields(rollout_events::ON_ROLLOUTS),
                Keep {
                    trim: keep_all,
                    cap: Some(MAX_EVENTS),
                },
                health,
                stop,
            ),
            scaled_objects: keda.then(|| {
                watch(
                    "scaledobjects",
                    namespaced(scalers::scaled_object_resource()),
                    scalers::scaled_object_resource(),
                    Select::Labels(scalers::RELEASE_SELECTOR),
                    Keep::everything(),
                    health,
                    stop,
                )
            }),
        }
    }

    /// Every store has had its first complete list.
    pub fn is_ready(&self) -> bool {
        let ready = |ready: Option<bool>| ready.unwrap_or(true);
        ready(Some(self.health.is_capped("pods") || is_ready(&self.pods)))
            && ready(Some(is_ready(&self.replica_sets)))
            && ready(Some(is_ready(&self.deployments)))
            && ready(self.rollouts.as_ref().map(is_ready))
            && ready(self.analysis_runs.as_ref().map(is_ready))
            && ready(Some(is_ready(&self.autoscalers)))
            && ready(Some(is_ready(&self.events)))
            && ready(self.scaled_objects.as_ref().map(is_ready))
    }

    pub async fn ready(&self) {
        let _ = self.pods.wait_until_ready().await;
        let _ = self.replica_sets.wait_until_ready().await;
        let _ = self.deployments.wait_until_ready().await;
        if let Some(rollouts) = &self.rollouts {
            let _ = rollouts.wait_until_ready().await;
        }
        if let Some(runs) = &self.analysis_runs {
            let _ = runs.wait_until_ready().await;
        }
        let _ = self.autoscalers.wait_until_ready().await;
        let _ = self.events.wait_until_ready().await;
        if let Some(objects) = &self.scaled_objects {
            let _ = objects.wait_until_ready().await;
        }
    }

    pub fn snapshot(&self) -> anyhow::Result<Snapshot> {
        anyhow::ensure!(
            !self.health.is_capped("pods"),
            "more than {MAX_PODS} OpsBox pods in the namespace; the console stopped watching them"
        );
        let pods = self.pods.state();
        let rollouts = match &self.rollouts {
            Some(store) => owned(store)
                .into_iter()
                .map(workload::to_rollout)
                .collect::<anyhow::Result<Vec<Rollout>>>()?,
            None => Vec::new(),
        };
        let analysis_runs = match &self.analysis_runs {
            // A run that does not parse is left out, as the one-shot list does.
            Some(store) => owned(store)
                .into_iter()
                .filter_map(|object| serde_json::to_value(object).ok())
                .filter_map(|value| serde_json::from_value::<AnalysisRun>(value).ok())
                .collect(),
            None => Vec::new(),
        };
        Ok(Snapshot {
            rollouts,
            deployments: owned(&self.deployments),
            replica_sets: owned(&self.replica_sets),
            analysis_runs,
            pods,
            autoscalers: owned(&self.autoscalers),
            scaled_objects: self.scaled_objects.as_ref().map(owned).unwrap_or_default(),
            events: self.events.state(),
        })
    }
}

fn keep_all<K>(_: &mut K) {}

/// A pod as the Instances view needs it: names, labels, times, the containers' names
/// and images and ports, and the status. The rest (volumes, env, probes, tolerations)
/// is most of a pod's bytes, and thousands of pods are kept.
fn trim_pod(pod: &mut Pod) {
    pod.metadata.annotations = None;
    pod.metadata.owner_references = None;
    if let Some(spec) = pod.spec.as_mut() {
        spec.volumes = None;
        spec.tolerations = None;
        spec.affinity = None;
        spec.init_containers = None;
        spec.security_context = None;
        spec.topology_spread_constraints = None;
        for container in &mut spec.containers {
            container.env = None;
            container.env_from = None;
            container.volume_mounts = None;
            container.resources = None;
            container.liveness_probe = None;
            container.readiness_probe = None;
            container.startup_probe = None;
            container.security_context = None;
            container.command = None;
            container.args = None;
        }
    }
}

fn owned<K>(store: &Store<K>) -> Vec<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    store
        .state()
        .iter()
        .map(|object| (**object).clone())
        .collect()
}

fn is_ready<K>(store: &Store<K>) -> bool
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    store.wait_until_ready().now_or_never().is_some()
}

/// Whether the cluster serves a custom resource (Argo's, KEDA's); an API server that
/// does not answer counts as yes, so the watch retries instead of hiding it for good.
async fn installed(api: Api<DynamicObject>) -> bool {
    let first = ListParams::default().limit(1);
    let probe = api.list(&first);
    !matches!(
        tokio::time::timeout(errors::CALL_DEADLINE, probe).await,
        Ok(Err(error)) if errors::is_not_found(&error)
    )
}

/// Which objects of a kind a watch asks for.
pub(super) enum Select<'a> {
    All,
    Labels(&'a str),
    Fields(&'a str),
}

/// What a store keeps of its kind: objects trimmed by `trim`, and at most `cap` of them
/// (a list or a store larger than it stops the watch).
pub(super) struct Keep<K> {
    pub trim: fn(&mut K),
    pub cap: Option<usize>,
}

impl<K> Keep<K> {
    fn everything() -> Self {
        Self {
            trim: keep_all,
            cap: None,
        }
    }
}

/// One kind's watch into a store, with its health reported under `kind`.
pub(super) fn watch<K>(
    kind: &'static str,
    api: Api<K>,
    dyntype: K::DynamicType,
    select: Select<'_>,
    keep: Keep<K>,
    health: &WatchHealth,
    stop: &CancellationToken,
) -> Store<K>
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    let writer = reflector::store::Writer::new(dyntype);
    let reader = writer.as_reader();
    // From the API server's watch cache (not a quorum read of etcd per page), in pages
    // large enough that thousands of pods are a few requests.
    let config = watcher::Config::default()
        .any_semantic()
        .page_size(LIST_PAGE);
    let config = match select {
        Select::All => config,
        Select::Labels(selector) => config.labels(selector),
        Select::Fields(selector) => config.fields(selector),
    };
    let mut events = reflector::reflector(
        writer,
        watcher(api, config)
            .default_backoff()
            .modify(move |object| {
                // Nothing the console shows, and most of an object's bytes.
                object.managed_fields_mut().clear();
                object
                    .annotations_mut()
                    .remove("kubectl.kubernetes.io/last-applied-configuration");
                (keep.trim)(object);
            }),
    )
    .boxed();
    let store = reader.clone();
    let health = health.clone();
    let stop = stop.clone();
    tokio::spawn(async move {
        let mut listed = 0usize;
        loop {
            let event = tokio::select! {
                () = stop.cancelled() => return,
                event = events.next() => event,
            };
            let Some(event) = event else { return };
            match event {
                Ok(event) => {
                    match event {
                        watcher::Event::Init => listed = 0,
                        watcher::Event::InitApply(_) => listed += 1,
                        _ => {}
                    }
                    if let Some(cap) = keep.cap.filter(|cap| listed.max(store.len()) > *cap) {
                        health.cap(kind, cap);
                        return;
                    }
                    health.report(kind, None);
                }
                Err(error) => health.report(kind, Some(error.to_string())),
            }
        }
    });
    reader
}
