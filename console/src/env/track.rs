//! The deployment track of an instance: the stable revision or the canary under rollout.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which revision an instance serves in a canary rollout (Argo Rollouts' stable/canary ReplicaSets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Track {
    Stable,
    Canary,
}

impl Track {
    /// The label value used in metrics, headers and the API's `OPSBOX_TRACK`.
    pub fn as_str(self) -> &'static str {
        match self {
            Track::Stable => "stable",
            Track::Canary => "canary",
        }
    }

    /// The track traffic falls back to when this one has no instance up.
    pub fn other(self) -> Track {
        match self {
            Track::Stable => Track::Canary,
            Track::Canary => Track::Stable,
        }
    }
}

impl fmt::Display for Track {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
