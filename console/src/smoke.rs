//! The post-deploy smoke check of a running API: liveness, readiness, then a synthetic
//! task created, run and awaited to DONE within a bound (so the queue and a worker must
//! work too). Every step is timed; the first one that fails ends the check, so the
//! report names where the release is broken.

use std::time::{Duration, Instant};

use anyhow::Context;
use opsbox_common::model::{Task, TaskStatus};
use serde::Serialize;
use serde_json::json;

/// One request may take this long; the task's own bound is separate.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// A listener that has not accepted within this is down, not slow.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the task is read while it is awaited: the API has no way to wait for a
/// status change, and a worker takes an `io` task within milliseconds.
const TASK_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// The synthetic task: an `io` task that sleeps this long, so it needs a worker and
/// nothing else.
const TASK_SLEEP_MS: u64 = 10;

/// How the check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    /// The API answered, but not as a healthy release does (or the task never got DONE).
    Failed,
    /// Nothing accepted a connection at the URL.
    Unreachable,
}

/// One step, timed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    pub name: String,
    pub passed: bool,
    pub latency_ms: u64,
    /// Why it failed, or what it saw (the task's id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The whole check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmokeReport {
    pub url: String,
    pub verdict: Verdict,
    /// The synthetic task, once created.
    pub task_id: Option<String>,
    pub steps: Vec<StepReport>,
    pub total_ms: u64,
}

impl SmokeReport {
    /// The step that failed, if one did.
    pub fn failed_step(&self) -> Option<&StepReport> {
        self.steps.iter().find(|step| !step.passed)
    }
}

/// Why a step failed.
#[derive(Debug)]
enum StepError {
    Unreachable(String),
    Failed(String),
}

/// The API at one base URL, with the task's bound.
#[derive(Debug, Clone)]
pub struct SmokeCheck {
    http: reqwest::Client,
    base_url: String,
    task_bound: Duration,
}

