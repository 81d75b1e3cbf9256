//! The requests the load sends to the task API, and what it keeps of the answers.

use std::time::{Duration, Instant};

use anyhow::Context;
use opsbox_common::model::TaskKind;
use serde::Deserialize;
use serde_json::{json, Value};

use super::mix::Operation;
use super::recorder::{Outcome, TransportError};

/// The page size of `list`: the API's default, what a dashboard would ask for.
const LIST_LIMIT: u32 = 20;

/// One request, with its target resolved.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum TaskRequest {
    Create { title: String, kind: TaskKind },
    Run { id: String },
    Read { id: String },
    List,
}

impl TaskRequest {
    pub(super) fn operation(&self) -> Operation {
        match self {
            TaskRequest::Create { .. } => Operation::Create,
            TaskRequest::Run { .. } => Operation::Run,
            TaskRequest::Read { .. } => Operation::Read,
            TaskRequest::List => Operation::List,
        }
    }
}

/// The payload each kind gets: short enough that the workers keep up with a demo's
/// load. A `flaky` task always fails its first attempt, so retries show, and then
/// fails with p = 0.1: with the worker's three attempts, 1% of them end FAILED.
pub(super) fn payload(kind: TaskKind) -> Value {
    match kind {
        TaskKind::Io => json!({ "ms": 100 }),
        TaskKind::Cpu => json!({ "iterations": 100_000 }),
        TaskKind::Flaky => json!({ "fail_first": 1, "p": 0.1 }),
        TaskKind::Fail => json!({}),
    }
}

/// How a request ended, and the id of the task when it created one.
#[derive(Debug)]
pub(super) struct Sent {
    pub outcome: Outcome,
    pub created_task: Option<String>,
}

/// The task API behind one base URL.
#[derive(Debug, Clone)]
pub(super) struct TaskApi {
    http: reqwest::Client,
    base_url: String,
}

impl TaskApi {
    pub(super) fn new(
        base_url: &str,
        request_timeout: Duration,
        max_in_flight: usize,
    ) -> anyhow::Result<Self> {
        let base_url = check_base_url(base_url).map_err(anyhow::Error::msg)?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(request_timeout)
            .tcp_nodelay(true)
            .pool_max_idle_per_host(max_in_flight)
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self { http, base_url })
    }

    /// Sends one request and reads its whole answer; latency is until the last byte.
    pub(super) async fn send(&self, request: &TaskRequest) -> Sent {
        let builder = match request {
            TaskRequest::Create { title, kind } => self
                .http
                .post(format!("{}/tasks", self.base_url))
                .json(&json!({ "title": title, "kind": kind, "payload": payload(*kind) })),
            TaskRequest::Run { id } => self.http.post(format!("{}/tasks/{id}/run", self.base_url)),
            TaskRequest::Read { id } => self.http.get(format!("{}/tasks/{id}", self.base_url)),
            TaskRequest::List => self
                .http
                .get(format!("{}/tasks?limit={LIST_LIMIT}", self.base_url)),
        };
        let started = Instant::now();
        let response = match builder.send().await {
            Ok(response) => response,
            Err(error) => return failed(&error),
        };
        let status = response.status().as_u16();
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => return failed(&error),
        };
        let latency = started.elapsed();
        let created_task = match request {
            TaskRequest::Create { .. } if status == 201 => created_id(&body),
            _ => None,
        };
        Sent {
            outcome: Outcome::Answered { status, latency },
            created_task,
        }
    }
}

/// A base URL of the task API as every client of it takes one: `http://` and a host, no
/// query or fragment; returned without its trailing slash.
pub fn check_base_url(base_url: &str) -> Result<String, String> {
    const EXAMPLE: &str = "expected e.g. http://127.0.0.1:8080";
    let parsed = reqwest::Url::parse(base_url)
        .map_err(|_| format!("{base_url:?} is not a URL ({EXAMPLE})"))?;
    if parsed.scheme() != "http" || parsed.host().is_none() {
        return Err(format!(
            "{base_url:?} is not an http:// URL of a host ({EXAMPLE})"
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("{base_url:?} must not have a query or fragment"));
    }
    Ok(base_url.trim_end_matches('/').to_owned())
}

fn failed(error: &reqwest::Error) -> Sent {
    let kind = if error.is_timeout() {
        TransportError::Timeout
    } else if error.is_connect() {
        TransportError::Connect
    } else if error.is_body() || error.is_decode() {
        TransportError::Body
    } else {
        TransportError::Other
    };
    Sent {
        outcome: Outcome::Failed(kind),
        created_task: None,
    }
}

#[derive(Deserialize)]
struct CreatedTask {
    id: String,
}

fn created_id(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<CreatedTask>(body)
        .ok()
        .map(|task| task.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_base_urls_are_accepted() {
        let timeout = Duration::from_secs(1);
        assert!(TaskApi::new("http://127.0.0.1:8080", timeout, 4).is_ok());
        let api = TaskApi::new("http://127.0.0.1:8080/", timeout, 4).expect("trailing slash");
        assert_eq!(api.base_url, "http://127.0.0.1:8080");
        for bad in [
            "127.0.0.1:8080",
            "ftp://127.0.0.1",
            "http://",
            "http://h/?a=1",
            "not a url",
        ] {
            let err = TaskApi::new(bad, timeout, 4).expect_err(bad);
            assert!(err.to_string().contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn created_ids_come_from_the_answer_body() {
        assert_eq!(
            created_id(br#"{"id":"0193","title":"t","kind":"io"}"#).as_deref(),
            Some("0193")
        );
        assert_eq!(created_id(b"not json"), None);
        assert_eq!(created_id(br#"{"error":"x"}"#), None);
    }

    #[test]
    fn every_kind_has_a_payload_the_worker_accepts() {
        for kind in TaskKind::ALL {
            assert!(payload(kind).is_object(), "{kind:?}");
        }
    }
}
