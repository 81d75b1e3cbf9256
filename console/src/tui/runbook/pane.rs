//! The runbook pane over the current view: live values on top, the runbook below, scrolled
//! with j/k; values refresh with every redraw.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::super::store::Store;
use super::super::widgets::panel;
use super::live::{fill, live_values, summary_lines};

/// An open runbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunbookPane {
    pub slo: String,
    /// The runbook's path as the spec names it.
    pub runbook: String,
    /// The text, or why it could not be read.
    pub text: Result<String, String>,
    pub opened_at: DateTime<Utc>,
    scroll: u16,
}

impl RunbookPane {
    pub fn new(
        slo: String,
        runbook: String,
        text: Result<String, String>,
        opened_at: DateTime<Utc>,
    ) -> Self {
        Self {
            slo,
            runbook,
            text,
            opened_at,
            scroll: 0,
        }
    }

    /// Scroll keys; false for a key that closes the pane or is not the pane's.
    pub fn handle_key(&mut self, key: KeyEvent) -> bool {
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => self.scroll = self.scroll.saturating_add(1),
            KeyCode::Char('k') | KeyCode::Up => self.scroll = self.scroll.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => self.scroll = self.scroll.saturating_add(10),
            KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(10),
            KeyCode::Char('g') | KeyCode::Home => self.scroll = 0,
            _ => return false,
        }
        true
    }

    pub fn render(&self, frame: &mut Frame<'_>, area: Rect, store: &Store) {
        let theme = store.theme;
        frame.render_widget(Clear, area);
        let title = format!("Runbook {} (Esc closes, j/k scroll)", self.runbook);
        let block = panel::plain_block(&title, theme);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let values = live_values(store, &self.slo);
        let live: Vec<Line<'_>> = std::iter::once(Line::from(Span::styled(
            format!("Live values ({})", store.environment),
            theme.accent(),
        )))
        .chain(summary_lines(&values).into_iter().map(Line::from))
        .collect();
        // Rows the wrapped live lines take, and one blank row under them.
        let width = usize::from(inner.width).max(1);
        let rows: usize = live
            .iter()
            .map(|line| line.width().max(1).div_ceil(width))
            .sum();
        let live_height = u16::try_from(rows + 1).unwrap_or(u16::MAX);
        let [live_area, body] =
            Layout::vertical([Constraint::Length(live_height), Constraint::Min(1)]).areas(inner);
        frame.render_widget(Paragraph::new(live).wrap(Wrap { trim: false }), live_area);
        let body_lines: Vec<Line<'_>> = match &self.text {
            Ok(text) => fill(text, &values)
                .into_iter()
                .map(|line| {
                    if line.starts_with('#') {
                        Line::from(Span::styled(line, theme.accent()))
                    } else if line.contains('⟵') {
                        Line::from(Span::styled(line, theme.warn()))
                    } else {
                        Line::from(line)
                    }
                })
                .collect(),
            Err(error) => vec![Line::from(Span::styled(error.clone(), theme.bad()))],
        };
        frame.render_widget(
            Paragraph::new(body_lines)
                .wrap(Wrap { trim: false })
                .scroll((self.scroll, 0)),
            body,
        );
    }
}
