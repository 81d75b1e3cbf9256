//! The latest warnings and errors from the services' logs, newest at the bottom.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::super::store::Store;
use super::super::text;
use super::super::widgets::panel;

pub fn render(frame: &mut Frame<'_>, area: Rect, store: &Store) {
    let theme = store.theme;
    let block: Block<'_> = panel::plain_block("Warnings and errors", theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if store.problems.is_empty() {
        frame.render_widget(
            Line::from(Span::styled(
                "no warnings or errors in the logs read so far",
                theme.dim(),
            )),
            inner,
        );
        return;
    }
    let rows = usize::from(inner.height);
    let width = usize::from(inner.width);
    let lines: Vec<Line<'_>> = store
        .problems
        .iter()
        .skip(store.problems.len().saturating_sub(rows))
        .map(|problem| {
            let style = if problem.level == "ERROR" {
                theme.bad()
            } else {
                theme.warn()
            };
            let time = problem.at.map_or_else(
                || "--:--:--".to_owned(),
                |at| at.format("%H:%M:%S").to_string(),
            );
            let head = format!("{time} {:<5} {:<10} ", problem.level, problem.instance);
            // A repeat count goes first: it is what tells a new warning from an old one.
            let count = if problem.repeats > 1 {
                let since = problem.first_at.map_or_else(String::new, |first| {
                    format!(", since {}", first.format("%H:%M:%S"))
                });
                format!("×{}{since} ", problem.repeats)
            } else {
                String::new()
            };
            let room = width.saturating_sub(head.chars().count() + count.chars().count());
            Line::from(vec![
                Span::styled(head, style),
                Span::styled(count, theme.accent()),
                Span::raw(text::truncate(&problem.text, room)),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}
