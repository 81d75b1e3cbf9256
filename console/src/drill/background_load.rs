//! The background load of a drill (`start-load` / `stop-load`): `opsbox load` running
//! inside the drill, its running totals readable by the monitor.

use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::spec::LoadAction;
use super::timeline::LoadCounts;
use crate::load::{self, KindMix, LoadConfig, LoadProgress, LoadReport, Mix};

/// A load runs at most this long; the drill stops it long before, at its end.
const MAX_LOAD: Duration = Duration::from_secs(60 * 60);

/// Which load run it is, and its running totals.
type CurrentLoad = Option<(u32, watch::Receiver<LoadProgress>)>;

/// The load running now, if any, as the monitor reads it.
#[derive(Clone, Default)]
pub struct LoadGauge {
    current: Arc<Mutex<CurrentLoad>>,
}

impl LoadGauge {
    /// The running load's totals; `None` when no load runs.
    pub fn counts(&self) -> Option<LoadCounts> {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let (run, progress) = current.as_ref()?;
        let progress = progress.borrow();
        let server_errors: u64 = progress
            .by_status
            .iter()
            .filter(|(status, _)| **status >= 500)
            .map(|(_, count)| count)
            .sum();
        Some(LoadCounts {
            run: *run,
            finished: progress.finished,
            failures: server_errors + progress.transport_errors,
        })
    }

    fn set(&self, value: CurrentLoad) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = value;
    }
}

/// One `start-load` of the drill.
pub struct BackgroundLoad {
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<LoadReport>>,
    gauge: LoadGauge,
}

impl BackgroundLoad {
    /// Starts the load against `base_url`; `run` numbers the loads of one drill.
    pub fn start(
        base_url: &str,
        action: &LoadAction,
        run: u32,
        gauge: &LoadGauge,
    ) -> anyhow::Result<Self> {
        let mut config = LoadConfig {
            rps: action.rps,
            duration: MAX_LOAD,
            ..LoadConfig::default()
        };
        if let Some(mix) = &action.mix {
            config.mix = Mix::from_str(mix).map_err(anyhow::Error::msg)?;
        }
        if let Some(kinds) = &action.kinds {
            config.kinds = KindMix::from_str(kinds).map_err(anyhow::Error::msg)?;
        }
        config.validate()?;
        let (progress, watcher) = watch::channel(LoadProgress::default());
        gauge.set(Some((run, watcher)));
        let stop = CancellationToken::new();
        let base_url = base_url.to_owned();
        let task = tokio::spawn({
            let stop = stop.clone();
            async move { load::run(&base_url, &config, stop, Some(progress)).await }
        });
        Ok(Self {
            stop,
            task,
            gauge: gauge.clone(),
        })
    }

    /// Stops the load and returns its report.
    pub async fn stop(self) -> anyhow::Result<LoadReport> {
        self.stop.cancel();
        let report = self
            .task
            .await
            .context("the background load ended abnormally")?;
        self.gauge.set(None);
        report
    }
}
