//! The SLO table: SLI, objective, budget left as a bar, burn rate per window, alert state.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

use super::super::store::Store;
use super::super::text;
use super::super::theme::Theme;
use super::super::widgets::budget_bar::budget_bar;
use super::super::widgets::panel;
use crate::model::slo::{AlertLevel, Measured, SloSummary};

/// Windows shown in 80 columns; wider screens show all of them.
const NARROW_WINDOWS: [u64; 3] = [300, 3_600, 21_600];
const WIDE_WINDOWS: [u64; 7] = [300, 1_800, 3_600, 7_200, 21_600, 86_400, 259_200];

/// Inner width from which every window and the exhaustion column fit.
const WIDE_FROM: u16 = 118;

const BAR_CELLS: usize = 8;

pub fn alert_cell(alert: AlertLevel, theme: Theme) -> Span<'static> {
    match alert {
        AlertLevel::Page => Span::styled("PAGE", theme.bad()),
        AlertLevel::Ticket => Span::styled("ticket", theme.warn()),
        AlertLevel::None => Span::styled("ok", theme.good()),
        AlertLevel::Undetermined => Span::styled("unknown", theme.dim()),
    }
}

/// A burn rate coloured against the page (14.4x) and ticket (1x over long windows) factors.
pub fn burn_span(burn: &Measured<f64>, theme: Theme) -> Span<'static> {
    let style = match burn.over_available_data() {
        Some(rate) if *rate >= 14.4 => theme.bad(),
        Some(rate) if *rate >= 1.0 => theme.warn(),
        Some(_) => Style::default(),
        None => theme.dim(),
    };
    Span::styled(text::measured(burn, |rate| text::burn(*rate)), style)
}

pub fn window_label(secs: u64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s => format!("{}m", s / 60),
    }
}

fn row<'a>(slo: &'a SloSummary, windows: &[u64], wide: bool, theme: Theme) -> Row<'a> {
    let mut cells = vec![
        Cell::from(slo.name.as_str()),
        Cell::from(text::measured(&slo.sli, |sli| text::percent(*sli))),
        Cell::from(format!("{}%", slo.objective_percent)),
        Cell::from(budget_bar(&slo.error_budget_remaining, BAR_CELLS, theme)),
    ];
    for secs in windows {
        let burn = slo
            .windows
            .iter()
            .find(|window| window.window_secs == *secs)
            .map_or(Span::styled("?", theme.dim()), |window| burn_span(&window.burn_rate, theme));
        cells.push(Cell::from(burn));
    }
    cells.push(Cell::from(alert_cell(slo.alert, theme)));
    if wide {
        cells.push(Cell::from(text::measured(&slo.budget_exhaustion, text::exhaustion)));
    }
    Row::new(cells)
}

pub fn render(frame: &mut Frame<'_>, area: Rect, store: &Store, selected: Option<usize>) {
    let theme = store.theme;
    let block = panel::block("SLOs", &store.slo, store.now, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(report) = store.slo.value() else {
        panel::render_missing(frame, inner, &store.slo, "waiting for the first SLO report…", theme);
        return;
    };
    if report.slos.is_empty() {
        frame.render_widget(
            Line::from(Span::styled("the SLO source reports no SLOs", theme.dim())),
            inner,
        );
        return;
    }
    let wide = inner.width >= WIDE_FROM;
    let windows: &[u64] = if wide { &WIDE_WINDOWS } else { &NARROW_WINDOWS };
    let mut header = vec!["SLO".to_owned(), "SLI".to_owned(), "obj".to_owned(), "budget left".to_owned()];
    header.extend(windows.iter().map(|secs| window_label(*secs)));
    header.push("alert".to_owned());
    let mut widths = vec![
        Constraint::Min(12),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Length(BAR_CELLS as u16 + 5),
    ];
    widths.extend(windows.iter().map(|_| Constraint::Length(6)));
    widths.push(Constraint::Length(7));
    if wide {
        header.push("exhausted".to_owned());
        widths.push(Constraint::Length(11));
    }
    let rows = report.slos.iter().enumerate().map(|(index, slo)| {
        let row = row(slo, windows, wide, theme);
        if Some(index) == selected {
            row.style(theme.selected())
        } else {
            row
        }
    });
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.header()))
        .column_spacing(1);
    frame.render_widget(table, inner);
}
