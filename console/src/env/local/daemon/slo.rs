//! SLOs in the daemon: a scraper that feeds every API and worker instance's `/metrics`
//! into the embedded engine, and `GET /slo`, which answers from the engine or from the
//! local Prometheus (`?source=auto|embedded|prometheus&scope=all|stable|canary`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use super::super::supervisor::{InstanceSnapshot, InstanceState, Workload};
use super::control_error::{ControlError, ControlRoutes};
use super::prometheus::{PrometheusHandle, INSTANCE_NAME as PROMETHEUS_INSTANCE, SCRAPE_INTERVAL};
use super::state::{DaemonState, NotReady};
use crate::model::slo::{ScrapeTarget, SloReport, SloScope, SloSource, SourceChoice};
use crate::slo::engine::{SloEngine, StoreConfig, UnixMillis};
use crate::slo::SloSpec;
use crate::sources::embedded;
use crate::sources::prometheus::read_slos;
use crate::sources::scrape::{ScrapeError, Scraper};

/// The SLO spec compiled into the binary: the daemon reads the same SLOs whatever
/// directory it was started from, and they are the ones the committed rules came from.
const SLO_SPEC: &str = include_str!("../../../../../observability/slo.yaml");

/// Scrapes in flight at once; the others of the round wait for a slot.
const MAX_CONCURRENT_SCRAPES: usize = 8;

/// A scrape gives up before the next round is due, so rounds never pile up.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(4);

/// A Prometheus report must come back within the control client's patience (5 s).
const PROMETHEUS_REPORT_DEADLINE: Duration = Duration::from_secs(4);

/// The built-in SLO spec.
pub fn builtin_spec() -> anyhow::Result<SloSpec> {
    SloSpec::from_yaml(SLO_SPEC).context("the built-in SLO spec is invalid")
}

/// The embedded engine and how its scrapes go; memory is bounded by the store's
/// layout and series cap, and the target list by the number of instances.
pub struct EmbeddedSlo {
    spec: SloSpec,
    engine: Mutex<SloEngine>,
    targets: Mutex<BTreeMap<String, ScrapeTarget>>,
    /// When the engine began watching; processes started later count from zero.
    started_at: DateTime<Utc>,
    /// For scrapes outside the loop (an instance about to be removed).
    scraper: Scraper,
}

impl EmbeddedSlo {
    fn new() -> anyhow::Result<Self> {
        let spec = builtin_spec()?;
        let config = StoreConfig {
            scrape_interval_ms: u64::try_from(SCRAPE_INTERVAL.as_millis()).unwrap_or(u64::MAX),
            ..StoreConfig::default()
        };
        let engine = SloEngine::new(spec.clone(), config).context("cannot build the SLO engine")?;
        Ok(Self {
            spec,
            engine: Mutex::new(engine),
            targets: Mutex::new(BTreeMap::new()),
            started_at: Utc::now(),
            scraper: Scraper::new(SCRAPE_TIMEOUT)?,
        })
    }

    /// Scrapes an instance once more right before it is removed, so what it counted
    /// since the last round (a canary's last seconds) is not lost with it.
    pub async fn scrape_before_removal(&self, instance: &InstanceSnapshot, addr: SocketAddr) {
        if instance.state != InstanceState::Running {
            return;
        }
        let url = format!("http://{addr}/metrics");
        let at = unix_millis(Utc::now());
        let scraped = self.scraper.scrape(&url).await;
        let started_since = instance
            .started_at
            .is_some_and(|started| started > self.started_at);
        self.record(&instance.name, url, at, scraped, started_since);
    }

    fn record(
        &self,
        instance: &str,
        url: String,
        at: UnixMillis,
        scraped: Result<String, ScrapeError>,
        started_since: bool,
    ) {
        let outcome = match scraped {
            Ok(exposition) => {
                let mut engine = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
                if started_since {
                    engine.ingest_started_since(instance, at, &exposition);
                } else {
                    engine.ingest_exposition(instance, at, &exposition);
                }
                Ok(())
            }
            Err(error) => Err(error.to_string()),
        };
        let mut targets = self.targets.lock().unwrap_or_else(PoisonError::into_inner);
        let target = targets
            .entry(instance.to_owned())
            .or_insert_with(|| ScrapeTarget {
                instance: instance.to_owned(),
                url: url.clone(),
                last_success: None,
                last_error: None,
            });
        target.url = url;
        match outcome {
            Ok(()) => {
                target.last_success = i64::try_from(at)
                    .ok()
                    .and_then(DateTime::<Utc>::from_timestamp_millis);
                target.last_error = None;
            }
            Err(error) => target.last_error = Some(error),
        }
    }

