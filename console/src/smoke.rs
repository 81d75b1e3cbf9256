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
    pub async fn run(&self, mut on_step: impl FnMut(&StepReport)) -> SmokeReport {
        let started = Instant::now();
        let mut report = SmokeReport {
            url: self.base_url.clone(),
            verdict: Verdict::Passed,
            task_id: None,
            steps: Vec::new(),
            total_ms: 0,
        };
        let mut step =
            |name: String, started: Instant, result: Result<Option<String>, StepError>| {
                let (passed, detail, verdict) = match result {
                    Ok(detail) => (true, detail, Verdict::Passed),
                    Err(StepError::Failed(why)) => (false, Some(why), Verdict::Failed),
                    Err(StepError::Unreachable(why)) => (false, Some(why), Verdict::Unreachable),
                };
                let step = StepReport {
                    name,
                    passed,
                    latency_ms: millis(started.elapsed()),
                    detail,
                };
                on_step(&step);
                (step, verdict)
            };
        let outcome = async {
            for path in ["/health", "/ready"] {
                let at = Instant::now();
                let result = self.probe(path).await.map(|()| None);
                report_step(&mut report, step(format!("GET {path}"), at, result))?;
            }
            let at = Instant::now();
            let created = self.create_task().await;
            let id = created.as_ref().ok().cloned();
            report_step(
                &mut report,
                step("POST /tasks".to_owned(), at, created.map(Some)),
            )?;
            let id = id.unwrap_or_default();
            report.task_id = Some(id.clone());
            let at = Instant::now();
            let result = self.run_task(&id).await.map(|()| None);
            report_step(
                &mut report,
                step("POST /tasks/{id}/run".to_owned(), at, result),
            )?;
            let at = Instant::now();
            let result = self.await_done(&id).await.map(|()| None);
            let name = format!(
                "task DONE (<= {})",
                crate::durations::spoken(self.task_bound)
            );
            report_step(&mut report, step(name, at, result))
        };
        let _ = outcome.await;
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

/// Appends the step; a failed one sets the verdict and ends the check.
fn report_step(report: &mut SmokeReport, (step, verdict): (StepReport, Verdict)) -> Result<(), ()> {
    let passed = step.passed;
    report.steps.push(step);
    if passed {
        Ok(())
    } else {
        report.verdict = verdict;
        Err(())
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

    #[test]
    fn a_failed_step_sets_the_verdict_and_is_named() {
        let mut report = SmokeReport {
            url: "http://127.0.0.1:1".to_owned(),
            verdict: Verdict::Passed,
            task_id: None,
            steps: Vec::new(),
            total_ms: 0,
        };
        let ok = StepReport {
            name: "GET /health".to_owned(),
            passed: true,
            latency_ms: 1,
            detail: None,
        };
        assert!(report_step(&mut report, (ok, Verdict::Passed)).is_ok());
        let refused = StepReport {
            name: "GET /ready".to_owned(),
            passed: false,
            latency_ms: 2,
            detail: Some("answered 503".to_owned()),
        };
        assert!(report_step(&mut report, (refused, Verdict::Failed)).is_err());
        assert_eq!(report.verdict, Verdict::Failed);
        assert_eq!(
            report.failed_step().map(|step| step.name.as_str()),
            Some("GET /ready")
        );
    }
}
