//! `opsbox deploy`: the chart released into a cluster with one environment's values
//! (`helm upgrade --install --wait`), then the API's rollout followed until it pauses,
//! completes or aborts. Helm does the release; the environment contract does the rest.

pub mod follow;
pub mod helm;

use clap::ValueEnum;

/// The environments the chart has values for: `charts/opsbox/values-<stage>.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Stage {
    Dev,
    Staging,
    Prod,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Dev => "dev",
            Stage::Staging => "staging",
            Stage::Prod => "prod",
        }
    }

    /// The values file inside the chart directory.
    pub fn values_file(self) -> String {
        format!("values-{}.yaml", self.as_str())
    }
}
