//! The rollout as text, in the layout of `kubectl argo rollouts get rollout`.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::model::{AnalysisPhase, RolloutPhase, RolloutStatus};

/// Analysis runs shown; older ones are in `--json`.
const RUNS_SHOWN: usize = 4;

/// Events shown at the bottom.
const EVENTS_SHOWN: usize = 5;

pub fn render(status: &RolloutStatus, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Rollout      api");
    let _ = writeln!(out, "Status       {}", phase_line(status, now));
    let _ = writeln!(
        out,
        "Stable       {}",
        revision_line(status, &status.stable_revision)
    );
    match &status.canary_revision {
        Some(canary) => {
            let _ = writeln!(
                out,
                "Canary       {}  ready {}/{}",
                revision_line(status, canary),
                status.canary_ready,
                status.canary_replicas
            );
        }
        None => {
            let _ = writeln!(out, "Canary       -");
        }
    }
    let _ = writeln!(
        out,
        "Weight       canary {}%, stable {}%",
        status.canary_weight,
        100 - status.canary_weight.min(100)
    );
    let _ = writeln!(out, "Steps");
    for (index, step) in status.steps.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {} {:>2}  {step}",
            step_mark(status, index),
            index + 1
        );
    }
    let runs = &status.analysis_runs;
    if !runs.is_empty() {
        let _ = writeln!(out, "Analysis");
        for run in runs.iter().skip(runs.len().saturating_sub(RUNS_SHOWN)) {
            let _ = writeln!(out, "  step {:<2} {:?}", run.step_index + 1, run.phase);
            for measurement in &run.measurements {
                let value = measurement
                    .value
                    .map_or_else(|| "n/a".to_owned(), |value| format!("{:.4}", value));
                let relation = if measurement.metric == "error_ratio" {
                    "<="
                } else {
                    ">="
                };
                // A cluster's analysis may not say its threshold or how many requests it saw.
                let need = if measurement.threshold.is_finite() {
                    format!(" (need {relation} {})", measurement.threshold)
                } else {
                    String::new()
                };
                let over = if measurement.events.is_finite() {
                    format!(" over {:.0} requests", measurement.events)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "    {:<18} {:<11} {value:>8}{need}{over}  {:?}",
                    measurement.slo, measurement.metric, measurement.phase
                );
            }
        }
    }
    let revisions: Vec<String> = status
        .revisions
        .iter()
        .map(|revision| {
            let role = if revision.name == status.stable_revision {
                " (stable)"
            } else if Some(&revision.name) == status.canary_revision.as_ref() {
                " (canary)"
            } else {
                ""
            };
            format!("{}{role}", revision.name)
        })
        .collect();
    let _ = writeln!(out, "Revisions    {}", revisions.join(", "));
    let events = &status.events;
    if !events.is_empty() {
        let _ = writeln!(out, "Events");
        for event in events
            .iter()
            .skip(events.len().saturating_sub(EVENTS_SHOWN))
        {
            let _ = writeln!(
                out,
                "  {}  {:<8} {}",
                event.at.format("%H:%M:%S"),
                event.kind,
                event.message
            );
        }
    }
    out
}

fn phase_line(status: &RolloutStatus, now: DateTime<Utc>) -> String {
    let mut line = status.phase.as_str().to_owned();
    if status.aborted {
        line.push_str(" (aborted)");
    }
    if let Some(until) = status.pause_until {
        let left = (until - now).num_seconds().max(0);
        let _ = write!(line, ", {left}s left in the pause");
    }
    if let Some(message) = &status.message {
        let _ = write!(line, ": {message}");
    }
    line
}

fn revision_line(status: &RolloutStatus, name: &str) -> String {
    let overrides = status
        .revisions
        .iter()
        .find(|revision| revision.name == name)
        .map(|revision| {
            revision
                .overrides
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    if overrides.is_empty() {
        name.to_owned()
    } else {
        format!("{name} ({overrides})")
    }
}

/// ✔ done, ▶ current, ✖ where it was aborted, blank ahead.
fn step_mark(status: &RolloutStatus, index: usize) -> &'static str {
    let Some(current) = status.current_step_index else {
        return " ";
    };
    let in_progress = matches!(
        status.phase,
        RolloutPhase::Progressing | RolloutPhase::Paused
    );
    let failed_here = status
        .analysis_runs
        .iter()
        .any(|run| run.step_index == index && run.phase == AnalysisPhase::Failed);
    match index.cmp(&current) {
        std::cmp::Ordering::Less => "✔",
        std::cmp::Ordering::Equal if failed_here || status.aborted => "✖",
        std::cmp::Ordering::Equal if in_progress => "▶",
        _ => " ",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::{
        AnalysisMeasurement, AnalysisRun, PauseStep, Revision, RolloutEvent, RolloutStep,
    };

    #[test]
    fn an_aborted_rollout_shows_where_and_why() {
        let now = Utc::now();
        let status = RolloutStatus {
            name: None,
            choices: Vec::new(),
            stable_revision: "v1".into(),
            canary_revision: Some("v2".into()),
            phase: RolloutPhase::Degraded,
            aborted: true,
            message: Some(
                "analysis failed at step 3: api-availability: canary error ratio 30.0%".into(),
            ),
            steps: vec![
                RolloutStep::SetWeight(10),
                RolloutStep::Pause(PauseStep {
                    duration: Some("30s".into()),
                }),
                RolloutStep::Analysis(Default::default()),
            ],
            current_step_index: Some(2),
            canary_weight: 0,
            set_weight: None,
            pause_until: None,
            analysis_runs: vec![AnalysisRun {
                step_index: 2,
                started_at: now,
                finished_at: Some(now),
                phase: AnalysisPhase::Failed,
                measurements: vec![AnalysisMeasurement {
                    slo: "api-availability".into(),
                    metric: "error_ratio".into(),
                    value: Some(0.3),
                    threshold: 0.001,
                    events: 120.0,
                    phase: AnalysisPhase::Failed,
                }],
                message: None,
            }],
            revisions: vec![
                Revision {
                    name: "v1".into(),
                    overrides: BTreeMap::new(),
                    created_at: now,
                    last_stable_at: Some(now),
                },
                Revision {
                    name: "v2".into(),
                    overrides: [("OPSBOX_FAULT_ERROR_RATE".to_owned(), "0.3".to_owned())].into(),
                    created_at: now,
                    last_stable_at: None,
                },
            ],
            events: vec![RolloutEvent {
                at: now,
                kind: "abort".into(),
                message: "analysis failed".into(),
            }],
            canary_ready: 0,
            canary_replicas: 1,
            updated_at: now,
        };
        let text = render(&status, now);
        assert!(
            text.contains("Degraded (aborted): analysis failed at step 3"),
            "{text}"
        );
        assert!(
            text.contains("v2 (OPSBOX_FAULT_ERROR_RATE=0.3)  ready 0/1"),
            "{text}"
        );
        assert!(text.contains("✔  1  setWeight 10"), "{text}");
        assert!(text.contains("✖  3  analysis"), "{text}");
        assert!(
            text.contains("0.3000 (need <= 0.001) over 120 requests  Failed"),
            "{text}"
        );
        assert!(text.contains("v1 (stable), v2 (canary)"), "{text}");
    }
}
