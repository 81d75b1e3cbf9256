//! The `kubernetes` environment: the OpsBox release in one namespace of a cluster, read
//! with kube-rs and acted on as `kubectl argo rollouts` and `kubectl` would. Every
//! request has a deadline; a down API server is a message within seconds, and the next
//! call tries again.

mod access;
mod actions;
mod admin;
mod api_url;
mod argo;
mod chaos_mesh;
mod errors;
mod events;
mod faults;
#[cfg(test)]
mod fixture_tests;
mod logs;
mod memory;
#[cfg(test)]
mod mock_admin_tests;
#[cfg(test)]
mod mock_api_url_tests;
#[cfg(test)]
mod mock_choice_tests;
#[cfg(test)]
mod mock_logs_tests;
#[cfg(test)]
mod mock_tests;
mod patches;
mod pods;
mod rollout_events;
mod rollout_info;
mod scalers;
mod snapshot;
mod stores;
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

pub use api_url::ApiUrl;
pub use target::TargetArgs;

use super::{ChaosSupport, Environment, Permissions, Records, StatusReading, Support};
use crate::audit::Outcome;
use crate::chaos::{
    ChaosStatus, FaultReport, FaultRequest, KillRequest, Killed, Outage, OutageRequest, TaskCensus,
};
use crate::model::logs::{LogBatch, LogRequest};
use crate::model::slo::{SloQuery, SloReport, SloSource, SourceChoice};
use crate::model::{
    DeadLetters, EnvironmentStatus, InstanceStatus, QueueOverview, RequeueReport, RequeueRequest,
    RolloutStatus, RouterStatus,
};
use crate::sources::prometheus::{read_slos, PrometheusClient, ServiceRef};
use opsbox_common::config::Track;

/// One namespace of one cluster, with a client made for the runtime that uses it.
#[derive(Clone)]
pub struct Cluster {
    pub client: kube::Client,
    pub namespace: String,
    pub context: String,
    pub server: String,
    /// Which Rollout the verbs act on when the namespace has several.
    pub rollout: workload::RolloutChoice,
}

/// What `--env kubernetes` was given besides the target.
#[derive(Debug, Clone, Default)]
pub struct KubernetesOptions {
    pub target: TargetArgs,
    pub rollout: Option<String>,
    pub prometheus: Option<PrometheusAccess>,
    /// The release's API as this machine reaches it (`--api-url`): a drill's traffic
    /// path, and where the release-wide admin calls go.
    pub api_url: Option<ApiUrl>,
    pub read_only: bool,
}

/// Where the SLOs are read from on a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrometheusAccess {
    /// Dialled directly (`--prometheus-url`), e.g. a port-forward.
    Url(String),
    /// A Service reached through the API server's proxy (`--prometheus-service`).
    Service(ServiceRef),
}

#[derive(Clone)]
pub struct KubernetesEnvironment {
    inner: Arc<Inner>,
}

struct Inner {
    target: Option<target::Target>,
    cluster: OnceCell<Cluster>,
    rollout: workload::RolloutChoice,
    prometheus: Option<PrometheusAccess>,
    api_url: Option<ApiUrl>,
    read_only: bool,
    records: Records,
    permissions: access::PermissionCache,
    identity: OnceCell<String>,
    /// The admin route and when it was found.
    admin: std::sync::Mutex<Option<(std::time::Instant, Arc<admin::AdminRoute>)>>,
    /// Whether the cluster has Chaos Mesh's CRDs, once asked.
    chaos_mesh: std::sync::OnceLock<bool>,
    /// Faults this console set, until they end (the pods end them by themselves).
    faults: std::sync::Mutex<Vec<crate::chaos::FaultInjection>>,
}

impl std::fmt::Debug for KubernetesEnvironment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesEnvironment")
            .field("location", &self.location())
            .finish_non_exhaustive()
    }
}