impl SmokeCheck {
    /// `base_url` must already be a checked `http://` URL (see [`crate::load::check_base_url`]).
    pub fn new(base_url: &str, task_bound: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            task_bound,
        })
    }

    /// Runs the steps in order, handing each to `on_step` as it ends.
    pub async fn run(&self, on_step: impl FnMut(&StepReport)) -> SmokeReport {
        let started = Instant::now();
        let mut steps = Steps {
            report: SmokeReport {
                url: self.base_url.clone(),
                verdict: Verdict::Passed,
                task_id: None,
                steps: Vec::new(),
                total_ms: 0,
            },
            on_step,
        };
        let bound = crate::durations::spoken(self.task_bound);
        let checked: Result<(), Stopped> = async {
            steps.time("GET /health", self.probe("/health")).await?;
            steps.time("GET /ready", self.probe("/ready")).await?;
            let id = steps.time("POST /tasks", self.create_task()).await?;
            steps.report.task_id = Some(id.clone());
            steps
                .time("POST /tasks/{id}/run", self.run_task(&id))
                .await?;
            steps
                .time(&format!("task DONE (<= {bound})"), self.await_done(&id))
                .await
        }
        .await;
        // The first failed step already set the verdict and was reported.
        let _ = checked;
        let mut report = steps.report;
        report.total_ms = millis(started.elapsed());
        report
    }

    async fn probe(&self, path: &str) -> Result<(), StepError> {
        let response = self.send(self.http.get(self.url(path))).await?;
        expect_status(response, reqwest::StatusCode::OK)
            .await
            .map(drop)
    }

    async fn create_task(&self) -> Result<String, StepError> {
        let title = format!("smoke {}", chrono::Utc::now().to_rfc3339());
        let body = json!({ "title": title, "kind": "io", "payload": { "ms": TASK_SLEEP_MS } });
        let response = self
            .send(self.http.post(self.url("/tasks")).json(&body))
            .await?;
        let task = read_task(expect_status(response, reqwest::StatusCode::CREATED).await?)?;
        Ok(task.id.to_string())
    }

    async fn run_task(&self, id: &str) -> Result<(), StepError> {
        let response = self
            .send(self.http.post(self.url(&format!("/tasks/{id}/run"))))
            .await?;
        expect_status(response, reqwest::StatusCode::ACCEPTED)
            .await
            .map(drop)
    }

    /// Reads the task until it is DONE; FAILED, or the bound passing, fails the step.
    async fn await_done(&self, id: &str) -> Result<(), StepError> {
        let mut last_seen = None;
        let polled = tokio::time::timeout(self.task_bound, async {
            let mut ticks = tokio::time::interval(TASK_POLL_INTERVAL);
            loop {
                ticks.tick().await;
                let response = self
                    .send(self.http.get(self.url(&format!("/tasks/{id}"))))
                    .await?;
                let task = read_task(expect_status(response, reqwest::StatusCode::OK).await?)?;
                match task.status {
                    TaskStatus::Done => return Ok(()),
                    TaskStatus::Failed => {
                        return Err(StepError::Failed(format!(
                            "the task ended FAILED: {}",
                            task.error.unwrap_or_else(|| "no error given".to_owned())
                        )))
                    }
                    status => last_seen = Some(status),
                }
            }
        })
        .await;
        polled.unwrap_or_else(|_| {
            let status = last_seen.map_or("unknown", TaskStatus::as_str);
            Err(StepError::Failed(format!(
                "the task is still {status} after {}: is a worker running and taking jobs \
                 (`opsbox status`, `opsbox queue`)?",
                crate::durations::spoken(self.task_bound)
            )))
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, StepError> {
        request.send().await.map_err(|error| {
            if error.is_connect() {
                StepError::Unreachable(format!(
                    "nothing accepts connections at {}: {}",
                    self.base_url,
                    root_cause(&error)
                ))
            } else if error.is_timeout() {
                StepError::Failed(format!(
                    "no answer within {}",
                    crate::durations::spoken(REQUEST_TIMEOUT)
                ))
            } else {
                StepError::Failed(root_cause(&error))
            }
        })
    }
}

/// A failed step ended the check.
#[derive(Debug)]
struct Stopped;

/// The report as it grows, and who hears of each step.
struct Steps<F> {
    report: SmokeReport,
    on_step: F,
}

impl<F: FnMut(&StepReport)> Steps<F> {
    /// Times one step and reports it; a failed one sets the verdict and stops the check.
    async fn time<T>(
        &mut self,
        name: &str,
        step: impl std::future::Future<Output = Result<T, StepError>>,
    ) -> Result<T, Stopped> {
        let started = Instant::now();
        let result = step.await;
        let latency_ms = millis(started.elapsed());
        let (value, detail) = match result {
            Ok(value) => (Some(value), None),
            Err(StepError::Failed(why)) => {
                self.report.verdict = Verdict::Failed;
                (None, Some(why))
            }
            Err(StepError::Unreachable(why)) => {
                self.report.verdict = Verdict::Unreachable;
                (None, Some(why))
            }
        };
        let step = StepReport {
            name: name.to_owned(),
            passed: value.is_some(),
            latency_ms,
            detail,
        };
        (self.on_step)(&step);
        self.report.steps.push(step);
        value.ok_or(Stopped)
    }
}

async fn expect_status(
    response: reqwest::Response,
    expected: reqwest::StatusCode,
) -> Result<bytes::Bytes, StepError> {
    let status = response.status();
    let body = response.bytes().await.map_err(|error| {
        StepError::Failed(format!("the answer broke off: {}", root_cause(&error)))
    })?;
    if status == expected {
        return Ok(body);
    }
    let text = String::from_utf8_lossy(&body);
    let shown: String = text.chars().take(200).collect();
    Err(StepError::Failed(format!(
        "answered {status} (expected {expected}): {}",
        shown.trim()
    )))
}

fn read_task(body: bytes::Bytes) -> Result<Task, StepError> {
    serde_json::from_slice(&body)
        .map_err(|error| StepError::Failed(format!("the answer is not a task: {error}")))
}

/// The innermost error: "Connection refused" rather than "error sending request".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_step_sets_the_verdict_stops_and_is_named() {
        let mut heard = Vec::new();
        let mut steps = Steps {
            report: SmokeReport {
                url: "http://127.0.0.1:1".to_owned(),
                verdict: Verdict::Passed,
                task_id: None,
                steps: Vec::new(),
                total_ms: 0,
            },
            on_step: |step: &StepReport| heard.push(step.name.clone()),
        };
        let passed = steps.time("GET /health", async { Ok(7) }).await;
        assert_eq!(passed.ok(), Some(7));
        let failed = steps
            .time("GET /ready", async {
                Err::<(), _>(StepError::Failed("answered 503".to_owned()))
            })
            .await;
        assert!(failed.is_err());
        let report = steps.report;
        assert_eq!(report.verdict, Verdict::Failed);
        let step = report.failed_step().expect("a failed step");
        assert_eq!(step.name, "GET /ready");
        assert_eq!(step.detail.as_deref(), Some("answered 503"));
        assert_eq!(heard, ["GET /health", "GET /ready"]);
    }
}
