//! Queue: depth over time, throughput by outcome, the oldest job's age, and the dead-letter
//! browser with requeue of one or all.
//!
//! [`collector::spawn`] reads `GET /queue` and `GET /queue/dead` from the daemon on a timer
//! and sends [`QueueReading`]s through a bounded channel; the app hands each to
//! [`QueueView::apply`]. `r` and `A` answer
//! [`Action::RequeueDead`](crate::tui::view::Action::RequeueDead) and
//! [`Action::RequeueAllDead`](crate::tui::view::Action::RequeueAllDead); the app confirms, calls
//! [`ControlClient::requeue_dead`](crate::env::local::ControlClient::requeue_dead) and audits.

pub mod collector;
mod history;
mod render;
mod view;

#[cfg(test)]
mod snapshots;

pub use collector::{QueueReading, DEAD_LETTERS_LISTED};
pub use history::{QueueHistory, QueueSample, HISTORY_CAP};
pub use view::QueueView;

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::Frame;

use super::view::{Binding, View, ViewOutcome};

impl View for QueueView {
    fn title(&self) -> &'static str {
        "Queue"
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