    /// Forgets instances that left the stack; says why the others were not scraped.
    fn note_unscraped(&self, listed: &BTreeMap<String, InstanceState>) {
        let mut targets = self.targets.lock().unwrap_or_else(PoisonError::into_inner);
        targets.retain(|name, _| listed.contains_key(name));
        for (name, state) in listed {
            if *state == InstanceState::Running {
                continue;
            }
            if let Some(target) = targets.get_mut(name) {
                target.last_error =
                    Some(format!("not scraped: the instance is {}", state.as_str()));
            }
        }
    }

    fn report(&self, scope: SloScope) -> SloReport {
        let now = Utc::now();
        let evaluated = {
            let engine = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
            embedded::evaluate(&engine, unix_millis(now), scope)
        };
        let mut notes = Vec::new();
        if evaluated.refused_series > 0 {
            notes.push(format!(
                "{} new series were refused at the store's cap: some events are missing",
                evaluated.refused_series
            ));
        }
        SloReport {
            source: SloSource::Embedded,
            requested: SourceChoice::Embedded,
            scope,
            evaluated_at: now,
            coverage_secs: Some(evaluated.coverage_secs),
            prometheus_url: None,
            slos: evaluated.slos,
            targets: self
                .targets
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .values()
                .cloned()
                .collect(),
            notes,
        }
    }
}

/// Builds the engine and starts scraping every `SCRAPE_INTERVAL` until the daemon stops.
pub fn start(state: &Arc<DaemonState>) -> anyhow::Result<()> {
    let embedded = Arc::new(EmbeddedSlo::new()?);
    let _ = state.slo.set(embedded.clone());
    let scraper = Scraper::new(SCRAPE_TIMEOUT)?;
    tokio::spawn(scrape_loop(state.clone(), embedded, scraper));
    Ok(())
}

async fn scrape_loop(state: Arc<DaemonState>, embedded: Arc<EmbeddedSlo>, scraper: Scraper) {
    let mut rounds = tokio::time::interval(SCRAPE_INTERVAL);
    rounds.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = rounds.tick() => {}
            () = state.shutdown.cancelled() => return,
        }
        scrape_round(&state, &embedded, &scraper).await;
    }
}

/// Scrapes every running API instance and worker once, a bounded number at a time.
async fn scrape_round(state: &DaemonState, embedded: &Arc<EmbeddedSlo>, scraper: &Scraper) {
    let Some(supervisor) = state.supervisor.get() else {
        return;
    };
    let addresses = state.addresses_now();
    let mut listed = BTreeMap::new();
    let slots = Arc::new(Semaphore::new(MAX_CONCURRENT_SCRAPES));
    let mut scrapes = JoinSet::new();
    for instance in supervisor.snapshot() {
        if !matches!(instance.workload, Workload::Api | Workload::Worker) {
            continue;
        }
        listed.insert(instance.name.clone(), instance.state);
        let Some(addr) = addresses.get(&instance.name) else {
            continue;
        };
        if instance.state != InstanceState::Running {
            continue;
        }
        let url = format!("http://{addr}/metrics");
        // A process started after the engine began (a canary, a restarted instance)
        // did all its counting in view: its first scrape counts from zero.
        let started_since = instance
            .started_at
            .is_some_and(|started| started > embedded.started_at);
        let (scraper, slots, embedded) = (scraper.clone(), slots.clone(), embedded.clone());
        scrapes.spawn(async move {
            // The semaphore is never closed; a failed acquire would only mean no limit.
            let _slot = slots.acquire_owned().await;
            // Like Prometheus, a sample is stamped with the time its scrape started.
            let at = unix_millis(Utc::now());
            let scraped = scraper.scrape(&url).await;
            embedded.record(&instance.name, url, at, scraped, started_since);
        });
    }
    while let Some(joined) = scrapes.join_next().await {
        if let Err(error) = joined {
            tracing::warn!(%error, "a scrape task ended abnormally");
        }
    }
    embedded.note_unscraped(&listed);
}

