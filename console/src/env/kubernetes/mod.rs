//! The `kubernetes` environment: the OpsBox release in one namespace of a cluster, read
//! with kube-rs and acted on as `kubectl argo rollouts` and `kubectl` would. Every
//! request has a deadline; a down API server is a message within seconds, and the next
//! call tries again.

mod access;
mod actions;
mod argo;
mod errors;
mod events;
#[cfg(test)]
mod fixture_tests;
mod logs;
#[cfg(test)]
mod mock_tests;
mod patches;
mod pods;
mod rollout_info;
mod target;
mod time;
mod watch;
mod workload;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, OnceCell};
use tokio_util::sync::CancellationToken;

pub use target::TargetArgs;

use super::{ChaosSupport, Environment, Permissions, Records, StatusReading, Support};
use crate::audit::Outcome;
use crate::chaos::{
    ChaosStatus, FaultReport, FaultRequest, KillRequest, Killed, Outage, OutageRequest, TaskCensus,
};
use crate::model::logs::{LogBatch, LogRequest};
use crate::model::slo::{SloQuery, SloReport, SloSource, SourceChoice};
use crate::model::{
    DeadLetters, EnvironmentPhase, EnvironmentStatus, InstanceStatus, QueueOverview, RequeueReport,
    RequeueRequest, RolloutStatus,
};
use crate::sources::prometheus::{read_slos, PrometheusClient};

/// One namespace of one cluster, with a client made for the runtime that uses it.
#[derive(Clone)]
pub struct Cluster {
    pub client: kube::Client,
    pub namespace: String,
    pub context: String,
    pub server: String,
    /// `--rollout`: which Rollout the verbs act on when the namespace has several.
    pub rollout: Option<String>,
}

/// What `--env kubernetes` was given besides the target.
#[derive(Debug, Clone, Default)]
pub struct KubernetesOptions {
    pub target: TargetArgs,
    pub rollout: Option<String>,
    pub prometheus_url: Option<String>,
    pub read_only: bool,
}

#[derive(Clone)]
pub struct KubernetesEnvironment {
    inner: Arc<Inner>,
}

struct Inner {
    target: Option<target::Target>,
    cluster: OnceCell<Cluster>,
    rollout: Option<String>,
    prometheus_url: Option<String>,
    read_only: bool,
    records: Records,
    permissions: access::PermissionCache,
    identity: OnceCell<String>,
}

impl std::fmt::Debug for KubernetesEnvironment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesEnvironment")
            .field("location", &self.location())
            .finish_non_exhaustive()
    }
}

/// How long an SLO report may take from Prometheus.
const SLO_DEADLINE: Duration = Duration::from_secs(10);

impl KubernetesEnvironment {
    /// Reads the kubeconfig and checks the context; no request is made yet.
    pub fn open(options: KubernetesOptions, records: Records) -> anyhow::Result<Self> {
        let target = target::Target::resolve(&options.target)?;
        Ok(Self::new(Some(target), None, options, records))
    }

    /// An environment on a client made elsewhere (the mocked API server of the tests).
    pub fn with_client(client: kube::Client, namespace: &str, records: Records) -> Self {
        let cluster = Cluster {
            client,
            namespace: namespace.to_owned(),
            context: "test".to_owned(),
            server: "the test API server".to_owned(),
            rollout: None,
        };
        Self::new(None, Some(cluster), KubernetesOptions::default(), records)
    }

