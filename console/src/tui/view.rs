//! What every view of the console offers the app: keys, drawing, and its help lines.
use crossterm::event::KeyEvent;
use ratatui::{layout::Rect, Frame};

/// One line of the `?` help: the keys and what they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub keys: &'static str,
    pub action: &'static str,
}

/// A mutating operation a view asks for; the app confirms it, runs it, audits it and shows the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Promote,
    PromoteFull,
    Abort,
    Retry,
    Undo,
    KillInstance(String),
    RestartInstance(String),
    RequeueDead(String),
    RequeueAllDead,
    RunDrill(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewOutcome {
    Consumed,
    Ignored,
    Request(Action),
}

pub trait View {
    fn title(&self) -> &'static str;
    fn bindings(&self) -> &'static [Binding];
    /// Keys the app does not handle globally (`:`, `?`, `q`, Tab, Esc are global).
    fn handle_key(&mut self, key: KeyEvent) -> ViewOutcome;
    fn render(&mut self, frame: &mut Frame<'_>, area: Rect);
}
