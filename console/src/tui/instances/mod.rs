//! The Instances view: every process of the environment with its workload, track,
//! revision, state, restarts and age; kill and restart the selected one.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

use super::store::SharedStore;
use super::text;
use super::theme::Theme;
use super::view::{Action, Binding, View, ViewOutcome};
use super::widgets::list::ListCursor;
use super::widgets::panel;
use crate::model::{InstanceState, InstanceStatus};

/// Autoscaler lines above the table; a release has one or two.
const MAX_SCALER_LINES: usize = 3;

const BINDINGS: &[Binding] = &[
    Binding {
        keys: "j / k, PgDn / PgUp, g / G",
        action: "move the selection",
    },
    Binding {
        keys: "/",
        action: "filter by name, workload, track, revision or state",
    },
    Binding {
        keys: "K",
        action: "kill the selected instance (SIGKILL; it is restarted)",
    },
    Binding {
        keys: "r",
        action: "restart the selected instance gracefully",
    },
];

/// The longest filter kept; a name is never longer.
const MAX_FILTER: usize = 64;

pub struct InstancesView {
    store: SharedStore,
    cursor: ListCursor,
    filter: String,
    /// True while `/` is being typed.
    typing: bool,
    /// Rows in the last drawn page, for PgUp/PgDn.
    page: usize,
}

fn matches(instance: &InstanceStatus, filter: &str) -> bool {
    filter.is_empty()
        || [
            instance.name.as_str(),
            instance.workload.as_str(),
            instance.track.as_str(),
            instance.revision.as_str(),
            instance.state.as_str(),
        ]
        .iter()
        .any(|field| field.contains(filter))
}

impl InstancesView {
    pub fn new(store: SharedStore) -> Self {
        Self {
            store,
            cursor: ListCursor::default(),
            filter: String::new(),
            typing: false,
            page: 10,
        }
    }

    /// True while the filter is being typed: every key is text then.
    pub fn captures_input(&self) -> bool {
        self.typing
    }

    fn shown_len(&self) -> usize {
        let store = self.store.borrow();
        store.status.value().map_or(0, |status| {
            status
                .instances
                .iter()
                .filter(|instance| matches(instance, &self.filter))
                .count()
        })
    }

    /// The selected instance's name, among those the filter lets through.
    pub fn selected(&self) -> Option<String> {
        let store = self.store.borrow();
        store
            .status
            .value()?
            .instances
            .iter()
            .filter(|instance| matches(instance, &self.filter))
            .nth(self.cursor.selected)
            .map(|instance| instance.name.clone())
    }

    fn type_filter(&mut self, key: KeyEvent) -> ViewOutcome {
        match key.code {
            KeyCode::Enter => self.typing = false,
            KeyCode::Esc => {
                self.typing = false;
                self.filter.clear();
            }
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Char(c)
                if !key.modifiers.contains(KeyModifiers::CONTROL)
                    && self.filter.chars().count() < MAX_FILTER =>
            {
                self.filter.push(c);
            }
            _ => {}
        }
        self.cursor.first();
        ViewOutcome::Consumed
    }
}

fn state_style(state: InstanceState, theme: Theme) -> ratatui::style::Style {
    match state {
        InstanceState::Running => theme.good(),
        InstanceState::Starting => theme.accent(),
        InstanceState::Backoff => theme.warn(),
        InstanceState::Stopped => theme.dim(),
        InstanceState::Failed => theme.bad(),
    }
}

/// Columns from which the last exit (or spawn error) is shown too.
const WIDE_FROM: u16 = 100;

fn row(instance: &InstanceStatus, selected: bool, wide: bool, theme: Theme) -> Row<'_> {
    let age = instance.uptime_secs.map_or_else(
        || "-".to_owned(),
        |secs| text::duration_short(std::time::Duration::from_secs(secs)),
    );
    let restarts_style = if instance.restarts > 0 {
        theme.warn()
    } else {
        ratatui::style::Style::default()
    };
    let marker = if selected { "›" } else { " " };
    let mut cells = vec![
        Cell::from(format!("{marker}{}", instance.name)),
        Cell::from(instance.workload.as_str()),
        Cell::from(instance.track.as_str()),
        Cell::from(instance.revision.as_str()),
        Cell::from(Span::styled(
            instance.state.as_str(),
            state_style(instance.state, theme),
        )),
        Cell::from(Span::styled(instance.restarts.to_string(), restarts_style)),
        Cell::from(age),
        Cell::from(
            instance
                .pid
                .map_or_else(|| "-".to_owned(), |pid| pid.to_string()),
        ),
    ];
    if wide {
        let note = instance
            .last_error
            .as_deref()
            .or(instance.last_exit.as_deref())
            .unwrap_or("");
        cells.push(Cell::from(Span::styled(note, theme.dim())));
    }
    let row = Row::new(cells);
    if selected {
        row.style(theme.selected())
    } else {
        row
    }
}

