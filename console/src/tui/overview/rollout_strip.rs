//! The rollout strip: phase, revisions, weight, the steps, and why it is paused or aborted.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::super::store::Store;
use super::super::text;
use super::super::theme::Theme;
use super::super::widgets::{panel, steps};
use crate::model::{AnalysisPhase, RolloutPhase, RolloutStatus};

pub fn phase_style(rollout: &RolloutStatus, theme: Theme) -> Style {
    match rollout.phase {
        _ if rollout.aborted => theme.bad(),
        RolloutPhase::Degraded => theme.bad(),
        RolloutPhase::Paused => theme.warn(),
        RolloutPhase::Progressing => theme.accent(),
        RolloutPhase::Healthy => theme.good(),
    }
}

pub fn analysis_label(phase: AnalysisPhase) -> &'static str {
    match phase {
        AnalysisPhase::Running => "running",
        AnalysisPhase::Successful => "passed",
        AnalysisPhase::Failed => "FAILED",
        AnalysisPhase::Inconclusive => "inconclusive",
    }
}

/// `Paused · stable v1 → canary v2 · 50% · ready 1/1 · step 5/6`.
pub fn headline(rollout: &RolloutStatus, theme: Theme) -> Line<'static> {
    let mut spans = vec![Span::styled(
        if rollout.aborted {
            "Aborted".to_owned()
        } else {
            rollout.phase.as_str().to_owned()
        },
        phase_style(rollout, theme),
    )];
    let dot = || Span::styled(" · ", theme.dim());
    spans.push(dot());
    match &rollout.canary_revision {
        Some(canary) => {
            spans.push(Span::raw(format!(
                "stable {} → canary {canary}",
                rollout.stable_revision
            )));
            spans.push(dot());
            spans.push(Span::styled(
                format!("{}% canary", rollout.canary_weight),
                theme.accent(),
            ));
            spans.push(dot());
            spans.push(Span::raw(format!(
                "ready {}/{}",
                rollout.canary_ready, rollout.canary_replicas
            )));
        }
        None => spans.push(Span::raw(format!(
            "stable {} · no canary",
            rollout.stable_revision
        ))),
    }
    if let Some(index) = rollout.current_step_index {
        spans.push(dot());
        let shown = (index + 1).min(rollout.steps.len());
        spans.push(Span::raw(format!("step {shown}/{}", rollout.steps.len())));
    }
    Line::from(spans)
}

/// The abort or pause message, the timed pause's end, or the last analysis.
pub fn reason(rollout: &RolloutStatus, store: &Store) -> Line<'static> {
    let theme = store.theme;
    if let Some(message) = &rollout.message {
        let style = if rollout.aborted || rollout.phase == RolloutPhase::Degraded {
            theme.bad()
        } else {
            theme.warn()
        };
        let mut spans = vec![Span::styled(message.clone(), style)];
        if let Some(until) = rollout.pause_until {
            let left = text::duration_short(text::elapsed(store.now, until));
            spans.push(Span::styled(
                format!(" (pause ends in {left})"),
                theme.dim(),
            ));
        }
        return Line::from(spans);
    }
    if let Some(run) = rollout.analysis_runs.last() {
        let style = match run.phase {
            AnalysisPhase::Failed => theme.bad(),
            AnalysisPhase::Inconclusive => theme.warn(),
            _ => theme.dim(),
        };
        return Line::from(Span::styled(
            format!(
                "analysis of step {}: {}{}",
                run.step_index + 1,
                analysis_label(run.phase),
                run.message
                    .as_ref()
                    .map_or(String::new(), |message| format!(" ({message})"))
            ),
            style,
        ));
    }
    Line::default()
}

pub fn render(frame: &mut Frame<'_>, area: Rect, store: &Store) {
    let theme = store.theme;
    let Some((inner, status)) = panel::open_status(frame, area, "Rollout api", store) else {
        return;
    };
    let Some(rollout) = &status.rollout else {
        frame.render_widget(
            Line::from(Span::styled("no rollout state reported yet", theme.dim())),
            inner,
        );
        return;
    };
    let lines = vec![
        headline(rollout, theme),
        steps::strip(rollout, theme),
        reason(rollout, store),
    ];
    frame.render_widget(Paragraph::new(lines), inner);
}
