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
use crate::slo::windows::{burn_rate_alerts, Severity};

/// Windows in the order they earn a column as the screen widens: the page pair of the
/// fast alert first, then the slow ones.
const WINDOW_PRIORITY: [u64; 7] = [300, 3_600, 21_600, 1_800, 7_200, 86_400, 259_200];

/// Columns of one burn-rate window, with its spacing.
const WINDOW_COLUMNS: u16 = 7;

/// Columns of the exhaustion column, with its spacing: its longest value
/// (`~not burning`) whole, or no column at all — a cell is never cut mid-word.
const EXHAUSTION_COLUMNS: u16 = 13;

/// SLI, objective, budget bar, alert, with their spacing.
const FIXED_COLUMNS: u16 = 9 + 7 + (BAR_CELLS as u16 + 8) + 8;

const BAR_CELLS: usize = 6;

pub fn alert_cell(alert: AlertLevel, theme: Theme) -> Span<'static> {
    match alert {
        AlertLevel::Page => Span::styled("PAGE", theme.bad()),
        AlertLevel::Ticket => Span::styled("ticket", theme.warn()),
        AlertLevel::None => Span::styled("ok", theme.good()),
        AlertLevel::Undetermined => Span::styled("unknown", theme.dim()),
    }
}

/// A burn rate coloured against the alert table: at or over the fastest page factor
/// (14.4x) it is bad, at or over the slowest ticket factor (1x) a warning.
pub fn burn_span(burn: &Measured<f64>, theme: Theme) -> Span<'static> {
    let page = burn_rate_alerts(Severity::Page)
        .map(|alert| alert.factor)
        .fold(f64::NEG_INFINITY, f64::max);
    let ticket = burn_rate_alerts(Severity::Ticket)
        .map(|alert| alert.factor)
        .fold(f64::INFINITY, f64::min);
    let style = match burn.over_available_data() {
        Some(rate) if *rate >= page => theme.bad(),
        Some(rate) if *rate >= ticket => theme.warn(),
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

fn row<'a>(
    slo: &'a SloSummary,
    windows: &[u64],
    wide: bool,
    selected: bool,
    theme: Theme,
) -> Row<'a> {
    let mut cells = vec![
        Cell::from(format!("{}{}", if selected { "›" } else { " " }, slo.name)),
        Cell::from(text::measured(&slo.sli, |sli| text::percent(*sli))),
        Cell::from(format!("{}%", slo.objective_percent)),
        Cell::from(budget_bar(&slo.period_budget_left(), BAR_CELLS, theme)),
    ];
    for secs in windows {
        let burn = slo
            .windows
            .iter()
            .find(|window| window.window_secs == *secs)
            .map_or(Span::styled("?", theme.dim()), |window| {
                burn_span(&window.burn_rate, theme)
            });
        cells.push(Cell::from(burn));
    }
    cells.push(Cell::from(alert_cell(slo.alert, theme)));
    if wide {
        cells.push(Cell::from(text::measured(
            &slo.budget_exhaustion,
            text::exhaustion,
        )));
    }
    Row::new(cells)
}

pub fn render(frame: &mut Frame<'_>, area: Rect, store: &Store, selected: Option<usize>) {
    let theme = store.theme;
    let Some((inner, report)) = panel::open(
        frame,
        area,
        "SLOs",
        &store.slo,
        store.now,
        theme,
        "waiting for the first SLO report…",
    ) else {
        return;
    };
    if report.slos.is_empty() {
        frame.render_widget(
            Line::from(Span::styled("the SLO source reports no SLOs", theme.dim())),
            inner,
        );
        return;
    }
    let name_width = report
        .slos
        .iter()
        .map(|slo| slo.name.chars().count())
        .max()
        .unwrap_or(3)
        .clamp(12, 32) as u16
        + 1;
    // As many windows as fit, in priority order, then shown shortest first.
    let room = inner.width.saturating_sub(name_width + 1 + FIXED_COLUMNS);
    let count = usize::from(room / WINDOW_COLUMNS).min(WINDOW_PRIORITY.len());
    let mut windows: Vec<u64> = WINDOW_PRIORITY[..count].to_vec();
    windows.sort_unstable();
    let wide = count == WINDOW_PRIORITY.len()
        && room >= WINDOW_COLUMNS * WINDOW_PRIORITY.len() as u16 + EXHAUSTION_COLUMNS;
    let mut header = vec![
        " SLO".to_owned(),
        "SLI".to_owned(),
        "obj".to_owned(),
        "budget left".to_owned(),
    ];
    header.extend(windows.iter().map(|secs| window_label(*secs)));
    header.push("alert".to_owned());
    let mut widths = vec![
        Constraint::Length(name_width),
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Length(BAR_CELLS as u16 + 7),
    ];
    widths.extend(
        windows
            .iter()
            .map(|_| Constraint::Length(WINDOW_COLUMNS - 1)),
    );
    widths.push(Constraint::Length(7));
    if wide {
        header.push("exhausted".to_owned());
        widths.push(Constraint::Length(EXHAUSTION_COLUMNS - 1));
    }
    let rows = report.slos.iter().enumerate().map(|(index, slo)| {
        let row = row(slo, &windows, wide, Some(index) == selected, theme);
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
