//! The `local` environment as the console sees it: a daemon in a state directory,
//! reached through its control endpoint, found again whenever a new `up` replaces it.

use std::collections::BTreeMap;
use std::future::Future;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::connector::Connector;
use super::logs::{self as file_logs, LogSource, TailerConfig};
use super::rollout_api::StartRollout;
use super::{ControlClient, StateDir};
use crate::chaos::{
    ChaosStatus, FaultReport, FaultRequest, KillRequest, Killed, Outage, OutageRequest, TaskCensus,
};
use crate::env::{
    ChaosSupport, Environment, NotRunning, Permissions, Records, StatusError, StatusReading,
};
use crate::model::logs::{LogBatch, LogRequest, LOG_STREAM_CAPACITY};
use crate::model::slo::{SloQuery, SloReport};
use crate::model::{
    DeadLetters, EnvironmentStatus, QueueOverview, RequeueReport, RequeueRequest, RolloutStatus,
};

/// Status readings a watcher may leave unread before the watch waits for it.
const STATUS_WATCH_CAPACITY: usize = 4;

/// How often the log stream looks for instances that came or went.
const LOG_SOURCES_INTERVAL: Duration = Duration::from_secs(1);

/// The local environment in one state directory. Cheap to clone; every clone shares the
/// cached connection to the daemon.
#[derive(Debug, Clone)]
pub struct LocalEnvironment {
    connector: Arc<Connector>,
    records: Records,
    read_only: bool,
}

impl LocalEnvironment {
    /// The environment in `state`, whether or not a daemon runs there yet: every call
    /// finds it (or says it is not running) at the time it is made.
    pub fn open(state: StateDir, read_only: bool) -> Self {
        let records = Records::new(
            state.root().to_path_buf(),
            state.audit_log(),
            state.drill_reports(),
        );
        Self {
            connector: Arc::new(Connector::new(state)),
            records,
            read_only,
        }
    }

    pub fn state_dir(&self) -> &StateDir {
        self.connector.state_dir()
    }

    /// Fails with [`NotRunning`] unless a live daemon is recorded in the state directory.
    pub fn ensure_running(&self) -> Result<(), NotRunning> {
        self.connector.client().map(drop)
    }

    /// Runs one request on the current daemon; a failed request drops the cached client,
    /// so the next call reads `daemon.json` again (a new `up` writes a new port and token).
    async fn call<T, F, Fut>(&self, request: F) -> anyhow::Result<T>
    where
        F: FnOnce(ControlClient) -> Fut,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        let client = self.connector.client()?;
        let result = request(client).await;
        if result.is_err() {
            self.connector.forget();
        }
        result
    }
}

