//! Error ratio and burn rate per window, against the page and ticket factors that use it.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

use super::super::overview::slo_table::{burn_span, window_label};
use super::super::text;
use super::super::theme::Theme;
use super::super::widgets::panel;
use super::alerts::threshold;
use crate::model::slo::SloSummary;
use crate::slo::Severity;

fn factor(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |factor| format!(">{factor}x"))
}

pub fn render(frame: &mut Frame<'_>, area: Rect, slo: &SloSummary, theme: Theme) {
    let block = panel::plain_block("Burn rate by window", theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let rows = slo.windows.iter().map(|window| {
        let page = threshold(Severity::Page, window.window_secs);
        let ticket = threshold(Severity::Ticket, window.window_secs);
        Row::new(vec![
            Cell::from(window_label(window.window_secs)),
            Cell::from(text::measured(&window.error_ratio, |ratio| {
                text::percent(*ratio)
            })),
            Cell::from(burn_span(&window.burn_rate, theme)),
            Cell::from(Span::raw(factor(page))),
            Cell::from(Span::raw(factor(ticket))),
        ])
    });
    let header = Row::new(["win", "errors", "burn", "page", "ticket"]).style(theme.header());
    let table = Table::new(
        rows,
        [
            Constraint::Length(4),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(7),
            Constraint::Length(6),
        ],
    )
    .header(header)
    .column_spacing(1);
    frame.render_widget(table, inner);
}
