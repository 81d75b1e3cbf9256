//! A canary rollout as every environment shows it, in the vocabulary of Argo Rollouts:
//! steps, the current step index, the canary weight, paused or aborted, analysis runs,
//! and the revision history.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Revisions kept in the history (`undo` goes back through them).
pub const MAX_REVISIONS: usize = 10;

/// Rollout events kept for the console's timeline.
pub const MAX_ROLLOUT_EVENTS: usize = 200;

/// One step of a canary strategy, written as in an Argo Rollout's `strategy.canary.steps`:
/// `{setWeight: 10}`, `{pause: {duration: 30s}}`, `{pause: {}}`, `{analysis: {}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum RolloutStep {
    /// Sends this percentage of requests to the canary.
    SetWeight(u8),
    /// Waits for the duration, or until promoted when it has none.
    Pause(PauseStep),
    /// Measures the canary against the SLOs since the previous step.
    Analysis(AnalysisStep),
    /// A step of a kind this console shows but does not model (an Argo Rollout's
    /// `setCanaryScale`, `experiment`, ...), by its kind. Never read from a spec.
    #[serde(skip_deserializing)]
    Other(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseStep {
    /// `30s`, `5m`; none means "until promoted".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisStep {}

impl std::fmt::Display for RolloutStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RolloutStep::SetWeight(weight) => write!(f, "setWeight {weight}"),
            RolloutStep::Pause(PauseStep {
                duration: Some(duration),
            }) => write!(f, "pause {duration}"),
            RolloutStep::Pause(PauseStep { duration: None }) => f.write_str("pause"),
            RolloutStep::Analysis(_) => f.write_str("analysis"),
            RolloutStep::Other(kind) => f.write_str(kind),
        }
    }
}

/// Where a rollout is, as `kubectl argo rollouts status` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RolloutPhase {
    /// No canary: all traffic on the stable revision (also after a completed rollout).
    Healthy,
    /// Walking the steps.
    Progressing,
    /// On a pause step, or held by an inconclusive analysis; `promote` continues.
    Paused,
    /// Aborted (by the operator or a failed analysis); traffic is back on stable.
    Degraded,
}

impl RolloutPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutPhase::Healthy => "Healthy",
            RolloutPhase::Progressing => "Progressing",
            RolloutPhase::Paused => "Paused",
            RolloutPhase::Degraded => "Degraded",
        }
    }
}

/// A revision: a version label and the environment it sets on the API instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    pub name: String,
    pub overrides: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    /// When it last became the stable revision; `undo` goes back to the one before.
    pub last_stable_at: Option<DateTime<Utc>>,
}

/// How one analysis run (or one of its measurements) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnalysisPhase {
    Running,
    Successful,
    Failed,
    /// Too few canary requests to judge; the rollout pauses for a person to decide.
    Inconclusive,
}

/// One SLO's check of the canary in an analysis run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisMeasurement {
    pub slo: String,
    /// `error_ratio` (must be at or under the threshold) or `good_ratio` (at or above).
    pub metric: String,
    /// `None` when there were too few events to compute it.
    pub value: Option<f64>,
    pub threshold: f64,
    /// Canary events the value was computed from.
    pub events: f64,
    pub phase: AnalysisPhase,
}

/// An analysis step's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisRun {
    pub step_index: usize,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub phase: AnalysisPhase,
    pub measurements: Vec<AnalysisMeasurement>,
    /// Which metric breached and by how much, or why it was inconclusive.
    pub message: Option<String>,
}

/// Something that happened to the rollout, for timelines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutEvent {
    pub at: DateTime<Utc>,
    /// `start`, `step`, `pause`, `promote`, `analysis`, `abort`, `retry`, `complete`, `undo`.
    pub kind: String,
    pub message: String,
}

/// The whole rollout state of one workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutStatus {
    /// The workload's name where the environment has one (a Rollout, a Deployment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Every Rollout of the release, by name, when there are several to choose from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    pub stable_revision: String,
    /// The revision being rolled out (or last aborted), if any.
    pub canary_revision: Option<String>,
    pub phase: RolloutPhase,
    /// Set by `abort` (operator or analysis) until `retry` or a new rollout.
    pub aborted: bool,
    /// Why it is paused or degraded.
    pub message: Option<String>,
    pub steps: Vec<RolloutStep>,
    /// The step being executed; equals `steps.len()` once all are done.
    pub current_step_index: Option<usize>,
    /// The weight in effect at the router, in percent (Argo's "actual weight").
    pub canary_weight: u8,
    /// The weight the current step asks for (Argo's "set weight"), when it differs
    /// from the weight in effect or the environment tells them apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_weight: Option<u8>,
    /// When a timed pause ends.
    pub pause_until: Option<DateTime<Utc>>,
    /// Analysis runs of the current rollout, oldest first.
    pub analysis_runs: Vec<AnalysisRun>,
    /// Newest last, at most [`MAX_REVISIONS`]; the stable one is among them.
    pub revisions: Vec<Revision>,
    /// Newest last, at most [`MAX_ROLLOUT_EVENTS`].
    pub events: Vec<RolloutEvent>,
    /// Canary instances ready / wanted.
    pub canary_ready: u16,
    pub canary_replicas: u16,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_read_as_argo_writes_them() {
        let yaml = "- setWeight: 10\n- pause: {duration: 30s}\n- analysis: {}\n- pause: {}\n";
        let parse = |yaml: &str| -> Result<Vec<RolloutStep>, serde_yaml::Error> {
            serde_yaml::with::singleton_map_recursive::deserialize(
                serde_yaml::Deserializer::from_str(yaml),
            )
        };
        let steps = parse(yaml).expect("parses");
        assert_eq!(
            steps,
            [
                RolloutStep::SetWeight(10),
                RolloutStep::Pause(PauseStep {
                    duration: Some("30s".into())
                }),
                RolloutStep::Analysis(AnalysisStep {}),
                RolloutStep::Pause(PauseStep { duration: None }),
            ]
        );
        let shown: Vec<String> = steps.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["setWeight 10", "pause 30s", "analysis", "pause"]);
        assert!(parse("- setWait: 3").is_err());
    }
}
