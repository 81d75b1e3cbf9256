//! Talks to a running daemon over its control endpoint; the `local` side of [`Environment`].

use std::time::Duration;

use anyhow::Context;

use super::daemon_record::{self, DaemonRecord};
use super::secret;
use super::state_dir::StateDir;
use crate::env::Environment;
use crate::model::EnvironmentStatus;

/// How long one control request may take; the daemon answers from memory.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to the daemon named in `daemon.json`.
#[derive(Debug, Clone)]
pub struct ControlClient {
    record: DaemonRecord,
    token: String,
    http: reqwest::Client,
}

impl ControlClient {
    /// `None` when no daemon record exists in the state directory.
    pub fn from_state_dir(state: &StateDir) -> anyhow::Result<Option<Self>> {
        let Some(record) = daemon_record::read::<DaemonRecord>(&state.daemon_record())? else {
            return Ok(None);
        };
        let token = secret::read_token(&record.token_path)?;
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
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
        let response = self
            .http
            .get(self.url("/status"))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("the daemon at {} does not answer", self.record.control_addr))?
            .error_for_status()
            .context("the daemon refused the status request")?;
        response
            .json()
            .await
            .context("the daemon's status is not valid JSON")
    }

    /// Asks the daemon to stop everything; it answers before it is done.
    pub async fn shutdown(&self) -> anyhow::Result<()> {
        self.http
            .post(self.url("/shutdown"))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("the daemon at {} does not answer", self.record.control_addr))?
            .error_for_status()
            .context("the daemon refused the shutdown request")?;
        Ok(())
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.record.control_addr)
    }
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
}

impl Environment for LocalEnvironment {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn status(&self) -> anyhow::Result<EnvironmentStatus> {
        self.client.status().await
    }
}
