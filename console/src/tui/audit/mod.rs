//! The Audit view: who did what, when, to what, with what outcome; newest first, the
//! selected entry's parameters and error text below; the delivery metrics on top.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use super::store::SharedStore;
use super::text;
use super::theme::Theme;
use super::view::{Binding, View, ViewOutcome};
use super::widgets::list::ListCursor;
use super::widgets::panel;
use crate::audit::metrics::{self, percent_or_no_data, seconds_or_no_data};
use crate::audit::{AuditEntry, Outcome};

/// The period of the metrics line: the default of `opsbox audit --metrics`.
const METRICS_DAYS: i64 = 30;

const BINDINGS: &[Binding] = &[
    Binding {
        keys: "j / k, PgDn / PgUp, g / G",
        action: "move the selection",
    },
    Binding {
        keys: "e",
        action: "show only entries that failed (again: all)",
    },
];

pub struct AuditView {
    store: SharedStore,
    cursor: ListCursor,
    only_errors: bool,
    page: usize,
}

impl AuditView {
    pub fn new(store: SharedStore) -> Self {
        Self {
            store,
            cursor: ListCursor::default(),
            only_errors: false,
            page: 10,
        }
    }

    fn shown<'a>(&self, entries: &'a [AuditEntry]) -> Vec<&'a AuditEntry> {
        entries
            .iter()
            .rev()
            .filter(|entry| !self.only_errors || matches!(entry.outcome, Outcome::Error(_)))
            .collect()
    }

    fn shown_len(&self) -> usize {
        let store = self.store.borrow();
        store
            .audit
            .value()
            .map_or(0, |entries| self.shown(entries).len())
    }
}

fn outcome_span(outcome: &Outcome, theme: Theme) -> Span<'static> {
    match outcome {
        Outcome::Ok => Span::styled("ok", theme.good()),
        Outcome::Error(_) => Span::styled("error", theme.bad()),
    }
}

/// One line of delivery metrics over the entries read (`opsbox audit --metrics` has the
/// details and what they are based on).
fn metrics_line(
    entries: &[AuditEntry],
    now: chrono::DateTime<chrono::Utc>,
    theme: Theme,
) -> Line<'static> {
    let metrics = metrics::compute(entries, now - chrono::Duration::days(METRICS_DAYS), now);
    let failure_rate = match metrics.change_failure_rate {
        Some(_) => format!(
            "{} of {}",
            percent_or_no_data(metrics.change_failure_rate),
            metrics.rollouts_started
        ),
        None => percent_or_no_data(None),
    };
    Line::from(Span::styled(
        format!(
            "{METRICS_DAYS}d: {} deploys, CFR {failure_rate}, MTTR {}, canary→full {}, {} rollbacks",
            metrics.deployments,
            seconds_or_no_data(metrics.mean_time_to_restore_secs),
            seconds_or_no_data(metrics.mean_canary_to_full_secs),
            metrics.rollbacks
        ),
        theme.dim(),
    ))
}

fn detail(entry: &AuditEntry, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(vec![
        Span::styled(
            entry.time.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            theme.dim(),
        ),
        Span::raw(format!(
            "  {} did {} on {} in {}",
            entry.user, entry.action, entry.target, entry.environment
        )),
    ])];
    lines.push(Line::from(Span::styled(
        format!("parameters {}", entry.parameters),
        theme.dim(),
    )));
    if let Outcome::Error(message) = &entry.outcome {
        lines.push(Line::from(Span::styled(
            format!("error: {message}"),
            theme.bad(),
        )));
    }
    lines
}

impl View for AuditView {
    fn title(&self) -> &'static str {
        "Audit"
    }

    fn bindings(&self) -> &'static [Binding] {
        BINDINGS
    }

    fn handle_key(&mut self, key: KeyEvent) -> ViewOutcome {
        let len = self.shown_len();
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => self.cursor.down(len),
            KeyCode::Char('k') | KeyCode::Up => self.cursor.up(),
            KeyCode::PageDown => self.cursor.page_down(len, self.page),
            KeyCode::PageUp => self.cursor.page_up(self.page),
            KeyCode::Char('g') | KeyCode::Home => self.cursor.first(),
            KeyCode::Char('G') | KeyCode::End => self.cursor.last(len),
            KeyCode::Char('e') => {
                self.only_errors = !self.only_errors;
                self.cursor.first();
            }
            _ => return ViewOutcome::Ignored,
        }
        ViewOutcome::Consumed
    }

    fn render(&mut self, frame: &mut Frame<'_>, area: Rect) {
        let store = self.store.borrow();
        let theme = store.theme;
        let title = format!("Audit log {}", store.audit_path.display());
        let block = panel::block(&title, &store.audit, store.now, theme);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let Some(entries) = store.audit.value() else {
            panel::render_missing(frame, inner, &store.audit, "reading the audit log…", theme);
            return;
        };
        let [metrics_area, inner] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
        frame.render_widget(
            Paragraph::new(metrics_line(entries, store.now, theme)),
            metrics_area,
        );
        let shown = self.shown(entries);
        if shown.is_empty() {
            let why = if self.only_errors {
                "no failed operation in the entries read (e shows all)"
            } else {
                "no operation recorded yet: actions taken here or with the CLI appear as they happen"
            };
            frame.render_widget(
                Paragraph::new(Span::styled(why, theme.dim())).wrap(Wrap { trim: true }),
                inner,
            );
            return;
        }
        let [table_area, detail_area] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(4)]).areas(inner);
        let height = usize::from(table_area.height.saturating_sub(1));
        self.page = height.max(1);
        let window = self.cursor.visible(shown.len(), height);
        let selected = self.cursor.selected;
        let rows = shown[window.clone()]
            .iter()
            .enumerate()
            .map(|(offset, entry)| {
                let is_selected = window.start + offset == selected;
                let when = format!(
                    "-{}",
                    text::duration_short(text::elapsed(entry.time, store.now))
                );
                let row = Row::new(vec![
                    Cell::from(format!("{}{when}", if is_selected { "›" } else { " " })),
                    Cell::from(entry.user.as_str()),
                    Cell::from(entry.action.as_str()),
                    Cell::from(entry.target.as_str()),
                    Cell::from(outcome_span(&entry.outcome, theme)),
                ]);
                if is_selected {
                    row.style(theme.selected())
                } else {
                    row
                }
            });
        let table = Table::new(
            rows,
            [
                Constraint::Length(8),
                Constraint::Length(10),
                Constraint::Length(18),
                Constraint::Min(10),
                Constraint::Length(6),
            ],
        )
        .header(Row::new([" when", "user", "action", "target", "result"]).style(theme.header()))
        .column_spacing(1);
        frame.render_widget(table, table_area);
        if let Some(entry) = shown.get(selected) {
            frame.render_widget(
                Paragraph::new(detail(entry, theme)).wrap(Wrap { trim: false }),
                detail_area,
            );
        }
    }
}

#[cfg(test)]
mod tests;
