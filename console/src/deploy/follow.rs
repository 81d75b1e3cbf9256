//! Following the API's rollout after a release until it settles: paused on a step,
//! completed (Healthy), or aborted (Degraded). Each change is told as one line, so the
//! operator (or a pipeline's log) sees the steps and weights go by.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::env::{Environment, StatusError};
use crate::model::{RolloutPhase, RolloutStatus};

/// How often a reading comes when the environment cannot tell changes (the cluster's
/// watches push sooner).
const READING_INTERVAL: Duration = Duration::from_secs(2);

/// Where the rollout ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Healthy: every replica on the release, no canary left.
    Completed,
    /// On a pause step (or held by an inconclusive analysis): waiting for `promote`.
    Paused,
    /// Aborted by an analysis or an operator; traffic is back on stable.
    Degraded,
    /// Still progressing when the bound passed.
    TimedOut,
}

impl Settled {
    /// As the audit log records it (`release.deploy`'s `settled`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Paused => "paused",
            Self::Degraded => "degraded",
            Self::TimedOut => "timed_out",
        }
    }
}

/// The outcome with the last reading it was judged on.
#[derive(Debug, Clone)]
pub struct Followed {
    pub settled: Settled,
    pub last: Option<RolloutStatus>,
    /// The last failed reading, when the environment could not be read.
    pub last_error: Option<String>,
}

/// Reads the rollout until it settles or `bound` passes, calling `on_change` with a
/// line whenever what it shows changes.
pub async fn follow(
    environment: &impl Environment,
    bound: Duration,
    mut on_change: impl FnMut(&str),
) -> Followed {
    let stop = CancellationToken::new();
    let mut readings = environment.watch_status(READING_INTERVAL, stop.clone());
    let mut followed = Followed {
        settled: Settled::TimedOut,
        last: None,
        last_error: None,
    };
    let mut shown = String::new();
    let watching = async {
        while let Some(reading) = readings.recv().await {
            let line = match reading.map(|status| status.rollout) {
                Ok(Some(rollout)) => {
                    let line = progress_line(&rollout);
                    let settled = settled(&rollout);
                    followed.last = Some(rollout);
                    if let Some(settled) = settled {
                        followed.settled = settled;
                        if line != shown {
                            on_change(&line);
                        }
                        return;
                    }
                    line
                }
                Ok(None) => "no rollout of the API in the release yet".to_owned(),
                Err(StatusError::NotRunning(why) | StatusError::Failed(why)) => {
                    followed.last_error = Some(why.clone());
                    format!("cannot read the rollout: {why}")
                }
            };
            if line != shown {
                on_change(&line);
                shown = line;
            }
        }
    };
    let _ = tokio::time::timeout(bound, watching).await;
    stop.cancel();
    followed
}

/// Whether the rollout has settled, and how.
pub fn settled(rollout: &RolloutStatus) -> Option<Settled> {
    match rollout.phase {
        RolloutPhase::Healthy => Some(Settled::Completed),
        RolloutPhase::Paused => Some(Settled::Paused),
        RolloutPhase::Degraded => Some(Settled::Degraded),
        RolloutPhase::Progressing => None,
    }
}

/// `Paused  step 2/7 (pause 30s)  weight 10%  canary 0.2.0  CanaryPauseStep`.
pub fn progress_line(rollout: &RolloutStatus) -> String {
    let mut line = format!("{:<11}", rollout.phase.as_str());
    if let Some(step) = step_text(rollout) {
        line.push_str("  ");
        line.push_str(&step);
    }
    line.push_str(&format!("  weight {}%", rollout.canary_weight));
    if let Some(set) = rollout
        .set_weight
        .filter(|set| *set != rollout.canary_weight)
    {
        line.push_str(&format!(" (set {set}%)"));
    }
    match &rollout.canary_revision {
        Some(canary) if *canary != rollout.stable_revision => {
            line.push_str(&format!(
                "  canary {canary}, stable {}",
                rollout.stable_revision
            ));
        }
        _ => line.push_str(&format!("  stable {}", rollout.stable_revision)),
    }
    if let Some(message) = rollout.message.as_deref().filter(|m| !m.is_empty()) {
        line.push_str("  ");
        line.push_str(message);
    }
    line
}

fn step_text(rollout: &RolloutStatus) -> Option<String> {
    let index = rollout.current_step_index?;
    let total = rollout.steps.len();
    if total == 0 {
        return None;
    }
    Some(match rollout.steps.get(index) {
        Some(step) => format!("step {}/{total} ({step})", index + 1),
        None => format!("all {total} steps done"),
    })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::model::{PauseStep, RolloutStep};

    fn rollout(phase: RolloutPhase, step: Option<usize>) -> RolloutStatus {
        RolloutStatus {
            name: None,
            choices: Vec::new(),
            stable_revision: "0.1.0".to_owned(),
            canary_revision: Some("0.2.0".to_owned()),
            phase,
            aborted: false,
            message: Some("CanaryPauseStep".to_owned()),
            steps: vec![
                RolloutStep::SetWeight(10),
                RolloutStep::Pause(PauseStep {
                    duration: Some("30s".to_owned()),
                }),
            ],
            current_step_index: step,
            canary_weight: 10,
            set_weight: Some(10),
            pause_until: None,
            analysis_runs: Vec::new(),
            revisions: Vec::new(),
            events: Vec::new(),
            canary_ready: 1,
            canary_replicas: 1,
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn a_line_shows_phase_step_weight_and_revisions() {
        assert_eq!(
            progress_line(&rollout(RolloutPhase::Paused, Some(1))),
            "Paused       step 2/2 (pause 30s)  weight 10%  canary 0.2.0, stable 0.1.0  CanaryPauseStep"
        );
        let done = progress_line(&rollout(RolloutPhase::Progressing, Some(2)));
        assert!(done.contains("all 2 steps done"), "{done}");
    }

    #[test]
    fn only_progressing_is_unsettled() {
        for (phase, expected) in [
            (RolloutPhase::Healthy, Some(Settled::Completed)),
            (RolloutPhase::Paused, Some(Settled::Paused)),
            (RolloutPhase::Degraded, Some(Settled::Degraded)),
            (RolloutPhase::Progressing, None),
        ] {
            assert_eq!(settled(&rollout(phase, Some(0))), expected, "{phase:?}");
        }
    }
}
