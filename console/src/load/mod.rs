//! Bounded synthetic traffic against the task API: `opsbox load`, and the load
//! under which the drills run their experiments.
//!
//! Requests leave on an open-loop schedule (`rps` a second for `duration`),
//! each on its own task, at most `max_in_flight` at once: a slot that finds the
//! cap reached is counted as skipped instead of queued, so a stalled server
//! cannot make the client grow. When the time is up, or `stop` is cancelled,
//! the requests still in flight get `drain` to finish; the rest are abandoned
//! and counted as unfinished.

mod mix;
mod pacing;
mod recorder;
mod report;
mod task_api;
mod task_pool;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

pub use mix::{KindMix, Mix, Operation, MAX_WEIGHT};
pub use report::{LoadProgress, LoadReport, OperationReport, Percentiles};
pub use task_api::check_base_url;

use pacing::Pacer;
use recorder::Recorder;
use task_api::{TaskApi, TaskRequest};
use task_pool::TaskPool;

/// The highest rate accepted: far above what two cores serve, low enough that
/// the schedule's arithmetic and the per-request tasks stay cheap.
pub const MAX_RPS: u32 = 10_000;
/// The longest run accepted; `make demo` runs for this long.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
/// The most requests in flight accepted (each holds a connection).
pub const MAX_IN_FLIGHT: usize = 4096;
/// The longest request timeout accepted (the latency histogram's range).
pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How often running totals are published.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// What to send, how fast, for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadConfig {
    /// Requests a second, open loop.
    pub rps: u32,
    /// How long requests are sent.
    pub duration: Duration,
    pub mix: Mix,
    /// The kinds of the tasks `create` makes.
    pub kinds: KindMix,
    /// Requests outstanding at most; slots beyond are skipped.
    pub max_in_flight: usize,
    /// A request without a complete answer by then is a transport error.
    pub request_timeout: Duration,
    /// After `duration`, how long requests in flight may still finish.
    pub drain: Duration,
}

impl Default for LoadConfig {
    /// What the demo wants: a steady 20 requests a second for 30 s.
    fn default() -> Self {
        Self {
            rps: 20,
            duration: Duration::from_secs(30),
            mix: Mix::default(),
            kinds: KindMix::default(),
            max_in_flight: 64,
            request_timeout: Duration::from_secs(10),
            drain: Duration::from_secs(5),
        }
    }
}

impl LoadConfig {
    /// Refuses settings outside the bounds above.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=MAX_RPS).contains(&self.rps),
            "the rate must be 1 to {MAX_RPS} requests a second; got {}",
            self.rps
        );
        anyhow::ensure!(
            !self.duration.is_zero() && self.duration <= MAX_DURATION,
            "the duration must be above 0 and at most {}; got {:?}",
            crate::durations::spoken(MAX_DURATION),
            self.duration
        );
        anyhow::ensure!(
            (1..=MAX_IN_FLIGHT).contains(&self.max_in_flight),
            "max_in_flight must be 1 to {MAX_IN_FLIGHT}; got {}",
            self.max_in_flight
        );
        anyhow::ensure!(
            !self.request_timeout.is_zero() && self.request_timeout <= MAX_REQUEST_TIMEOUT,
            "the request timeout must be above 0 and at most {}; got {:?}",
            crate::durations::spoken(MAX_REQUEST_TIMEOUT),
            self.request_timeout
        );
        anyhow::ensure!(
            self.drain <= MAX_REQUEST_TIMEOUT,
            "the drain time must be at most {}; got {:?}",
            crate::durations::spoken(MAX_REQUEST_TIMEOUT),
            self.drain
        );
        Ok(())
    }
}

/// What the request tasks share with the pacing loop.
struct Shared {
    recorder: Mutex<Recorder>,
    tasks: Mutex<TaskPool>,
}