fn unix_millis(at: DateTime<Utc>) -> UnixMillis {
    u64::try_from(at.timestamp_millis()).unwrap_or(0)
}

/// `GET /slo`.
pub fn routes() -> ControlRoutes {
    Router::new().route("/slo", get(slo_report))
}

#[derive(Debug, Deserialize)]
struct SloParams {
    source: Option<String>,
    scope: Option<String>,
}

async fn slo_report(
    State(state): State<Arc<DaemonState>>,
    Query(params): Query<SloParams>,
) -> Result<Json<SloReport>, ControlError> {
    let requested: SourceChoice = parse_param(params.source.as_deref())?;
    let scope: SloScope = parse_param(params.scope.as_deref())?;
    let embedded = state.slo.get().ok_or(NotReady("the SLO engine"))?;
    let prometheus = state.prometheus.get();
    let prometheus_state = prometheus.and_then(|_| {
        state
            .supervisor
            .get()
            .and_then(|supervisor| supervisor.instance(PROMETHEUS_INSTANCE))
            .map(|instance| instance.state)
    });
    let mut report = match (requested, prometheus, prometheus_state) {
        (SourceChoice::Embedded, ..) => embedded.report(scope),
        (SourceChoice::Prometheus, Some(handle), Some(InstanceState::Running)) => {
            prometheus_report(handle, &embedded.spec, scope)
                .await
                .map_err(|message| ControlError::new(StatusCode::BAD_GATEWAY, message))?
        }
        (SourceChoice::Prometheus, Some(_), prometheus_state) => {
            return Err(ControlError::conflict(format!(
                "the local Prometheus is not running now ({}); try again, or use --source embedded",
                prometheus_state.map_or("not started", InstanceState::as_str)
            )));
        }
        (SourceChoice::Prometheus, None, _) => {
            return Err(ControlError::conflict(format!(
                "no Prometheus runs in this environment (none was on PATH when it started, \
                 or {}=off); use --source embedded",
                super::prometheus::PROMETHEUS_ENV
            )));
        }
        (SourceChoice::Auto, Some(handle), Some(InstanceState::Running)) => {
            match prometheus_report(handle, &embedded.spec, scope).await {
                Ok(report) => report,
                Err(message) => {
                    let mut report = embedded.report(scope);
                    report.notes.push(format!(
                        "{message}; these are the embedded engine's numbers"
                    ));
                    report
                }
            }
        }
        (SourceChoice::Auto, Some(_), prometheus_state) => {
            let mut report = embedded.report(scope);
            report.notes.push(format!(
                "the local Prometheus is not running now ({}); these are the embedded engine's numbers",
                prometheus_state.map_or("not started", InstanceState::as_str)
            ));
            report
        }
        (SourceChoice::Auto, None, _) => embedded.report(scope),
    };
    report.requested = requested;
    report.prometheus_url = prometheus.map(|handle| handle.url.clone());
    Ok(Json(report))
}

async fn prometheus_report(
    handle: &PrometheusHandle,
    spec: &SloSpec,
    scope: SloScope,
) -> Result<SloReport, String> {
    let now = Utc::now();
    let read = tokio::time::timeout(
        PROMETHEUS_REPORT_DEADLINE,
        read_slos(&handle.client, spec, scope, now),
    )
    .await
    .map_err(|_| {
        format!(
            "Prometheus at {} did not answer the SLO queries within {PROMETHEUS_REPORT_DEADLINE:?}",
            handle.url
        )
    })?
    .map_err(|error| format!("cannot read the SLOs from Prometheus: {error}"))?;
    Ok(SloReport {
        source: SloSource::Prometheus,
        requested: SourceChoice::Prometheus,
        scope,
        evaluated_at: now,
        coverage_secs: read.coverage_secs,
        prometheus_url: Some(handle.url.clone()),
        slos: read.slos,
        targets: Vec::new(),
        notes: Vec::new(),
    })
}

fn parse_param<T>(value: Option<&str>) -> Result<T, ControlError>
where
    T: std::str::FromStr<Err = String> + Default,
{
    value
        .filter(|value| !value.is_empty())
        .map(str::parse)
        .transpose()
        .map_err(ControlError::invalid)
        .map(Option::unwrap_or_default)
}
