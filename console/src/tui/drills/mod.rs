//! The Drills view: the catalogue, the selected drill's method and last verdict, and
//! while one runs, the chaos it causes as it happens; then its report.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::store::{DrillBoard, SharedStore, Store};
use super::text;
use super::theme::Theme;
use super::view::{Action, Binding, View, ViewOutcome};
use super::widgets::list::ListCursor;
use super::widgets::panel;
use crate::drill::{Drill, DrillReport};

const BINDINGS: &[Binding] = &[
    Binding {
        keys: "j / k",
        action: "select a drill",
    },
    Binding {
        keys: "Enter",
        action: "run the selected drill (asks first)",
    },
    Binding {
        keys: "J / K",
        action: "scroll its last report",
    },
];

pub struct DrillsView {
    store: SharedStore,
    cursor: ListCursor,
    report_scroll: u16,
}

impl DrillsView {
    pub fn new(store: SharedStore) -> Self {
        Self {
            store,
            cursor: ListCursor::default(),
            report_scroll: 0,
        }
    }

    fn len(&self) -> usize {
        self.store
            .borrow()
            .drills
            .value()
            .map_or(0, |board| board.drills.len())
    }

    /// Points the view at drill `name` (a drill just started, to watch it).
    pub fn select(&mut self, name: &str) {
        let store = self.store.borrow();
        let index = store
            .drills
            .value()
            .and_then(|board| board.drills.iter().position(|drill| drill.name == name));
        if let Some(index) = index {
            self.cursor.selected = index;
            self.report_scroll = 0;
        }
    }

    pub fn selected(&self) -> Option<String> {
        let store = self.store.borrow();
        let board = store.drills.value()?;
        board
            .drills
            .get(self.cursor.selected)
            .map(|drill| drill.name.clone())
    }
}

fn verdict(report: Option<&DrillReport>, theme: Theme) -> Span<'static> {
    match report {
        Some(report) if report.passed => Span::styled("passed", theme.good()),
        Some(_) => Span::styled("FAILED", theme.bad()),
        None => Span::styled("never run", theme.dim()),
    }
}

fn catalogue(
    frame: &mut Frame<'_>,
    area: Rect,
    board: &DrillBoard,
    cursor: &mut ListCursor,
    store: &Store,
) {
    let theme = store.theme;
    let block = panel::block("Drills", &store.drills, store.now, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let window = cursor.visible(board.drills.len(), usize::from(inner.height));
    let lines: Vec<Line<'_>> = board.drills[window.clone()]
        .iter()
        .enumerate()
        .map(|(offset, drill)| {
            let selected = window.start + offset == cursor.selected;
            let running = store
                .running_drill
                .as_ref()
                .is_some_and(|run| run.name == drill.name);
            let mark = if running {
                Span::styled("running", theme.accent())
            } else {
                verdict(board.last_reports.get(&drill.name), theme)
            };
            let line = Line::from(vec![
                Span::raw(format!(
                    "{}{:<18} ",
                    if selected { "›" } else { " " },
                    drill.name
                )),
                mark,
            ]);
            if selected {
                line.style(theme.selected())
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn plan_lines(drill: &Drill, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::from(drill.description.clone()),
        Line::from(Span::styled(
            format!(
                "recovers within {} · runbook {}",
                drill.recovery.within, drill.runbook
            ),
            theme.dim(),
        )),
        Line::from(Span::styled("method", theme.header())),
    ];
    for (index, action) in drill.method.iter().enumerate() {
        let style = if action.is_chaos() {
            theme.warn()
        } else {
            ratatui::style::Style::default()
        };
        lines.push(Line::from(Span::styled(
            format!("{:>2}. {action}", index + 1),
            style,
        )));
    }
    lines
}

fn live_lines(
    store: &Store,
    name: &str,
    started_at: chrono::DateTime<chrono::Utc>,
) -> Vec<Line<'static>> {
    let theme = store.theme;
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "{name} running for {}; its report appears here when it ends",
            text::duration_short(text::elapsed(started_at, store.now))
        ),
        theme.accent(),
    ))];
    // The drill's own steps, as the runner records them: actions and hypothesis checks.
    let steps = store
        .running_drill
        .as_ref()
        .map(|running| running.steps.as_slice())
        .unwrap_or_default();
    for step in steps {
        let (mark, style) = if step.ok {
            ("✓", theme.good())
        } else {
            ("✗", theme.bad())
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("{:>6.1}s {mark} ", step.offset_ms as f64 / 1000.0),
                style,
            ),
            Span::raw(format!("{}  {}", step.action, step.detail)),
        ]));
    }
    let Some(chaos) = store.chaos.value() else {
        lines.push(Line::from(Span::styled(
            store
                .chaos
                .error()
                .unwrap_or("waiting for the chaos board…")
                .to_owned(),
            theme.dim(),
        )));
        return lines;
    };
    for outage in &chaos.outages {
        lines.push(Line::from(Span::styled(
            format!("in force: outage of {}", outage.dependency),
            theme.bad(),
        )));
    }
    for fault in &chaos.faults {
        let track = fault.track.map_or_else(
            || "every track".to_owned(),
            |track| format!("the {track} track"),
        );
        lines.push(Line::from(Span::styled(
            format!(
                "in force: fault on {track}, error rate {}, latency {}ms",
                text::percent(fault.error_rate),
                fault.latency_ms
            ),
            theme.bad(),
        )));
    }
    let events = chaos.history.iter().filter(|event| event.at >= started_at);
    for event in events {
        lines.push(Line::from(vec![
            Span::styled(
                format!(
                    "+{:<6}",
                    text::duration_short(text::elapsed(started_at, event.at))
                ),
                theme.dim(),
            ),
            Span::styled(format!("{:<14}", event.kind), theme.warn()),
            Span::raw(format!("{} {}", event.target, event.message)),
        ]));
    }
    lines
}

