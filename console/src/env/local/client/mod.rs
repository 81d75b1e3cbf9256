//! Talks to a running daemon over its control endpoint: the one client of the local
//! environment, with a typed call per route.
//!
//! [`ControlClient::get`] and [`ControlClient::post`] carry the token and turn the
//! daemon's `{"error": ...}` answers into errors that say what the daemon said; the typed
//! calls are grouped by feature in the files beside this one.

mod chaos;
mod instances;
mod queue;
mod slo;

use std::time::Duration;

use anyhow::Context;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::daemon_record::{self, DaemonRecord};
use super::secret;
use super::state_dir::StateDir;
use crate::model::EnvironmentStatus;

/// How long one control request may take by default; the daemon answers most from memory.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to the daemon named in `daemon.json`.
#[derive(Debug, Clone)]
pub struct ControlClient {
    record: DaemonRecord,
    token: String,
    http: reqwest::Client,
}

/// What the daemon answered when it refused a request.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DaemonRefused {
    pub status: u16,
    pub message: String,
}

impl ControlClient {
    /// `None` when no daemon record exists in the state directory.
    pub fn from_state_dir(state: &StateDir) -> anyhow::Result<Option<Self>> {
        let Some(record) = daemon_record::read::<DaemonRecord>(&state.daemon_record())? else {
            return Ok(None);
        };
        let token = secret::read_token(&record.token_path)?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Some(Self {
            record,
            token,
            http,
        }))
    }

    pub fn record(&self) -> &DaemonRecord {
        &self.record
    }

    pub async fn status(&self) -> anyhow::Result<EnvironmentStatus> {
        self.get("/status").await
    }

    /// Asks the daemon to stop everything; it answers before it is done.
    pub async fn shutdown(&self) -> anyhow::Result<()> {
        self.send(self.http.post(self.url("/shutdown")), REQUEST_TIMEOUT)
            .await
            .map(drop)
    }

    /// `GET path`, decoded from JSON.
    pub(super) async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let response = self
            .send(self.http.get(self.url(path)), REQUEST_TIMEOUT)
            .await?;
        decode(response).await
    }

    /// `POST path` with a JSON body, decoded from JSON. `timeout` bounds verbs that take
    /// a while (a rollout step, a drill); most answer at once.
    pub(super) async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        timeout: Option<Duration>,
    ) -> anyhow::Result<T> {
        let response = self
            .send(
                self.http.post(self.url(path)).json(body),
                timeout.unwrap_or(REQUEST_TIMEOUT),
            )
            .await?;
        decode(response).await
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> anyhow::Result<reqwest::Response> {
        let response = request
            .bearer_auth(&self.token)
            .timeout(timeout)
            .send()
            .await
            .with_context(|| {
                format!("the daemon at {} does not answer", self.record.control_addr)
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let message = response
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|body| body.get("error")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("the daemon answered {status}"));
        Err(DaemonRefused {
            status: status.as_u16(),
            message,
        }
        .into())
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.record.control_addr)
    }
}

async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> anyhow::Result<T> {
    response
        .json()
        .await
        .context("the daemon's answer is not the JSON expected")
}