    fn new(
        target: Option<target::Target>,
        cluster: Option<Cluster>,
        options: KubernetesOptions,
        records: Records,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                target,
                cluster: OnceCell::new_with(cluster),
                rollout: options.rollout,
                prometheus_url: options.prometheus_url,
                read_only: options.read_only,
                records,
                permissions: access::PermissionCache::default(),
                identity: OnceCell::new(),
            }),
        }
    }

    async fn cluster(&self) -> anyhow::Result<&Cluster> {
        self.inner
            .cluster
            .get_or_try_init(|| async {
                let target = self
                    .inner
                    .target
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("no cluster to connect to"))?;
                Ok(Cluster {
                    client: target.client().await?,
                    namespace: target.namespace.clone(),
                    context: target.context.clone(),
                    server: target.server.clone(),
                    rollout: self.inner.rollout.clone(),
                })
            })
            .await
    }

    /// Fails fast (within the request deadline) unless the API server answers and the
    /// namespace holds an OpsBox release.
    pub async fn ensure_running(&self) -> anyhow::Result<()> {
        let cluster = self.cluster().await?;
        workload::find(cluster).await.map(drop)
    }

    async fn who(&self) -> String {
        let Ok(cluster) = self.cluster().await else {
            return "unknown".to_owned();
        };
        self.inner
            .identity
            .get_or_init(|| async {
                access::identity(cluster)
                    .await
                    .unwrap_or_else(crate::audit::current_user)
            })
            .await
            .clone()
    }

    /// Records the action as an Event on the object it changed; a failure to do so is
    /// printed, never fails the action.
    async fn post_event(&self, action: &str, target: &str, outcome: &Outcome) {
        let Ok(cluster) = self.cluster().await else {
            return;
        };
        // A gate decision is about the next release of the API: it goes on its Rollout.
        let involved = if action.starts_with("rollout.") || action == "release.gate" {
            match workload::find(cluster).await {
                Ok(workload::ApiWorkload::Rollout(rollout)) => events::Involved {
                    api_version: "argoproj.io/v1alpha1".to_owned(),
                    kind: "Rollout".to_owned(),
                    name: rollout.name().to_owned(),
                },
                Ok(workload::ApiWorkload::Deployment(deployment)) => events::Involved {
                    api_version: "apps/v1".to_owned(),
                    kind: "Deployment".to_owned(),
                    name: deployment.metadata.name.clone().unwrap_or_default(),
                },
                Err(_) => return,
            }
        } else if matches!(action, "chaos.kill" | "instance.restart") && !target.is_empty() {
            events::Involved {
                api_version: "v1".to_owned(),
                kind: "Pod".to_owned(),
                name: target.to_owned(),
            }
        } else {
            return;
        };
        let who = self.who().await;
        let event = events::event(cluster, &involved, action, &who, outcome);
        if let Err(error) = events::post(cluster, &event).await {
            eprintln!("opsbox: no Kubernetes Event recorded for {action}: {error:#}");
        }
    }

    async fn hashes(&self, cluster: &Cluster) -> pods::Hashes {
        match workload::find(cluster).await {
            Ok(workload::ApiWorkload::Rollout(rollout)) => pods::Hashes {
                stable: rollout.status.stable_rs.clone(),
                canary: rollout.status.current_pod_hash.clone(),
            },
            _ => pods::Hashes::default(),
        }
    }

    fn not_offered(what: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "{what} is not offered by the kubernetes environment yet: it needs the API's admin \
             endpoints through the API server's service proxy"
        )
    }
}

impl Environment for KubernetesEnvironment {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn location(&self) -> String {
        match (&self.inner.target, self.inner.cluster.get()) {
            (_, Some(cluster)) => format!("{}/{}", cluster.context, cluster.namespace),
            (Some(target), None) => format!("{}/{}", target.context, target.namespace),
            (None, None) => "nowhere".to_owned(),
        }
    }

    fn records(&self) -> &Records {
        &self.inner.records
    }

    async fn permissions(&self) -> Permissions {
        if self.inner.read_only {
            return Permissions::read_only();
        }
        if let Some(permissions) = self.inner.permissions.fresh() {
            return permissions;
        }
        let permissions = match self.cluster().await {
            Ok(cluster) => access::review(cluster).await,
            Err(error) => {
                let mut none = Permissions::all();
                for verb in super::Verb::ALL {
                    none.deny(verb, format!("{error:#}"));
                }
                return none;
            }
        };
        self.inner.permissions.store(&permissions);
        permissions
    }