impl View for DrillsView {
    fn title(&self) -> &'static str {
        "Drills"
    }

    fn bindings(&self) -> &'static [Binding] {
        BINDINGS
    }

    fn handle_key(&mut self, key: KeyEvent) -> ViewOutcome {
        let len = self.len();
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => {
                self.cursor.down(len);
                self.report_scroll = 0;
            }
            KeyCode::Char('k') | KeyCode::Up => {
                self.cursor.up();
                self.report_scroll = 0;
            }
            KeyCode::Char('J') | KeyCode::PageDown => {
                self.report_scroll = self.report_scroll.saturating_add(5)
            }
            KeyCode::Char('K') | KeyCode::PageUp => {
                self.report_scroll = self.report_scroll.saturating_sub(5)
            }
            KeyCode::Enter => {
                return self.selected().map_or(ViewOutcome::Ignored, |name| {
                    ViewOutcome::Request(Action::RunDrill(name))
                })
            }
            _ => return ViewOutcome::Ignored,
        }
        ViewOutcome::Consumed
    }

    fn render(&mut self, frame: &mut Frame<'_>, area: Rect) {
        let store = self.store.borrow();
        let theme = store.theme;
        let Some(board) = store.drills.value() else {
            let block = panel::block("Drills", &store.drills, store.now, theme);
            let inner = block.inner(area);
            frame.render_widget(block, area);
            panel::render_missing(
                frame,
                inner,
                &store.drills,
                "reading the drill catalogue…",
                theme,
            );
            return;
        };
        if board.drills.is_empty() {
            let block = panel::block("Drills", &store.drills, store.now, theme);
            let inner = block.inner(area);
            frame.render_widget(block, area);
            frame.render_widget(
                Line::from(Span::styled(
                    format!("no drills in {}", board.source),
                    theme.dim(),
                )),
                inner,
            );
            return;
        }
        self.cursor.clamp(board.drills.len());
        let drill = &board.drills[self.cursor.selected];
        let plan = plan_lines(drill, theme);
        let top_height = u16::try_from(plan.len() + 2)
            .unwrap_or(u16::MAX)
            .max(u16::try_from(board.drills.len() + 2).unwrap_or(u16::MAX))
            .min(area.height / 2);
        let [top, bottom] =
            Layout::vertical([Constraint::Length(top_height), Constraint::Min(4)]).areas(area);
        let [list_area, plan_area] =
            Layout::horizontal([Constraint::Length(32), Constraint::Min(30)]).areas(top);
        catalogue(frame, list_area, board, &mut self.cursor, &store);
        let plan_block = panel::plain_block(&drill.name, theme);
        let plan_inner = plan_block.inner(plan_area);
        frame.render_widget(plan_block, plan_area);
        frame.render_widget(Paragraph::new(plan).wrap(Wrap { trim: false }), plan_inner);
        let running = store
            .running_drill
            .as_ref()
            .filter(|run| run.name == drill.name);
        let (title, lines) = match (running, board.last_reports.get(&drill.name)) {
            (Some(run), _) => (
                "Live".to_owned(),
                live_lines(&store, &run.name, run.started_at),
            ),
            (None, Some(report)) => (
                format!(
                    "Last report: {} {} ago",
                    if report.passed { "passed" } else { "FAILED" },
                    text::duration_short(text::elapsed(report.finished_at, store.now))
                ),
                report
                    .render()
                    .lines()
                    .map(|line| Line::from(line.to_owned()))
                    .collect(),
            ),
            (None, None) => (
                "Last report".to_owned(),
                vec![Line::from(Span::styled(
                    format!(
                        "{} has not run here yet; Enter runs it (after a confirmation)",
                        drill.name
                    ),
                    theme.dim(),
                ))],
            ),
        };
        let block = panel::plain_block(&title, theme);
        let inner = block.inner(bottom);
        frame.render_widget(block, bottom);
        frame.render_widget(Paragraph::new(lines).scroll((self.report_scroll, 0)), inner);
    }
}

#[cfg(test)]
mod tests;