/// A poisoned lock only means a request task panicked mid-update; the counts are
/// still the best there are.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sends the load to `base_url` (the router, e.g. `http://127.0.0.1:8080`) and
/// reports what happened. Once `stop` is cancelled it sends no more and returns
/// early, with the figures so far (after at most `config.drain` for the
/// requests in flight); `progress` receives running totals about every 250 ms.
/// Errors only when it cannot run at all (bad config or URL).
pub async fn run(
    base_url: &str,
    config: &LoadConfig,
    stop: CancellationToken,
    progress: Option<watch::Sender<LoadProgress>>,
) -> anyhow::Result<LoadReport> {
    config.validate()?;
    let api = Arc::new(TaskApi::new(
        base_url,
        config.request_timeout,
        config.max_in_flight,
    )?);
    let shared = Arc::new(Shared {
        recorder: Mutex::new(Recorder::new()?),
        tasks: Mutex::new(TaskPool::default()),
    });
    let permits = Arc::new(Semaphore::new(config.max_in_flight));
    let pacer = Pacer::new(config.rps, config.duration);
    let mut operations = config.mix.cycle();
    let mut kinds = config.kinds.cycle();
    let mut in_flight = JoinSet::new();
    let mut counts = SlotCounts::default();
    let mut stopped_early = false;

    let started_at = Utc::now();
    let started = Instant::now();
    let mut publish = tokio::time::interval(PROGRESS_INTERVAL);
    publish.set_missed_tick_behavior(MissedTickBehavior::Skip);

    while let Some(due_at) = pacer.due_at(counts.slots) {
        // Collect what finished, so the set holds only requests in flight.
        while in_flight.try_join_next().is_some() {}
        tokio::select! {
            biased;
            () = stop.cancelled() => {
                stopped_early = true;
                break;
            }
            _ = publish.tick() => {
                if let Some(progress) = &progress {
                    progress.send_replace(snapshot(&shared, &counts, in_flight.len(), started.elapsed()));
                }
            }
            () = tokio::time::sleep_until(started + due_at) => {
                let due = pacer.due_by(started.elapsed());
                while counts.slots < due {
                    counts.slots += 1;
                    let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                        counts.skipped += 1;
                        continue;
                    };
                    counts.sent += 1;
                    let request = next_request(
                        &mut operations,
                        &mut kinds,
                        &shared,
                        counts.sent,
                    );
                    let (api, shared) = (Arc::clone(&api), Arc::clone(&shared));
                    in_flight.spawn(async move {
                        let sent = api.send(&request).await;
                        let mut recorder = lock(&shared.recorder);
                        recorder.record(request.operation(), sent.outcome);
                        if let Some(id) = sent.created_task {
                            recorder.task_created();
                            drop(recorder);
                            lock(&shared.tasks).created(id);
                        }
                        drop(permit);
                    });
                }
            }
        }
    }
    if !stopped_early {
        // The last slot is due 1/rps before the end: the run lasts its whole duration,
        // so the achieved rate is over the time asked for.
        tokio::select! {
            () = stop.cancelled() => stopped_early = true,
            () = tokio::time::sleep_until(started + config.duration) => {}
        }
    }
    let elapsed = started.elapsed();

    // Also after a stop: a create in flight may already have made its task, and
    // a drill that counts tasks needs its answer.
    let drained = async { while in_flight.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(config.drain, drained).await;
    while in_flight.try_join_next().is_some() {}
    let unfinished = in_flight.len() as u64;
    in_flight.abort_all();
    // Wait for the aborts, so no request task touches the figures after this.
    while in_flight.join_next().await.is_some() {}

    if let Some(progress) = &progress {
        progress.send_replace(snapshot(&shared, &counts, 0, elapsed));
    }
    let recorder = lock(&shared.recorder);
    Ok(LoadReport {
        base_url: base_url.to_owned(),
        started_at,
        finished_at: Utc::now(),
        target_rps: config.rps,
        planned_secs: config.duration.as_secs_f64(),
        elapsed_secs: elapsed.as_secs_f64(),
        stopped_early,
        requests: counts.sent,
        by_status: recorder.by_status(),
        transport_errors: recorder.transport_errors(),
        transport_errors_by_kind: recorder.transport_errors_by_kind(),
        skipped: counts.skipped,
        unfinished,
        max_in_flight: config.max_in_flight,
        tasks_created: recorder.tasks_created(),
        latency_ms: recorder.latency(),
        achieved_rps: rate(counts.sent, elapsed),
        operations: recorder.operations(),
    })
}

/// Where the pacing loop is in its schedule.
#[derive(Debug, Default)]
struct SlotCounts {
    /// Slots of the schedule passed.
    slots: u64,
    sent: u64,
    skipped: u64,
}

/// The next request of the mix. `run` and `read` need a task this run created;
/// until there is one, they create one.
fn next_request(
    operations: &mut mix::WeightedCycle<Operation>,
    kinds: &mut mix::WeightedCycle<opsbox_common::model::TaskKind>,
    shared: &Shared,
    sequence: u64,
) -> TaskRequest {
    let target = match operations.next_item() {
        Some(Operation::Run) => lock(&shared.tasks)
            .take_to_run()
            .map(|id| TaskRequest::Run { id }),
        Some(Operation::Read) => lock(&shared.tasks)
            .pick_to_read()
            .map(|id| TaskRequest::Read { id }),
        Some(Operation::List) => Some(TaskRequest::List),
        Some(Operation::Create) | None => None,
    };
    target.unwrap_or_else(|| TaskRequest::Create {
        title: format!("load {sequence}"),
        kind: kinds.next_item().unwrap_or_default(),
    })
}