    fn chaos_support(&self) -> ChaosSupport {
        let outage = Support::Missing(
            "dependency outages on a cluster need Chaos Mesh (PodChaos/NetworkChaos), which this console does not drive yet".to_owned(),
        );
        ChaosSupport {
            kill: Support::Available,
            postgres_outage: outage.clone(),
            redis_outage: outage,
            fault: Support::Missing(
                "API fault injection on a cluster goes through the API server's service proxy, which this console does not use yet".to_owned(),
            ),
        }
    }

    async fn metrics_url(&self) -> anyhow::Result<Option<String>> {
        Ok(self.inner.prometheus_url.clone())
    }

    async fn status(&self) -> anyhow::Result<EnvironmentStatus> {
        let cluster = self.cluster().await?;
        let found = workload::find(cluster).await?;
        let rollout = workload::status(cluster, &found).await?;
        let hashes = match &found {
            workload::ApiWorkload::Rollout(rollout) => pods::Hashes {
                stable: rollout.status.stable_rs.clone(),
                canary: rollout.status.current_pod_hash.clone(),
            },
            workload::ApiWorkload::Deployment(_) => pods::Hashes::default(),
        };
        let pods = pods::list(cluster).await?;
        let started_at = pods
            .iter()
            .filter_map(|pod| {
                pod.metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| time::to_chrono(t.0))
            })
            .min()
            .unwrap_or_else(Utc::now);
        Ok(EnvironmentStatus {
            environment: format!("{}/{}", cluster.context, cluster.namespace),
            phase: EnvironmentPhase::Ready,
            started_at,
            state_dir: None,
            instances: pods
                .iter()
                .map(|pod| pods::instance(pod, &hashes))
                .collect(),
            queue: None,
            router: None,
            rollout: Some(rollout),
            prometheus_url: self.inner.prometheus_url.clone(),
        })
    }

    fn watch_status(
        &self,
        every: Duration,
        stop: CancellationToken,
    ) -> mpsc::Receiver<StatusReading> {
        watch::status_readings(self.clone(), every, stop)
    }

    async fn instances(&self) -> anyhow::Result<Vec<InstanceStatus>> {
        let cluster = self.cluster().await?;
        let hashes = self.hashes(cluster).await;
        Ok(pods::list(cluster)
            .await?
            .iter()
            .map(|pod| pods::instance(pod, &hashes))
            .collect())
    }

    async fn slo(&self, query: SloQuery) -> anyhow::Result<SloReport> {
        anyhow::ensure!(
            query.source != SourceChoice::Embedded,
            "the embedded SLO engine runs only in the local environment; on a cluster the SLOs come from Prometheus"
        );
        let url = self.inner.prometheus_url.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "no Prometheus to read the SLOs from: pass --prometheus-url (e.g. a port-forward to the cluster's Prometheus)"
            )
        })?;
        let client = PrometheusClient::new(&url, SLO_DEADLINE)?;
        let spec = crate::slo::SloSpec::builtin()?;
        let now = Utc::now();
        let read = tokio::time::timeout(SLO_DEADLINE, read_slos(&client, &spec, query.scope, now))
            .await
            .map_err(|_| {
                anyhow::anyhow!("Prometheus at {url} did not answer within {SLO_DEADLINE:?}")
            })??;
        Ok(SloReport {
            source: SloSource::Prometheus,
            requested: query.source,
            scope: query.scope,
            evaluated_at: now,
            coverage_secs: read.coverage_secs,
            prometheus_url: Some(url),
            slos: read.slos,
            targets: Vec::new(),
            notes: Vec::new(),
        })
    }

    async fn rollout(&self) -> anyhow::Result<RolloutStatus> {
        actions::current(self.cluster().await?).await
    }

    async fn start_rollout(
        &self,
        revision: &str,
        overrides: &BTreeMap<String, String>,
    ) -> anyhow::Result<RolloutStatus> {
        actions::start(self.cluster().await?, revision, overrides).await
    }

    async fn promote(&self, full: bool) -> anyhow::Result<RolloutStatus> {
        actions::promote(self.cluster().await?, full).await
    }

    async fn abort(&self) -> anyhow::Result<RolloutStatus> {
        actions::abort(self.cluster().await?).await
    }

    async fn retry(&self) -> anyhow::Result<RolloutStatus> {
        actions::retry(self.cluster().await?).await
    }

    async fn undo(&self, to: Option<&str>) -> anyhow::Result<RolloutStatus> {
        actions::undo(self.cluster().await?, to).await
    }

    async fn kill(&self, request: &KillRequest) -> anyhow::Result<Killed> {
        let cluster = self.cluster().await?;
        let hashes = self.hashes(cluster).await;
        let all = pods::list(cluster).await?;
        let pod = pods::choose(&all, request, &hashes)?;
        pods::kill(cluster, pod, &hashes).await
    }

    async fn restart_instance(&self, name: &str) -> anyhow::Result<()> {
        pods::restart(self.cluster().await?, name).await
    }

    async fn chaos_status(&self) -> anyhow::Result<ChaosStatus> {
        // Pod kills leave nothing running; outages and faults are not driven here yet.
        Ok(ChaosStatus::default())
    }

    async fn outage(&self, _request: &OutageRequest) -> anyhow::Result<Outage> {
        let support = self.chaos_support();
        Err(anyhow::anyhow!(
            "{}",
            support.postgres_outage.check().err().unwrap_or_default()
        ))
    }

    async fn fault(&self, _request: &FaultRequest) -> anyhow::Result<FaultReport> {
        let support = self.chaos_support();
        Err(anyhow::anyhow!(
            "{}",
            support.fault.check().err().unwrap_or_default()
        ))
    }

    async fn queue_overview(&self) -> anyhow::Result<QueueOverview> {
        Err(Self::not_offered("the queue overview"))
    }

    async fn dead_letters(&self, _limit: usize) -> anyhow::Result<DeadLetters> {
        Err(Self::not_offered("reading dead letters"))
    }

    async fn requeue(&self, _request: &RequeueRequest) -> anyhow::Result<RequeueReport> {
        Err(Self::not_offered("requeueing dead letters"))
    }

    async fn task_census(&self, _since: DateTime<Utc>) -> anyhow::Result<TaskCensus> {
        Err(anyhow::anyhow!(
            "the kubernetes environment cannot count tasks (that needs the database); drills that check for lost tasks run in the local environment"
        ))
    }

    fn logs(&self, request: LogRequest, stop: CancellationToken) -> mpsc::Receiver<LogBatch> {
        let environment = self.clone();
        let (sender, receiver) = mpsc::channel(crate::model::logs::LOG_STREAM_CAPACITY);
        tokio::spawn(async move {
            match environment.cluster().await {
                Ok(cluster) => {
                    let mut inner = logs::stream(cluster.clone(), request, stop);
                    while let Some(batch) = inner.recv().await {
                        if sender.send(batch).await.is_err() {
                            break;
                        }
                    }
                }
                Err(error) => {
                    let _ = sender
                        .send(LogBatch {
                            lines: Vec::new(),
                            errors: vec![format!("{error:#}")],
                        })
                        .await;
                }
            }
        });
        receiver
    }

    async fn announce(&self, action: &str, target: &str, outcome: &Outcome) {
        self.post_event(action, target, outcome).await;
    }

    async fn bring_up(&self, _progress: mpsc::Sender<String>) -> anyhow::Result<()> {
        Err(anyhow::anyhow!(
            "opsbox does not install into a cluster: install the chart with helm (README, \"Install on a cluster\")"
        ))
    }
}
