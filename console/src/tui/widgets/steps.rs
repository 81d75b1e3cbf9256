//! The rollout's steps as a strip: done `✓`, current `▶`, still to come `·`, and `✗` where
//! an abort stopped it.

use ratatui::text::{Line, Span};

use super::super::theme::Theme;
use crate::model::{RolloutPhase, RolloutStatus, RolloutStep};

/// Where one step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Done,
    Current,
    Aborted,
    Pending,
    /// No rollout is under way: the step of the next one.
    Planned,
}

impl StepState {
    pub fn marker(self) -> &'static str {
        match self {
            StepState::Done => "✓",
            StepState::Current => "▶",
            StepState::Aborted => "✗",
            StepState::Pending | StepState::Planned => "·",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Done => "done",
            StepState::Current => "current",
            StepState::Aborted => "aborted",
            StepState::Pending => "pending",
            StepState::Planned => "planned",
        }
    }
}

/// The state of step `index`; with no canary (a finished rollout) all are done.
pub fn step_state(rollout: &RolloutStatus, index: usize) -> StepState {
    if rollout.canary_revision.is_none() {
        return StepState::Planned;
    }
    let Some(current) = rollout.current_step_index else {
        return if rollout.phase == RolloutPhase::Healthy {
            StepState::Done
        } else {
            StepState::Pending
        };
    };
    if index < current {
        StepState::Done
    } else if index == current {
        if rollout.aborted {
            StepState::Aborted
        } else {
            StepState::Current
        }
    } else {
        StepState::Pending
    }
}

/// `10%`, `pause 30s`, `pause`, `analysis`: a step as short as it reads.
pub fn short(step: &RolloutStep) -> String {
    match step {
        RolloutStep::SetWeight(weight) => format!("{weight}%"),
        other => other.to_string(),
    }
}

pub fn strip(rollout: &RolloutStatus, theme: Theme) -> Line<'static> {
    if rollout.canary_revision.is_none() {
        // No rollout under way: the steps are the plan of the next one, not progress.
        let plan: Vec<String> = rollout.steps.iter().map(short).collect();
        return Line::from(Span::styled(
            format!("next rollout: {}", plan.join(" → ")),
            theme.dim(),
        ));
    }
    let mut spans = Vec::with_capacity(rollout.steps.len() * 2);
    for (index, step) in rollout.steps.iter().enumerate() {
        let state = step_state(rollout, index);
        let style = match state {
            StepState::Done => theme.good(),
            StepState::Current => theme.accent(),
            StepState::Aborted => theme.bad(),
            StepState::Pending | StepState::Planned => theme.dim(),
        };
        if index > 0 {
            spans.push(Span::raw(" "));
        }
        spans.push(Span::styled(
            format!("{}{}", state.marker(), short(step)),
            style,
        ));
    }
    Line::from(spans)
}
