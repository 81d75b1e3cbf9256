//! The canary strategy, read from the Helm chart's values (`rollout.steps`), so the local
//! environment walks the steps Argo Rollouts walks in a cluster.

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use crate::model::{PauseStep, RolloutStep};
use crate::slo::PromDuration;

/// `charts/opsbox/values.yaml` at build time: the default strategy from any directory.
const CHART_VALUES: &str = include_str!("../../../../../../charts/opsbox/values.yaml");

/// Points at another values file with the same `rollout:` section (e.g. shorter pauses).
pub const CHART_VALUES_ENV: &str = "OPSBOX_CHART_VALUES";

/// The most canary instances a rollout starts.
const MAX_CANARY_REPLICAS: u16 = 8;

/// The longest pause step accepted; a typo should not park a rollout for a year.
const MAX_PAUSE_SECONDS: u64 = 24 * 3600;

/// Steps and canary size, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strategy {
    pub steps: Vec<RolloutStep>,
    pub canary_replicas: u16,
}

#[derive(Debug, Deserialize)]
struct ChartValues {
    rollout: RolloutValues,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RolloutValues {
    // serde_yaml reads enums as `!Tag`s by default; Argo writes `- setWeight: 10`.
    #[serde(with = "serde_yaml::with::singleton_map_recursive")]
    steps: Vec<RolloutStep>,
    #[serde(default = "default_canary_replicas")]
    canary_replicas: u16,
}

fn default_canary_replicas() -> u16 {
    1
}

impl Strategy {
    /// From `OPSBOX_CHART_VALUES` when set, else the chart's values built into the binary.
    pub fn load() -> anyhow::Result<Self> {
        match std::env::var_os(CHART_VALUES_ENV).filter(|path| !path.is_empty()) {
            Some(path) => Self::from_file(Path::new(&path)),
            None => Self::from_values(CHART_VALUES).context("the built-in chart values"),
        }
    }

    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the chart values {}", path.display()))?;
        Self::from_values(&text).with_context(|| format!("invalid chart values {}", path.display()))
    }

    /// Parses the `rollout:` section of a chart values document.
    pub fn from_values(text: &str) -> anyhow::Result<Self> {
        let values: ChartValues =
            serde_yaml::from_str(text).context("`rollout.steps` does not parse")?;
        let strategy = Strategy {
            steps: values.rollout.steps,
            canary_replicas: values.rollout.canary_replicas,
        };
        strategy.validate()?;
        Ok(strategy)
    }

    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.steps.is_empty(), "`rollout.steps` is empty");
        anyhow::ensure!(
            (1..=MAX_CANARY_REPLICAS).contains(&self.canary_replicas),
            "`rollout.canaryReplicas` must be 1-{MAX_CANARY_REPLICAS}, not {}",
            self.canary_replicas
        );
        for (index, step) in self.steps.iter().enumerate() {
            let position = index + 1;
            match step {
                RolloutStep::SetWeight(weight) => anyhow::ensure!(
                    *weight <= 100,
                    "step {position}: setWeight {weight} is not a percentage (0-100)"
                ),
                RolloutStep::Pause(PauseStep {
                    duration: Some(text),
                }) => {
                    let duration = PromDuration::parse(text)
                        .map_err(|reason| anyhow::anyhow!("step {position}: pause {reason}"))?;
                    anyhow::ensure!(
                        duration.seconds() <= MAX_PAUSE_SECONDS,
                        "step {position}: pause {text} is longer than a day"
                    );
                }
                RolloutStep::Pause(_) | RolloutStep::Analysis(_) => {}
                RolloutStep::Other(kind) => {
                    anyhow::bail!(
                        "step {position}: {kind} is not a step the local environment runs"
                    )
                }
            }
        }
        Ok(())
    }

    /// How long a pause step lasts; `None` waits for `promote`.
    pub fn pause_duration(&self, pause: &PauseStep) -> Option<chrono::Duration> {
        let duration = PromDuration::parse(pause.duration.as_deref()?).ok()?;
        i64::try_from(duration.seconds())
            .ok()
            .map(chrono::Duration::seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AnalysisStep;

    #[test]
    fn the_chart_values_hold_the_default_strategy() {
        let strategy = Strategy::from_values(CHART_VALUES).expect("valid");
        let thirty_seconds = || {
            RolloutStep::Pause(PauseStep {
                duration: Some("30s".into()),
            })
        };
        assert_eq!(
            strategy.steps,
            [
                RolloutStep::SetWeight(10),
                thirty_seconds(),
                RolloutStep::Analysis(AnalysisStep {}),
                RolloutStep::SetWeight(50),
                thirty_seconds(),
                RolloutStep::Analysis(AnalysisStep {}),
                RolloutStep::SetWeight(100),
            ]
        );
        assert_eq!(strategy.canary_replicas, 1);
        assert_eq!(
            strategy.pause_duration(&PauseStep {
                duration: Some("30s".into())
            }),
            Some(chrono::Duration::seconds(30))
        );
    }

    #[test]
    fn invalid_strategies_say_which_step() {
        let cases = [
            ("rollout:\n  steps: []\n", "empty"),
            (
                "rollout:\n  steps:\n    - setWeight: 120\n",
                "step 1: setWeight 120",
            ),
            (
                "rollout:\n  steps:\n    - setWeight: 5\n    - pause: {duration: 10x}\n",
                "step 2: pause",
            ),
            (
                "rollout:\n  steps:\n    - pause: {duration: 2d}\n",
                "longer than a day",
            ),
            ("rollout:\n  steps:\n    - jump: 3\n", "does not parse"),
            (
                "rollout:\n  canaryReplicas: 0\n  steps:\n    - setWeight: 5\n",
                "canaryReplicas",
            ),
        ];
        for (text, expected) in cases {
            let error = format!("{:#}", Strategy::from_values(text).expect_err(text));
            assert!(error.contains(expected), "{text:?} gave {error:?}");
        }
    }
}
