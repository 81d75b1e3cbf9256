//! The error budget left over the time this console has watched it, with the rollout's
//! events marked as vertical lines, so a drop can be read against what caused it.

use chrono::{DateTime, Utc};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType};
use ratatui::Frame;

use super::super::store::Store;
use super::super::text;
use super::super::widgets::panel;
use crate::model::RolloutEvent;

/// The rollout events marked on the chart; the newest ones.
const MAX_MARKED_EVENTS: usize = 6;

/// The shortest span drawn, so a console that just started shows a readable axis.
const MIN_SPAN_SECS: f64 = 60.0;

/// Kinds of rollout events worth marking (steps and pauses would crowd the chart).
const MARKED_KINDS: [&str; 6] = ["start", "promote", "abort", "undo", "retry", "complete"];

/// Seconds before `now`, as a negative x.
fn x_of(at: DateTime<Utc>, now: DateTime<Utc>) -> f64 {
    -((now - at).num_milliseconds() as f64 / 1000.0)
}

pub fn render(frame: &mut Frame<'_>, area: Rect, store: &Store, slo: &str) {
    let theme = store.theme;
    let history = store.budget_history(slo);
    let points: Vec<(f64, f64)> = history
        .into_iter()
        .flat_map(|history| history.iter())
        .filter_map(|sample| Some((x_of(sample.at, store.now), sample.remaining? * 100.0)))
        .collect();
    let span = points
        .first()
        .map_or(MIN_SPAN_SECS, |(x, _)| (-x).max(MIN_SPAN_SECS));
    let title = format!(
        "Budget left, last {} seen",
        text::duration_short(std::time::Duration::from_secs_f64(span))
    );
    let block = panel::plain_block(&title, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if points.is_empty() {
        frame.render_widget(
            Line::from(Span::styled(
                "no budget samples yet (no report, or no traffic)",
                theme.dim(),
            )),
            inner,
        );
        return;
    }
    let low = points
        .iter()
        .map(|(_, y)| *y)
        .fold(0.0_f64, f64::min)
        .floor();
    let events: Vec<&RolloutEvent> = store
        .rollout()
        .into_iter()
        .flat_map(|rollout| rollout.events.iter())
        .filter(|event| MARKED_KINDS.contains(&event.kind.as_str()))
        .filter(|event| (-span..=0.0).contains(&x_of(event.at, store.now)))
        .collect();
    let events = &events[events.len().saturating_sub(MAX_MARKED_EVENTS)..];
    let markers: Vec<[(f64, f64); 2]> = events
        .iter()
        .map(|event| {
            let x = x_of(event.at, store.now);
            [(x, low), (x, 100.0)]
        })
        .collect();
    let mut datasets = vec![Dataset::default()
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(theme.accent())
        .data(&points)];
    for marker in &markers {
        datasets.push(
            Dataset::default()
                .marker(Marker::Dot)
                .graph_type(GraphType::Line)
                .style(theme.warn())
                .data(marker),
        );
    }
    let [plot, legend] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(inner);
    let x_axis = Axis::default()
        .bounds([-span, 0.0])
        .labels([
            Span::styled(
                format!(
                    "-{}",
                    text::duration_short(std::time::Duration::from_secs_f64(span))
                ),
                theme.dim(),
            ),
            Span::styled("now", theme.dim()),
        ])
        .style(theme.dim());
    let y_axis = Axis::default()
        .bounds([low, 100.0])
        .labels([
            Span::styled(format!("{low:.0}%"), theme.dim()),
            Span::styled("100%", theme.dim()),
        ])
        .style(theme.dim());
    frame.render_widget(Chart::new(datasets).x_axis(x_axis).y_axis(y_axis), plot);
    let mut spans = vec![Span::styled("rollout: ", theme.dim())];
    if events.is_empty() {
        spans.push(Span::styled(
            "no start, promote, abort or undo in this span",
            theme.dim(),
        ));
    }
    for event in events {
        let age = text::duration_short(text::elapsed(event.at, store.now));
        spans.push(Span::styled(
            format!("│{} -{age}  ", event.kind),
            theme.warn(),
        ));
    }
    frame.render_widget(Line::from(spans), legend);
}
