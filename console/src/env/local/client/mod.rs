//! Talks to a running daemon over its control endpoint; the `local` side of [`Environment`].
//!
//! [`ControlClient::get`] and [`ControlClient::post`] carry the token and turn the
//! daemon's `{"error": ...}` answers into errors that say what the daemon said; each
//! verb's typed call lives next to the verb.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::daemon_record::{self, DaemonRecord};
use super::rollout_api::StartRollout;
use super::secret;
use super::state_dir::StateDir;
use crate::chaos::{KillRequest, Killed};
use crate::env::Environment;
use crate::model::slo::{SloQuery, SloReport};
use crate::model::{EnvironmentStatus, RolloutStatus};

/// How long one control request may take by default; the daemon answers most from memory.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A graceful restart waits for the instance's drain (up to its grace period).
const RESTART_TIMEOUT: Duration = Duration::from_secs(30);

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
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let response = self
            .send(self.http.get(self.url(path)), REQUEST_TIMEOUT)
            .await?;
        decode(response).await
    }

    /// `POST path` with a JSON body, decoded from JSON. `timeout` bounds verbs that take
    /// a while (a rollout step, a drill); most answer at once.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
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

/// The `local` environment as the console sees it: a daemon reached through its control endpoint.
#[derive(Debug, Clone)]
pub struct LocalEnvironment {
    client: ControlClient,
}

impl LocalEnvironment {
    pub fn new(client: ControlClient) -> Self {
        Self { client }
    }

    pub fn client(&self) -> &ControlClient {
        &self.client
    }
}

impl Environment for LocalEnvironment {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn status(&self) -> anyhow::Result<EnvironmentStatus> {
        self.client.status().await
    }

    async fn slo(&self, query: SloQuery) -> anyhow::Result<SloReport> {
        self.client.slo(query).await
    }

    async fn rollout(&self) -> anyhow::Result<RolloutStatus> {
        self.client.rollout().await
    }

    async fn start_rollout(
        &self,
        revision: &str,
        overrides: &BTreeMap<String, String>,
    ) -> anyhow::Result<RolloutStatus> {
        self.client
            .rollout_start(&StartRollout {
                revision: revision.to_owned(),
                set: overrides.clone(),
            })
            .await
    }

    async fn promote(&self, full: bool) -> anyhow::Result<RolloutStatus> {
        self.client.rollout_promote(full).await
    }

    async fn abort(&self) -> anyhow::Result<RolloutStatus> {
        self.client.rollout_abort().await
    }

    async fn retry(&self) -> anyhow::Result<RolloutStatus> {
        self.client.rollout_retry().await
    }

    async fn undo(&self, to: Option<&str>) -> anyhow::Result<RolloutStatus> {
        self.client.rollout_undo(to.map(str::to_owned)).await
    }

    async fn kill_instance(&self, name: &str) -> anyhow::Result<Killed> {
        self.client
            .chaos_kill(&KillRequest {
                instance: Some(name.to_owned()),
                workload: None,
                track: None,
            })
            .await
    }

    async fn restart_instance(&self, name: &str) -> anyhow::Result<()> {
        let _: serde_json::Value = self
            .client
            .post(
                &format!("/instances/{name}/restart"),
                &serde_json::json!({}),
                Some(RESTART_TIMEOUT),
            )
            .await?;
        Ok(())
    }
}
