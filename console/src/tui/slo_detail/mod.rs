//! The SLO view: one SLO in depth. Budget left over time with the rollout's events on it,
//! burn rate per window against the page and ticket factors, time to exhaustion, and
//! which alert would fire and why.

pub mod alerts;
mod burn_table;
mod chart;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::nav::UiRequest;
use super::overview::slo_table::{alert_cell, window_label};
use super::store::{SharedStore, Store};
use super::text;
use super::theme::Theme;
use super::view::{Binding, View, ViewOutcome};
use super::widgets::budget_bar::budget_bar;
use super::widgets::panel;
use crate::model::slo::{AlertLevel, Measured, SloSummary};
use alerts::{ConditionCheck, Verdict, WindowCheck};

const BINDINGS: &[Binding] = &[
    Binding {
        keys: "j / k",
        action: "show the next / previous SLO",
    },
    Binding {
        keys: "R",
        action: "open this SLO's runbook with its live values",
    },
];

pub struct SloView {
    store: SharedStore,
}

impl SloView {
    pub fn new(store: SharedStore) -> Self {
        Self { store }
    }

    /// Moves the selection by `step` through the SLOs of the report, wrapping around.
    fn cycle(&mut self, step: isize) {
        let mut store = self.store.borrow_mut();
        let names = store.slo_names();
        if names.is_empty() {
            return;
        }
        let current = store
            .selected_slo
            .as_ref()
            .and_then(|selected| names.iter().position(|name| name == selected))
            .unwrap_or(0);
        let len = names.len() as isize;
        let next = (current as isize + step).rem_euclid(len) as usize;
        store.selected_slo = Some(names[next].clone());
    }
}

/// The selected SLO, or the first when none is selected (or it left the spec).
pub fn selected(store: &Store) -> Option<&SloSummary> {
    let report = store.slo.value()?;
    store
        .selected_slo
        .as_ref()
        .and_then(|name| report.slos.iter().find(|slo| &slo.name == name))
        .or_else(|| report.slos.first())
}

impl View for SloView {
    fn title(&self) -> &'static str {
        "SLO"
    }

    fn bindings(&self) -> &'static [Binding] {
        BINDINGS
    }

    fn handle_key(&mut self, key: KeyEvent) -> ViewOutcome {
        match key.code {
            KeyCode::Char('j') | KeyCode::Down | KeyCode::Char(']') => self.cycle(1),
            KeyCode::Char('k') | KeyCode::Up | KeyCode::Char('[') => self.cycle(-1),
            KeyCode::Char('R') => {
                let mut store = self.store.borrow_mut();
                let Some(name) = selected(&store).map(|slo| slo.name.clone()) else {
                    return ViewOutcome::Ignored;
                };
                store.requests.push(UiRequest::OpenRunbook(name));
            }
            _ => return ViewOutcome::Ignored,
        }
        ViewOutcome::Consumed
    }

    fn render(&mut self, frame: &mut Frame<'_>, area: Rect) {
        let store = self.store.borrow();
        let theme = store.theme;
        let Some(slo) = selected(&store) else {
            let block = panel::block("SLO", &store.slo, store.now, theme);
            let inner = block.inner(area);
            frame.render_widget(block, area);
            let waiting = if store.slo.value().is_some() {
                "the SLO source reports no SLOs"
            } else {
                "waiting for the first SLO report…"
            };
            panel::render_missing(frame, inner, &store.slo, waiting, theme);
            return;
        };
        let table_height = u16::try_from(slo.windows.len() + 3).unwrap_or(u16::MAX);
        let [head, chart_area, bottom] = Layout::vertical([
            Constraint::Length(4),
            Constraint::Min(6),
            Constraint::Length(table_height.min(area.height.saturating_sub(10)).max(6)),
        ])
        .areas(area);
        render_head(frame, head, &store, slo);
        chart::render(frame, chart_area, &store, &slo.name);
        let [burn, alerts_area] =
            Layout::horizontal([Constraint::Length(36), Constraint::Min(30)]).areas(bottom);
        burn_table::render(frame, burn, slo, theme);
        render_alerts(frame, alerts_area, slo, theme);
    }
}

