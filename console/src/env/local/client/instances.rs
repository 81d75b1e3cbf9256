//! The instance routes of the local daemon as typed calls.

use std::time::Duration;

use super::ControlClient;

/// A graceful restart waits for the instance's drain (up to its grace period).
const RESTART_TIMEOUT: Duration = Duration::from_secs(30);

impl ControlClient {
    /// Stops `name` gracefully and starts it again; answers once it runs.
    pub async fn restart_instance(&self, name: &str) -> anyhow::Result<()> {
        let _: serde_json::Value = self
            .post(
                &format!("/instances/{name}/restart"),
                &serde_json::json!({}),
                Some(RESTART_TIMEOUT),
            )
            .await?;
        Ok(())
    }
}
