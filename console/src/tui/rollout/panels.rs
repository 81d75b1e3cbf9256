//! The Rollout view's panels: steps, analysis, revisions, events.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::super::overview::rollout_strip::analysis_label;
use super::super::store::Store;
use super::super::text;
use super::super::theme::Theme;
use super::super::widgets::panel;
use super::super::widgets::steps::{step_state, StepState};
use crate::model::{AnalysisPhase, AnalysisRun, RolloutStatus, RolloutStep};

fn phase_style(phase: AnalysisPhase, theme: Theme) -> ratatui::style::Style {
    match phase {
        AnalysisPhase::Running => theme.accent(),
        AnalysisPhase::Successful => theme.good(),
        AnalysisPhase::Failed => theme.bad(),
        AnalysisPhase::Inconclusive => theme.warn(),
    }
}

/// The analysis run of step `index`, the newest if it ran more than once (after a retry).
fn run_of(rollout: &RolloutStatus, index: usize) -> Option<&AnalysisRun> {
    rollout
        .analysis_runs
        .iter()
        .rev()
        .find(|run| run.step_index == index)
}

pub fn steps(frame: &mut Frame<'_>, area: Rect, rollout: &RolloutStatus, theme: Theme) {
    let block = panel::plain_block("Steps", theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if rollout.steps.is_empty() {
        frame.render_widget(Line::from(Span::styled("no steps", theme.dim())), inner);
        return;
    }
    let lines: Vec<Line<'_>> = rollout
        .steps
        .iter()
        .enumerate()
        .map(|(index, step)| {
            let state = step_state(rollout, index);
            let style = match state {
                StepState::Done => theme.good(),
                StepState::Current => theme.accent(),
                StepState::Aborted => theme.bad(),
                StepState::Pending | StepState::Planned => theme.dim(),
            };
            let mut spans = vec![Span::styled(
                format!(
                    "{} {:>2} {:<14} ",
                    state.marker(),
                    index + 1,
                    step.to_string()
                ),
                style,
            )];
            if let (RolloutStep::Analysis(_), Some(run)) = (step, run_of(rollout, index)) {
                spans.push(Span::styled(
                    analysis_label(run.phase),
                    phase_style(run.phase, theme),
                ));
            } else {
                spans.push(Span::styled(state.as_str(), theme.dim()));
            }
            Line::from(spans)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

pub fn analysis(frame: &mut Frame<'_>, area: Rect, rollout: &RolloutStatus, store: &Store) {
    let theme = store.theme;
    let Some(run) = rollout.analysis_runs.last() else {
        let block = panel::plain_block("Analysis", theme);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(
            Line::from(Span::styled(
                "no analysis has run in this rollout",
                theme.dim(),
            )),
            inner,
        );
        return;
    };
    let took = run.finished_at.map_or_else(
        || "running".to_owned(),
        |end| text::duration_short(text::elapsed(run.started_at, end)),
    );
    let title = format!(
        "Analysis of step {}: {} ({} ago, took {took})",
        run.step_index + 1,
        analysis_label(run.phase),
        text::duration_short(text::elapsed(run.started_at, store.now))
    );
    let block = panel::plain_block(&title, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [table_area, message_area] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(if run.message.is_some() { 2 } else { 0 }),
    ])
    .areas(inner);
    // Narrow screens drop the metric and the event count; the verdict stays.
    let wide = inner.width >= 60;
    let rows = run.measurements.iter().map(|measurement| {
        let comparator = if measurement.metric == "good_ratio" {
            "≥"
        } else {
            "≤"
        };
        let value = measurement
            .value
            .map_or_else(|| "too few".to_owned(), text::percent);
        let mut cells = vec![Cell::from(measurement.slo.as_str())];
        if wide {
            cells.push(Cell::from(measurement.metric.as_str()));
        }
        cells.push(Cell::from(value));
        // A cluster's analysis may not say its threshold or how many events it saw.
        cells.push(Cell::from(if measurement.threshold.is_finite() {
            format!("{comparator}{}", text::percent(measurement.threshold))
        } else {
            "?".to_owned()
        }));
        if wide {
            cells.push(Cell::from(if measurement.events.is_finite() {
                format!("{:.0}", measurement.events)
            } else {
                "?".to_owned()
            }));
        }
        cells.push(Cell::from(Span::styled(
            analysis_label(measurement.phase),
            phase_style(measurement.phase, theme),
        )));
        Row::new(cells)
    });
    let (header, widths): (Vec<&str>, Vec<Constraint>) = if wide {
        (
            vec!["slo", "metric", "value", "needed", "events", "result"],
            vec![
                Constraint::Min(10),
                Constraint::Length(11),
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(6),
                Constraint::Length(12),
            ],
        )
    } else {
        (
            vec!["slo", "value", "needed", "result"],
            vec![
                Constraint::Min(10),
                Constraint::Length(7),
                Constraint::Length(8),
                Constraint::Length(7),
            ],
        )
    };
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.header()))
        .column_spacing(1);
    frame.render_widget(table, table_area);
    if let Some(message) = &run.message {
        frame.render_widget(
            Paragraph::new(Span::styled(message.clone(), phase_style(run.phase, theme)))
                .wrap(ratatui::widgets::Wrap { trim: false }),
            message_area,
        );
    }
}

pub fn revisions(frame: &mut Frame<'_>, area: Rect, rollout: &RolloutStatus, store: &Store) {
    let theme = store.theme;
    let block = panel::plain_block("Revisions", theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let rows = rollout.revisions.iter().rev().map(|revision| {
        let (role, style) = if revision.name == rollout.stable_revision {
            (
                format!(
                    "stable {}/{}",
                    store.status.value().map_or(0, stable_ready),
                    stable_total(store)
                ),
                theme.good(),
            )
        } else if rollout.canary_revision.as_ref() == Some(&revision.name) {
            (
                format!(
                    "canary {}/{}",
                    rollout.canary_ready, rollout.canary_replicas
                ),
                theme.accent(),
            )
        } else {
            (String::new(), theme.dim())
        };
        let stable_ago = revision.last_stable_at.map_or_else(
            || "never".to_owned(),
            |at| format!("{} ago", text::duration_short(text::elapsed(at, store.now))),
        );
        Row::new(vec![
            Cell::from(revision.name.as_str()),
            Cell::from(Span::styled(role, style)),
            Cell::from(stable_ago),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Min(6),
            Constraint::Length(12),
            Constraint::Length(12),
        ],
    )
    .header(Row::new(["revision", "serving", "last stable"]).style(theme.header()))
    .column_spacing(1);
    frame.render_widget(table, inner);
}

fn stable_ready(status: &crate::model::EnvironmentStatus) -> usize {
    status
        .instances
        .iter()
        .filter(|i| i.workload == "api" && i.track == opsbox_common::config::Track::Stable)
        .filter(|i| i.state == crate::model::InstanceState::Running)
        .count()
}

fn stable_total(store: &Store) -> usize {
    store.status.value().map_or(0, |status| {
        status
            .instances
            .iter()
            .filter(|i| i.workload == "api" && i.track == opsbox_common::config::Track::Stable)
            .count()
    })
}

pub fn events(frame: &mut Frame<'_>, area: Rect, rollout: &RolloutStatus, store: &Store) {
    let theme = store.theme;
    let block = panel::plain_block("Events, newest first", theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if rollout.events.is_empty() {
        frame.render_widget(
            Line::from(Span::styled("no events yet", theme.dim())),
            inner,
        );
        return;
    }
    let width = usize::from(inner.width);
    let lines: Vec<Line<'_>> = rollout
        .events
        .iter()
        .rev()
        .take(usize::from(inner.height))
        .map(|event| {
            let style = match event.kind.as_str() {
                "abort" => theme.bad(),
                "pause" => theme.warn(),
                _ => theme.accent(),
            };
            let head = format!(
                "{:>6} {:<9}",
                format!(
                    "-{}",
                    text::duration_short(text::elapsed(event.at, store.now))
                ),
                event.kind
            );
            let room = width.saturating_sub(head.chars().count() + 1);
            Line::from(vec![
                Span::styled(head, style),
                Span::raw(" "),
                Span::raw(text::truncate(&event.message, room)),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}