fn render_head(frame: &mut Frame<'_>, area: Rect, store: &Store, slo: &SloSummary) {
    let theme = store.theme;
    let title = format!("SLO {} ({})", slo.name, slo.service);
    let block = panel::block(&title, &store.slo, store.now, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let source = store.slo.value().map_or(String::new(), |report| {
        format!(" · source {}", report.source)
    });
    let first = Line::from(vec![
        Span::raw(format!(
            "objective {}% over {}",
            slo.objective_percent, slo.period
        )),
        Span::styled(" · ", theme.dim()),
        Span::raw(format!(
            "SLI {}",
            text::measured(&slo.sli, |sli| text::percent(*sli))
        )),
        Span::styled(source, theme.dim()),
    ]);
    // The period's budget first (the first line names the period); the covered history
    // alone comes last, labelled, since it is honest but not the month's budget.
    let mut second = vec![Span::raw("budget left ")];
    second.extend(budget_bar(&slo.period_budget_left(), 10, theme).spans);
    second.push(Span::styled(" · ", theme.dim()));
    second.push(Span::raw(format!(
        "exhausted {}",
        text::measured(&slo.budget_exhaustion, text::exhaustion)
    )));
    second.push(Span::styled(" · alert ", theme.dim()));
    second.push(alert_cell(slo.alert, theme));
    if let Measured::Insufficient {
        covered_secs,
        covered_value: Some(left),
    } = &slo.error_budget_remaining
    {
        second.push(Span::styled(
            format!(
                " · {} alone: {}",
                text::duration_short(std::time::Duration::from_secs(*covered_secs)),
                text::percent(*left)
            ),
            theme.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(vec![first, Line::from(second)]), inner);
}

fn burn_text(window: &WindowCheck) -> String {
    let value = window.burn.map_or_else(|| "?".to_owned(), text::burn);
    let partial = if window.partial && window.burn.is_some() {
        "~"
    } else {
        ""
    };
    format!("{} {partial}{value}", window_label(window.secs))
}

fn condition_line(check: &ConditionCheck, theme: Theme) -> Line<'static> {
    let (verdict, style) = match check.verdict {
        Verdict::Fires => ("fires", theme.bad()),
        Verdict::FiresOnPartialData => ("fires on ~", theme.bad()),
        Verdict::Quiet => ("quiet", theme.good()),
        Verdict::Undetermined => ("not covered", theme.dim()),
    };
    Line::from(vec![
        Span::raw(format!(
            "{:<6}{:>5} ",
            check.severity.as_str(),
            format!("{}x", check.factor)
        )),
        Span::raw(format!(
            "{:<8} {:<8} ",
            burn_text(&check.long),
            burn_text(&check.short)
        )),
        Span::styled(verdict, style),
    ])
}

/// One sentence on the alert the source reports, with the condition behind it.
fn why(slo: &SloSummary, checks: &[ConditionCheck], theme: Theme) -> Line<'static> {
    let firing = |severity| {
        checks.iter().find(|check| {
            check.severity == severity
                && matches!(check.verdict, Verdict::Fires | Verdict::FiresOnPartialData)
        })
    };
    let explain = |check: &ConditionCheck| {
        format!(
            "{} and {} both burn over {}x",
            burn_text(&check.long),
            burn_text(&check.short),
            check.factor
        )
    };
    match slo.alert {
        AlertLevel::Page => Line::from(Span::styled(
            match firing(crate::slo::Severity::Page) {
                Some(check) => format!("PAGE: {}", explain(check)),
                None => "PAGE, as the source reports it".to_owned(),
            },
            theme.bad(),
        )),
        AlertLevel::Ticket => Line::from(Span::styled(
            match firing(crate::slo::Severity::Ticket) {
                Some(check) => format!("ticket: {}", explain(check)),
                None => "ticket, as the source reports it".to_owned(),
            },
            theme.warn(),
        )),
        AlertLevel::None => Line::from(Span::styled("no alert fires", theme.good())),
        AlertLevel::Undetermined => Line::from(Span::styled(
            "no alert fires, but some windows are longer than the history held",
            theme.dim(),
        )),
    }
}

fn render_alerts(frame: &mut Frame<'_>, area: Rect, slo: &SloSummary, theme: Theme) {
    let block = panel::plain_block("Alerts: long and short window", theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let checks = alerts::conditions(slo);
    let mut lines = vec![why(slo, &checks, theme)];
    lines.extend(checks.iter().map(|check| condition_line(check, theme)));
    if checks
        .iter()
        .any(|check| check.long.partial || check.short.partial)
    {
        lines.push(Line::from(Span::styled(
            "~ over the history held, shorter than the window",
            theme.dim(),
        )));
    }
    frame.render_widget(
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: false }),
        inner,
    );
}

#[cfg(test)]
mod tests;
