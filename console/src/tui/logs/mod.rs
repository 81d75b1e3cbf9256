//! Logs: a capped ring buffer of parsed lines fed by a file tailer, and the view over it.
//!
//! The data flows one way: [`tailer::spawn`] follows the instances' JSON-lines files and
//! sends [`TailBatch`]es through a bounded channel; the app hands each batch to
//! [`LogsView::ingest`], which pushes the lines into its [`LogBuffer`] (the one copy of
//! them) and keeps the list of lines passing the current filter up to date.

mod buffer;
mod filter;
mod json_line;
mod line;
mod render;
pub mod tailer;
mod view;

#[cfg(test)]
pub(in crate::tui) mod snapshots;

pub use buffer::{LogBuffer, DEFAULT_CAPACITY};
pub use filter::LineFilter;
pub use line::{Level, LineSource, LogLine, DEFAULT_MAX_TEXT_BYTES};
pub use tailer::{LogSource, TailBatch, Tailer, TailerConfig};
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