fn snapshot(
    shared: &Shared,
    counts: &SlotCounts,
    in_flight: usize,
    elapsed: Duration,
) -> LoadProgress {
    let recorder = lock(&shared.recorder);
    let by_status = recorder.by_status();
    let latency = recorder.latency();
    LoadProgress {
        elapsed,
        requests: counts.sent,
        finished: recorder.finished(),
        in_flight: in_flight as u64,
        skipped: counts.skipped,
        non_2xx: report::non_2xx(&by_status),
        by_status,
        transport_errors: recorder.transport_errors(),
        tasks_created: recorder.tasks_created(),
        latency_p50_ms: latency.p50,
        latency_p99_ms: latency.p99,
        achieved_rps: rate(counts.sent, elapsed),
    }
}

fn rate(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_bounds_are_enforced() {
        let config = LoadConfig::default();
        config.validate().expect("defaults are valid");
        assert_eq!((config.rps, config.duration), (20, Duration::from_secs(30)));
        for (bad, reason) in [
            (
                LoadConfig {
                    rps: 0,
                    ..config.clone()
                },
                "rate",
            ),
            (
                LoadConfig {
                    rps: MAX_RPS + 1,
                    ..config.clone()
                },
                "rate",
            ),
            (
                LoadConfig {
                    duration: Duration::ZERO,
                    ..config.clone()
                },
                "duration",
            ),
            (
                LoadConfig {
                    duration: MAX_DURATION + Duration::from_secs(1),
                    ..config.clone()
                },
                "at most 24h",
            ),
            (
                LoadConfig {
                    max_in_flight: 0,
                    ..config.clone()
                },
                "max_in_flight",
            ),
            (
                LoadConfig {
                    request_timeout: Duration::ZERO,
                    ..config.clone()
                },
                "timeout",
            ),
            (
                LoadConfig {
                    drain: Duration::from_secs(61),
                    ..config.clone()
                },
                "drain",
            ),
        ] {
            let err = bad.validate().expect_err(reason).to_string();
            assert!(err.contains(reason), "{reason}: {err}");
        }
    }

    #[tokio::test]
    async fn run_refuses_a_bad_config_or_url_before_sending() {
        let stop = CancellationToken::new();
        let config = LoadConfig {
            rps: 0,
            ..LoadConfig::default()
        };
        assert!(run("http://127.0.0.1:9", &config, stop.clone(), None)
            .await
            .is_err());
        let err = run("localhost:8080", &LoadConfig::default(), stop, None)
            .await
            .expect_err("not a URL");
        assert!(err.to_string().contains("localhost:8080"), "{err}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_transport_error_and_the_run_keeps_its_schedule() {
        // A port nobody listens on: bind, note the port, close.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
            listener.local_addr().expect("address").port()
        };
        let config = LoadConfig {
            rps: 100,
            duration: Duration::from_millis(300),
            ..LoadConfig::default()
        };
        let (progress, watcher) = watch::channel(LoadProgress::default());
        let report = run(
            &format!("http://127.0.0.1:{port}"),
            &config,
            CancellationToken::new(),
            Some(progress),
        )
        .await
        .expect("runs");
        assert_eq!(report.requests, 30);
        assert_eq!(report.transport_errors, 30);
        assert_eq!(report.transport_errors_by_kind.get("connect"), Some(&30));
        assert_eq!(report.error_ratio(), 1.0);
        assert_eq!(report.tasks_created, 0);
        // Nothing was created, so every request of the mix fell back to create.
        assert_eq!(
            report.operations.keys().collect::<Vec<_>>(),
            vec![&Operation::Create]
        );
        let last = watcher.borrow().clone();
        assert_eq!((last.requests, last.finished, last.in_flight), (30, 30, 0));
    }

    #[tokio::test]
    async fn a_cancelled_run_returns_at_once_with_what_it_has() {
        let stop = CancellationToken::new();
        stop.cancel();
        let config = LoadConfig {
            duration: Duration::from_secs(3600),
            ..LoadConfig::default()
        };
        let started = std::time::Instant::now();
        let report = run("http://127.0.0.1:9", &config, stop, None)
            .await
            .expect("runs");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(report.stopped_early);
        assert_eq!(report.requests, 0);
    }
}
