//! The drill's own measuring instrument: a steady trickle of real task requests through
//! the router (create a task, then request its run), each timed and kept.
//!
//! The background load says how much failed; the prober says when, and how fast a
//! failure came back, which is what "answers 503 fast" and "recovered at" need.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::timeline::{push_bounded, ProbeSample};

/// One probe request this often: 5 a second, light next to any load and dense enough
/// to time a recovery to a fraction of a second.
const PROBE_INTERVAL: Duration = Duration::from_millis(200);

/// A probe request without an answer by then counts as no answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The samples, shared with the runner.
pub type ProbeSamples = Arc<Mutex<VecDeque<ProbeSample>>>;

pub struct Prober {
    samples: ProbeSamples,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Prober {
    /// Starts probing `base_url` (the router) at once.
    pub fn start(base_url: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(PROBE_TIMEOUT)
            .build()?;
        let samples: ProbeSamples = Arc::default();
        let stop = CancellationToken::new();
        let task = tokio::spawn(probe_loop(
            http,
            base_url.trim_end_matches('/').to_owned(),
            samples.clone(),
            stop.clone(),
        ));
        Ok(Self {
            samples,
            stop,
            task,
        })
    }

    pub fn samples(&self) -> ProbeSamples {
        self.samples.clone()
    }

    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "the drill's prober ended abnormally");
        }
    }
}

/// Creates a task, then requests its run; a failed create is tried again next time.
async fn probe_loop(
    http: reqwest::Client,
    base_url: String,
    samples: ProbeSamples,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(PROBE_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut created: Option<String> = None;
    let mut sequence: u64 = 0;
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let started = Instant::now();
        let at = Utc::now();
        let (request, is_create) = match created.take() {
            Some(id) => (http.post(format!("{base_url}/tasks/{id}/run")), false),
            None => {
                sequence += 1;
                let create = http
                    .post(format!("{base_url}/tasks"))
                    .json(&serde_json::json!({
                        "title": format!("drill probe {sequence}"),
                        "kind": "io",
                        "payload": {"ms": 10},
                    }));
                (create, true)
            }
        };
        let (status, body) = tokio::select! {
            biased;
            () = stop.cancelled() => return,
            answer = send(request) => answer,
        };
        let sample = ProbeSample {
            at,
            status,
            latency: started.elapsed(),
        };
        if is_create && sample.ok() {
            created = body
                .as_ref()
                .and_then(|body| body.get("id")?.as_str().map(str::to_owned));
        }
        push_bounded(
            &mut samples.lock().unwrap_or_else(PoisonError::into_inner),
            sample,
        );
    }
}

async fn send(request: reqwest::RequestBuilder) -> (Option<u16>, Option<serde_json::Value>) {
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            // The latency a client sees includes the body.
            let body = response.json::<serde_json::Value>().await.ok();
            (Some(status), body)
        }
        Err(_) => (None, None),
    }
}