impl View for InstancesView {
    fn title(&self) -> &'static str {
        "Instances"
    }

    fn bindings(&self) -> &'static [Binding] {
        BINDINGS
    }

    fn handle_key(&mut self, key: KeyEvent) -> ViewOutcome {
        if self.typing {
            return self.type_filter(key);
        }
        let len = self.shown_len();
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => self.cursor.down(len),
            KeyCode::Char('k') | KeyCode::Up => self.cursor.up(),
            KeyCode::PageDown => self.cursor.page_down(len, self.page),
            KeyCode::PageUp => self.cursor.page_up(self.page),
            KeyCode::Char('g') | KeyCode::Home => self.cursor.first(),
            KeyCode::Char('G') | KeyCode::End => self.cursor.last(len),
            KeyCode::Char('/') => {
                self.typing = true;
                self.filter.clear();
            }
            KeyCode::Char('K') => {
                return self.selected().map_or(ViewOutcome::Ignored, |name| {
                    ViewOutcome::Request(Action::KillInstance(name))
                })
            }
            KeyCode::Char('r') => {
                return self.selected().map_or(ViewOutcome::Ignored, |name| {
                    ViewOutcome::Request(Action::RestartInstance(name))
                })
            }
            _ => return ViewOutcome::Ignored,
        }
        ViewOutcome::Consumed
    }

    fn render(&mut self, frame: &mut Frame<'_>, area: Rect) {
        let store = self.store.borrow();
        let theme = store.theme;
        let Some((inner, status)) = panel::open_status(frame, area, "Instances", &store) else {
            return;
        };
        // The autoscalers (a cluster's HPA and KEDA) above the table, a line each.
        let scaler_lines = u16::try_from(status.scalers.len().min(MAX_SCALER_LINES)).unwrap_or(0);
        let [filter_line, scalers_area, table_area] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(scaler_lines),
            Constraint::Min(1),
        ])
        .areas(inner);
        let now = chrono::Utc::now();
        let scaler_rows: Vec<Line> = status
            .scalers
            .iter()
            .take(MAX_SCALER_LINES)
            .map(|scaler| {
                let style = if scaler.problem.is_some() {
                    theme.warn()
                } else {
                    theme.dim()
                };
                Line::from(Span::styled(
                    format!("autoscaler {}", scaler.summary(now)),
                    style,
                ))
            })
            .collect();
        frame.render_widget(ratatui::widgets::Paragraph::new(scaler_rows), scalers_area);
        let shown: Vec<&InstanceStatus> = status
            .instances
            .iter()
            .filter(|instance| matches(instance, &self.filter))
            .collect();
        let running = shown
            .iter()
            .filter(|i| i.state == InstanceState::Running)
            .count();
        let mut spans = vec![Span::raw(format!(
            "{} of {} instances · {running} running",
            shown.len(),
            status.instances.len()
        ))];
        if self.typing || !self.filter.is_empty() {
            spans.push(Span::styled(
                format!(
                    "  filter /{}{}",
                    self.filter,
                    if self.typing { "▏" } else { "" }
                ),
                theme.accent(),
            ));
        }
        frame.render_widget(Line::from(spans), filter_line);
        if shown.is_empty() {
            let why = if status.instances.is_empty() {
                "no instances yet"
            } else {
                "no instance matches the filter (Esc after / clears it)"
            };
            frame.render_widget(
                Line::from(Span::styled(why, theme.dim())),
                table_area.inner(ratatui::layout::Margin::new(0, 1)),
            );
            return;
        }
        // Only the rows that fit are built: the cost of a frame does not grow with the fleet.
        let height = usize::from(table_area.height.saturating_sub(1));
        self.page = height.max(1);
        let window = self.cursor.visible(shown.len(), height);
        let selected = self.cursor.selected;
        let wide = table_area.width >= WIDE_FROM;
        let visible = &shown[window.clone()];
        let name_width = visible
            .iter()
            .map(|instance| instance.name.chars().count() + 1)
            .max()
            .unwrap_or(4)
            .clamp(5, 32) as u16;
        let rows = visible.iter().enumerate().map(|(offset, instance)| {
            row(instance, window.start + offset == selected, wide, theme)
        });
        let mut widths = vec![
            Constraint::Length(name_width),
            Constraint::Length(10),
            Constraint::Length(6),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Length(7),
        ];
        let mut header = vec![
            " name", "workload", "track", "revision", "state", "restarts", "age", "pid",
        ];
        if wide {
            widths.push(Constraint::Fill(1));
            header.push("last exit");
        }
        let table = Table::new(rows, widths)
            .header(Row::new(header).style(theme.header()))
            .column_spacing(1);
        frame.render_widget(table, table_area);
    }
}

#[cfg(test)]
mod tests;
