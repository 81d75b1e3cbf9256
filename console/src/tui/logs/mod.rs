//! Logs: a capped ring buffer of parsed lines fed by the environment's log stream, and the
//! view over it.
//!
//! The data flows one way: the environment's `logs` stream sends [`LogBatch`]es through a
//! bounded channel (the local one follows the instances' files); the app hands each batch to
//! [`LogsView::ingest`], which pushes the lines into its [`LogBuffer`] (the one copy of
//! them) and keeps the list of lines passing the current filter up to date.

mod buffer;
mod filter;
mod render;
mod view;

#[cfg(test)]
pub(in crate::tui) mod snapshots;

pub use crate::model::logs::{Level, LineSource, LogBatch, LogLine, DEFAULT_MAX_TEXT_BYTES};
pub use buffer::{LogBuffer, DEFAULT_CAPACITY};
pub use filter::LineFilter;
pub use view::{LogsView, PromptKind, MAX_WORKLOAD_KEYS};

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::Frame;

use super::view::{Binding, View, ViewOutcome};

impl View for LogsView {
    fn title(&self) -> &'static str {
        "Logs"
    }

    fn bindings(&self) -> &'static [Binding] {
        view::BINDINGS
    }

    fn handle_key(&mut self, key: KeyEvent) -> ViewOutcome {
        self.handle(key)
    }

    fn render(&mut self, frame: &mut Frame<'_>, area: Rect) {
        self.draw(frame, area);
    }
}