/// Why drills do not run on a cluster without `--api-url`.
const NO_TRAFFIC_PATH: &str = "a drill's probes and load need a path to the release's API \
     and this console was given none (the API server's proxy is no load path): pass --api-url \
     with a port-forward (scripts/port-forward.sh --background, then http://127.0.0.1:8080) \
     or an ingress, or run drills with --env local";

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
            rollout: workload::RolloutChoice::default(),
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
                rollout: cluster.as_ref().map_or_else(
                    || workload::RolloutChoice::new(options.rollout),
                    |cluster| cluster.rollout.clone(),
                ),
                cluster: OnceCell::new_with(cluster),
                prometheus: options.prometheus,
                api_url: options.api_url,
                read_only: options.read_only,
                records,
                permissions: access::PermissionCache::default(),
                identity: OnceCell::new(),
                admin: std::sync::Mutex::default(),
                chaos_mesh: std::sync::OnceLock::new(),
                faults: std::sync::Mutex::default(),
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

    /// The kubeconfig context and namespace it points at, as resolved from the flags and
    /// the kubeconfig (what `opsbox deploy` hands to helm, so both act on one place).
    pub fn context_and_namespace(&self) -> Option<(&str, &str)> {
        self.inner
            .target
            .as_ref()
            .map(|target| (target.context.as_str(), target.namespace.as_str()))
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
        // Releases (a deploy, a gate's decision) are about the API's Rollout.
        let involved = if action.starts_with("rollout.") || action.starts_with("release.") {
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

    /// The admin route, found again once it is older than [`admin::ROUTE_TTL`]: the
    /// console reads the queue every second, and the Rollout and Secret rarely change.
    async fn admin_route(&self, cluster: &Cluster) -> anyhow::Result<Arc<admin::AdminRoute>> {
        {
            let held = self.inner.admin.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, route)) = held.as_ref() {
                if at.elapsed() < admin::ROUTE_TTL {
                    return Ok(route.clone());
                }
            }
        }
        let route = Arc::new(admin::route(cluster, self.inner.api_url.as_ref()).await?);
        *self.inner.admin.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((std::time::Instant::now(), route.clone()));
        Ok(route)
    }

    #[cfg(test)]
    fn with_api_url(mut self, url: ApiUrl) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("set before the environment is shared")
            .api_url = Some(url);
        self
    }

    /// With `--api-url`, the status names it as the release's ingress, with the API
    /// pods behind it per track and the canary's actual weight.
    fn with_traffic_path(&self, mut status: EnvironmentStatus) -> EnvironmentStatus {
        if let Some(url) = &self.inner.api_url {
            let upstreams = |track| {
                status
                    .instances
                    .iter()
                    .filter(|instance| instance.workload == "api" && instance.track == track)
                    .map(|instance| instance.name.clone())
                    .collect()
            };
            status.router = Some(RouterStatus {
                url: url.base().to_owned(),
                metrics_url: None,
                canary_weight: status.rollout.as_ref().map_or(0, |r| r.canary_weight),
                stable_upstreams: upstreams(Track::Stable),
                canary_upstreams: upstreams(Track::Canary),
            });
        }
        status
    }

    /// The Prometheus the SLOs come from, as readings and reports name it.
    fn prometheus_url(&self) -> Option<String> {
        match self.inner.prometheus.as_ref()? {
            PrometheusAccess::Url(url) => Some(url.clone()),
            PrometheusAccess::Service(service) => Some(self.prometheus_service(service).label()),
        }
    }

    /// A Service without a namespace is in the release's.
    fn prometheus_service(&self, service: &ServiceRef) -> ServiceRef {
        let namespace = match (&self.inner.target, self.inner.cluster.get()) {
            (_, Some(cluster)) => cluster.namespace.as_str(),
            (Some(target), None) => target.namespace.as_str(),
            (None, None) => "default",
        };
        service.in_namespace(namespace)
    }

    async fn prometheus_client(&self) -> anyhow::Result<PrometheusClient> {
        match &self.inner.prometheus {
            Some(PrometheusAccess::Url(url)) => Ok(PrometheusClient::new(url, SLO_DEADLINE)?),
            Some(PrometheusAccess::Service(service)) => {
                let cluster = self.cluster().await?;
                Ok(PrometheusClient::through_service_proxy(
                    cluster.client.clone(),
                    &self.prometheus_service(service),
                    SLO_DEADLINE,
                ))
            }
            None => anyhow::bail!(
                "no Prometheus to read the SLOs from: pass --prometheus-service NAMESPACE/NAME:PORT \
                 (through the API server) or --prometheus-url (e.g. a port-forward to the cluster's Prometheus)"
            ),
        }
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
        let admin = access::AdminPath::of(self.inner.api_url.is_some());
        let mut permissions = match self.cluster().await {
            Ok(cluster) => access::review(cluster, admin).await,
            Err(error) => {
                let mut none = Permissions::all();
                for verb in super::Verb::ALL {
                    none.deny(verb, format!("{error:#}"));
                }
                return none;
            }
        };
        // Whatever RBAC says, a drill without a traffic path cannot run: its key is greyed.
        if self.inner.api_url.is_none() && permissions.check(super::Verb::RunDrill).is_ok() {
            permissions.deny(super::Verb::RunDrill, NO_TRAFFIC_PATH);
        }
        self.inner.permissions.store(&permissions);
        permissions
    }

    fn chaos_support(&self) -> ChaosSupport {
        // Known once an outage was tried or the chaos list read; until then offered, and
        // the outage itself says when Chaos Mesh is missing.
        let outage = match self.inner.chaos_mesh.get() {
            Some(false) => Support::Missing(chaos_mesh::MISSING.to_owned()),
            _ => Support::Available,
        };
        let traffic = match self.inner.api_url {
            Some(_) => Support::Available,
            None => Support::Missing(NO_TRAFFIC_PATH.to_owned()),
        };
        ChaosSupport {
            traffic,
            kill: Support::Available,
            postgres_outage: outage.clone(),
            redis_outage: outage,
            fault: Support::Available,
        }
    }

    async fn metrics_url(&self) -> anyhow::Result<Option<String>> {
        // Behind the API server's proxy there is no URL this machine could dial.
        Ok(match &self.inner.prometheus {
            Some(PrometheusAccess::Url(url)) => Some(url.clone()),
            _ => None,
        })
    }

    async fn status(&self) -> anyhow::Result<EnvironmentStatus> {
        let cluster = self.cluster().await?;
        let status = snapshot::Snapshot::list(cluster)
            .await?
            .status(cluster, self.prometheus_url())?;
        let mut status = self.with_traffic_path(status);
        // With a direct path the queue is one cheap call away (a drill's monitor reads
        // its depth); through the API server's proxy it is left to `opsbox queue`.
        if self.inner.api_url.is_some() {
            status.queue = match self.queue_overview().await {
                Ok(overview) => Some(overview.depth),
                Err(error) => {
                    tracing::debug!(error = %format!("{error:#}"), "queue unreadable at --api-url");
                    None
                }
            };
        }
        Ok(status)
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
        let client = self.prometheus_client().await?;
        let url = client.base_url().to_owned();
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

    fn choose_rollout(&self, name: &str) -> anyhow::Result<()> {
        anyhow::ensure!(!name.is_empty(), "a Rollout's name cannot be empty");
        self.inner.rollout.set(name);
        // The admin Service is the chosen release's: find it again.
        *self.inner.admin.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
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
        // Pod kills leave nothing running; the faults this console set end by themselves.
        let faults = {
            let mut injected = self.inner.faults.lock().unwrap_or_else(|p| p.into_inner());
            injected.retain(|fault| fault.ends_at > Utc::now());
            injected.clone()
        };
        let cluster = self.cluster().await?;
        Ok(ChaosStatus {
            outages: chaos_mesh::active(cluster).await?,
            faults,
            ..ChaosStatus::default()
        })
    }

    async fn outage(&self, request: &OutageRequest) -> anyhow::Result<Outage> {
        let cluster = self.cluster().await?;
        let installed = chaos_mesh::installed(cluster).await?;
        let _ = self.inner.chaos_mesh.set(installed);
        chaos_mesh::start(cluster, request).await
    }

    async fn fault(&self, request: &FaultRequest) -> anyhow::Result<FaultReport> {
        let cluster = self.cluster().await?;
        let route = self.admin_route(cluster).await?;
        let hashes = self.hashes(cluster).await;
        let report = faults::inject(cluster, &route, &hashes, request).await?;
        let mut injected = self.inner.faults.lock().unwrap_or_else(|p| p.into_inner());
        injected.retain(|fault| fault.ends_at > Utc::now());
        injected.push(report.fault.clone());
        Ok(report)
    }

    async fn queue_overview(&self) -> anyhow::Result<QueueOverview> {
        let cluster = self.cluster().await?;
        let route = self.admin_route(cluster).await?;
        let snapshot: opsbox_common::queue::QueueSnapshot = route
            .call(cluster, http::Method::GET, "/admin/queue", None)
            .await?;
        Ok(QueueOverview {
            depth: crate::model::QueueStatus {
                ready: snapshot.depth.ready,
                delayed: snapshot.depth.delayed,
                processing: snapshot.depth.processing,
                dead: snapshot.depth.dead,
            },
            oldest_ready_age_secs: snapshot.oldest_ready_age_secs,
            // Throughput comes from the workers' metrics, which Prometheus has here.
            processed: None,
        })
    }

    async fn dead_letters(&self, limit: usize) -> anyhow::Result<DeadLetters> {
        let cluster = self.cluster().await?;
        let route = self.admin_route(cluster).await?;
        let path = format!("/admin/dead-letters?limit={}", limit.clamp(1, 1000));
        route.call(cluster, http::Method::GET, &path, None).await
    }

    async fn requeue(&self, request: &RequeueRequest) -> anyhow::Result<RequeueReport> {
        let cluster = self.cluster().await?;
        let route = self.admin_route(cluster).await?;
        let body = serde_json::to_value(request)?;
        route
            .call(
                cluster,
                http::Method::POST,
                "/admin/dead-letters/requeue",
                Some(&body),
            )
            .await
    }

    async fn task_census(&self, since: DateTime<Utc>) -> anyhow::Result<TaskCensus> {
        let cluster = self.cluster().await?;
        let route = self.admin_route(cluster).await?;
        // RFC 3339 with `Z`: nothing in it needs escaping in a query.
        let since = since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let path = format!("/admin/tasks/census?since={since}");
        route.call(cluster, http::Method::GET, &path, None).await
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