impl Environment for LocalEnvironment {
    fn name(&self) -> &'static str {
        "local"
    }

    fn location(&self) -> String {
        self.state_dir().root().display().to_string()
    }

    fn records(&self) -> &Records {
        &self.records
    }

    async fn permissions(&self) -> Permissions {
        if self.read_only {
            Permissions::read_only()
        } else {
            Permissions::all()
        }
    }

    fn chaos_support(&self) -> ChaosSupport {
        // The daemon owns every process: each primitive is its own to run.
        ChaosSupport::everything()
    }

    async fn metrics_url(&self) -> anyhow::Result<Option<String>> {
        Ok(self.status().await?.prometheus_url)
    }

    async fn status(&self) -> anyhow::Result<EnvironmentStatus> {
        self.call(|client| async move { client.status().await })
            .await
    }

    fn watch_status(
        &self,
        every: Duration,
        stop: CancellationToken,
    ) -> mpsc::Receiver<StatusReading> {
        let (sender, receiver) = mpsc::channel(STATUS_WATCH_CAPACITY);
        let environment = self.clone();
        // The daemon has no change feed: a reading every `every` is the watch.
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                let reading = environment.status().await.map_err(status_error);
                tokio::select! {
                    () = stop.cancelled() => return,
                    sent = sender.send(reading) => if sent.is_err() { return },
                }
            }
        });
        receiver
    }

    async fn slo(&self, query: SloQuery) -> anyhow::Result<SloReport> {
        self.call(|client| async move { client.slo(query).await })
            .await
    }

    async fn rollout(&self) -> anyhow::Result<RolloutStatus> {
        self.call(|client| async move { client.rollout().await })
            .await
    }

    async fn start_rollout(
        &self,
        revision: &str,
        overrides: &BTreeMap<String, String>,
    ) -> anyhow::Result<RolloutStatus> {
        let request = StartRollout {
            revision: revision.to_owned(),
            set: overrides.clone(),
        };
        self.call(|client| async move { client.rollout_start(&request).await })
            .await
    }

    async fn promote(&self, full: bool) -> anyhow::Result<RolloutStatus> {
        self.call(|client| async move { client.rollout_promote(full).await })
            .await
    }

    async fn abort(&self) -> anyhow::Result<RolloutStatus> {
        self.call(|client| async move { client.rollout_abort().await })
            .await
    }

    async fn retry(&self) -> anyhow::Result<RolloutStatus> {
        self.call(|client| async move { client.rollout_retry().await })
            .await
    }

    async fn undo(&self, to: Option<&str>) -> anyhow::Result<RolloutStatus> {
        let to = to.map(str::to_owned);
        self.call(|client| async move { client.rollout_undo(to).await })
            .await
    }

    async fn kill(&self, request: &KillRequest) -> anyhow::Result<Killed> {
        self.call(|client| async move { client.chaos_kill(request).await })
            .await
    }

    async fn restart_instance(&self, name: &str) -> anyhow::Result<()> {
        self.call(|client| async move { client.restart_instance(name).await })
            .await
    }

    async fn chaos_status(&self) -> anyhow::Result<ChaosStatus> {
        self.call(|client| async move { client.chaos_status().await })
            .await
    }

    async fn outage(&self, request: &OutageRequest) -> anyhow::Result<Outage> {
        self.call(|client| async move { client.chaos_outage(request).await })
            .await
    }

    async fn fault(&self, request: &FaultRequest) -> anyhow::Result<FaultReport> {
        self.call(|client| async move { client.chaos_fault(request).await })
            .await
    }

    async fn queue_overview(&self) -> anyhow::Result<QueueOverview> {
        self.call(|client| async move { client.queue_overview().await })
            .await
    }

    async fn dead_letters(&self, limit: usize) -> anyhow::Result<DeadLetters> {
        self.call(|client| async move { client.dead_letters(limit).await })
            .await
    }

    async fn requeue(&self, request: &RequeueRequest) -> anyhow::Result<RequeueReport> {
        self.call(|client| async move { client.requeue_dead(request).await })
            .await
    }

    async fn task_census(&self, since: DateTime<Utc>) -> anyhow::Result<TaskCensus> {
        self.call(|client| async move { client.task_census(since).await })
            .await
    }

    fn logs(&self, request: LogRequest, stop: CancellationToken) -> mpsc::Receiver<LogBatch> {
        if !request.follow {
            return self.recent_logs(request);
        }
        let (sources, sources_rx) = watch::channel(Vec::<LogSource>::new());
        let environment = self.clone();
        let finder_stop = stop.clone();
        // The files to follow are the instances' log files, which come and go with them.
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(LOG_SOURCES_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = finder_stop.cancelled() => return,
                    () = sources.closed() => return,
                    _ = ticks.tick() => {}
                }
                let Ok(status) = environment.status().await else {
                    continue;
                };
                let found: Vec<LogSource> = LogSource::from_status(&status)
                    .into_iter()
                    .filter(|source| request.wants(&source.workload))
                    .collect();
                sources.send_if_modified(|current| {
                    let changed = *current != found;
                    if changed {
                        *current = found;
                    }
                    changed
                });
            }
        });
        file_logs::spawn(
            sources_rx,
            TailerConfig::default(),
            file_logs::DEFAULT_POLL_INTERVAL,
            stop,
        )
    }

    async fn bring_up(&self, progress: mpsc::Sender<String>) -> anyhow::Result<()> {
        run_up(self.state_dir(), progress).await
    }
}

impl LocalEnvironment {
    /// The recent lines of the instances running now, then the end of the stream.
    fn recent_logs(&self, request: LogRequest) -> mpsc::Receiver<LogBatch> {
        let (batches, receiver) = mpsc::channel(LOG_STREAM_CAPACITY);
        let environment = self.clone();
        tokio::spawn(async move {
            let sources: Vec<LogSource> = match environment.status().await {
                Ok(status) => LogSource::from_status(&status)
                    .into_iter()
                    .filter(|source| request.wants(&source.workload))
                    .collect(),
                Err(error) => {
                    let errors = vec![format!("{error:#}")];
                    let _ = batches
                        .send(LogBatch {
                            lines: Vec::new(),
                            errors,
                        })
                        .await;
                    return;
                }
            };
            let mut tailer = file_logs::Tailer::new(TailerConfig::default());
            tailer.set_sources(&sources);
            loop {
                let Ok((returned, (batch, more))) = tokio::task::spawn_blocking(move || {
                    let polled = tailer.poll();
                    (tailer, polled)
                })
                .await
                else {
                    return;
                };
                tailer = returned;
                if batches.send(batch).await.is_err() || !more {
                    return;
                }
            }
        });
        receiver
    }
}

fn status_error(error: anyhow::Error) -> StatusError {
    match error.downcast::<NotRunning>() {
        Ok(NotRunning(message)) => StatusError::NotRunning(message),
        Err(error) => StatusError::Failed(format!("{error:#}")),
    }
}

/// Runs `opsbox up --state-dir DIR` with the running executable, sending each line it
/// prints to `progress`; the error carries its exit status.
async fn run_up(state: &StateDir, progress: mpsc::Sender<String>) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the opsbox executable")?;
    let mut child = tokio::process::Command::new(exe)
        .arg("up")
        .arg("--state-dir")
        .arg(state.root())
        // Its output would scribble over the console: it is read and passed on instead.
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run opsbox up")?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        anyhow::bail!("cannot read the output of opsbox up");
    };
    let forward = |stream: Box<dyn tokio::io::AsyncRead + Unpin + Send>| {
        let progress = progress.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if progress.send(line).await.is_err() {
                    return;
                }
            }
        })
    };
    let readers = [forward(Box::new(stdout)), forward(Box::new(stderr))];
    drop(progress);
    let status = child.wait().await.context("cannot wait for opsbox up")?;
    for reader in readers {
        let _ = reader.await;
    }
    anyhow::ensure!(status.success(), "opsbox up ended with {status}");
    Ok(())
}

#[cfg(test)]
mod tests;
