//! The rollout verbs on the control endpoint: request bodies, shared by the daemon's
//! routes and the client calls the CLI and the console make.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::client::ControlClient;
use crate::model::RolloutStatus;

/// `POST /rollout/start`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRollout {
    pub revision: String,
    /// Environment overrides of the revision's API instances (`--set KEY=VALUE`).
    #[serde(default)]
    pub set: BTreeMap<String, String>,
}

/// `POST /rollout/promote`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteRollout {
    /// Skip every remaining step and make the canary stable.
    #[serde(default)]
    pub full: bool,
}

/// `POST /rollout/undo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoRollout {
    /// The revision to go back to; the previous stable one when absent.
    #[serde(default)]
    pub to_revision: Option<String>,
}

/// The verbs answer once the change took effect (not when the rollout ends).
const VERB_TIMEOUT: Duration = Duration::from_secs(15);

impl ControlClient {
    pub async fn rollout(&self) -> anyhow::Result<RolloutStatus> {
        self.get("/rollout").await
    }

    pub async fn rollout_start(&self, request: &StartRollout) -> anyhow::Result<RolloutStatus> {
        self.post("/rollout/start", request, Some(VERB_TIMEOUT))
            .await
    }

    pub async fn rollout_promote(&self, full: bool) -> anyhow::Result<RolloutStatus> {
        self.post(
            "/rollout/promote",
            &PromoteRollout { full },
            Some(VERB_TIMEOUT),
        )
        .await
    }

    pub async fn rollout_abort(&self) -> anyhow::Result<RolloutStatus> {
        self.post("/rollout/abort", &serde_json::json!({}), Some(VERB_TIMEOUT))
            .await
    }

    pub async fn rollout_retry(&self) -> anyhow::Result<RolloutStatus> {
        self.post("/rollout/retry", &serde_json::json!({}), Some(VERB_TIMEOUT))
            .await
    }

    pub async fn rollout_undo(&self, to_revision: Option<String>) -> anyhow::Result<RolloutStatus> {
        self.post(
            "/rollout/undo",
            &UndoRollout { to_revision },
            Some(VERB_TIMEOUT),
        )
        .await
    }
}
