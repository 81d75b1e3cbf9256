//! The rollout calls a drill makes (`rollout-start`, the `rollout-aborted` checks).
//!
//! Free functions rather than `impl ControlClient` methods, so they cannot clash with
//! the rollout verbs' own typed calls.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::env::local::ControlClient;
use crate::model::RolloutStatus;

/// Starting a rollout starts canary instances; the daemon may answer once they run.
const START_TIMEOUT: Duration = Duration::from_secs(120);

pub async fn start_rollout(
    client: &ControlClient,
    revision: &str,
    set: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let body = serde_json::json!({ "revision": revision, "set": set });
    client
        .post::<_, serde_json::Value>("/rollout/start", &body, Some(START_TIMEOUT))
        .await
        .map(drop)
}

pub async fn rollout_status(client: &ControlClient) -> anyhow::Result<RolloutStatus> {
    client.get("/rollout").await
}
