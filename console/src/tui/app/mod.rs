//! The app: which view is shown, the overlays over it (help, palette, confirmation,
//! runbook), the keys every view shares, and the effects a key asks the event loop for.
//!
//! The app never awaits anything: keys and collector updates change state here, and
//! what needs I/O (an action, starting the stack) leaves as an [`Effect`] that the
//! event loop runs in the background and answers with an [`Update`].

mod chrome;
mod keys;
mod overlay;
pub mod palette;
mod requests;
mod updates;

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::Frame;

use super::actions::{self, Confirmation};
use super::audit::AuditView;
use super::collect::Update;
use super::drills::DrillsView;
use super::instances::InstancesView;
use super::logs::{LogBatch, LogsView};
use super::nav::{UiRequest, ViewId};
use super::overview::OverviewView;
use super::queue::{QueueReading, QueueView};
use super::rollout::RolloutView;
use super::runbook::{self, RunbookPane};
use super::slo_detail::SloView;
use super::store::{
    ActionResult, Connection, ProblemLine, RunningDrill, SharedStore, StackStart,
    MAX_LIVE_DRILL_STEPS,
};
use super::view::{Action, View, ViewOutcome};
use palette::{Command, Known, Palette};

/// Warnings and errors copied from the log buffer for the Overview.
pub const PROBLEM_LINES: usize = 20;

/// Views visited, for Esc.
const BACK_HISTORY: usize = 16;

/// What the event loop is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Carry out a confirmed action, audit it, and answer with [`Update::ActionDone`].
    Perform(Action),
    /// Run `opsbox up` in the background.
    StartStack,
    /// Read the queue again now (after a requeue).
    RefreshQueue,
    /// Readings show, and the verbs act on, this Rollout of the several in the namespace.
    ChooseRollout(String),
}

/// A one-line message in the footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub at: DateTime<Utc>,
    pub text: String,
    pub kind: NoticeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    Info,
    Success,
    Failure,
}

/// What is drawn over the view and takes the keys first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    Palette(Palette),
    Confirm {
        action: Action,
        confirmation: Confirmation,
    },
    Runbook(RunbookPane),
}

pub struct App {
    store: SharedStore,
    active: ViewId,
    back: Vec<ViewId>,
    overview: OverviewView,
    slo: SloView,
    rollout: RolloutView,
    queue: QueueView,
    instances: InstancesView,
    logs: LogsView,
    drills: DrillsView,
    audit: AuditView,
    overlay: Overlay,
    notice: Option<Notice>,
    quit: bool,
    effects: Vec<Effect>,
}

impl App {
    pub fn new(store: SharedStore) -> Self {
        let colors = store.borrow().theme.uses_color();
        Self {
            overview: OverviewView::new(store.clone()),
            slo: SloView::new(store.clone()),
            rollout: RolloutView::new(store.clone()),
            queue: QueueView::new(colors),
            instances: InstancesView::new(store.clone()),
            logs: LogsView::new(colors),
            drills: DrillsView::new(store.clone()),
            audit: AuditView::new(store.clone()),
            store,
            active: ViewId::Overview,
            back: Vec::new(),
            overlay: Overlay::None,
            notice: None,
            quit: false,
            effects: Vec::new(),
        }
    }

    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    pub fn active(&self) -> ViewId {
        self.active
    }

    pub fn overlay(&self) -> &Overlay {
        &self.overlay
    }

    pub fn notice(&self) -> Option<&Notice> {
        self.notice.as_ref()
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    pub fn logs(&self) -> &LogsView {
        &self.logs
    }

    /// What the event loop should do next; emptied by the call.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    fn view_mut(&mut self, id: ViewId) -> &mut dyn View {
        match id {
            ViewId::Overview => &mut self.overview,
            ViewId::Slo => &mut self.slo,
            ViewId::Rollout => &mut self.rollout,
            ViewId::Queue => &mut self.queue,
            ViewId::Instances => &mut self.instances,
            ViewId::Logs => &mut self.logs,
            ViewId::Drills => &mut self.drills,
            ViewId::Audit => &mut self.audit,
        }
    }

    /// The title of a view, for the header's tabs.
    pub fn title_of(&mut self, id: ViewId) -> &'static str {
        self.view_mut(id).title()
    }

    /// What the environment refused, in the footer.
    pub fn refused(&mut self, text: String) {
        self.note(NoticeKind::Failure, text);
    }

    fn note(&mut self, kind: NoticeKind, text: impl Into<String>) {
        let at = self.store.borrow().now;
        self.notice = Some(Notice {
            at,
            text: text.into(),
            kind,
        });
    }

    pub fn show(&mut self, view: ViewId) {
        if view != self.active {
            if self.back.len() == BACK_HISTORY {
                self.back.remove(0);
            }
            self.back.push(self.active);
            self.active = view;
        }
    }

    fn known(&self) -> Known {
        let store = self.store.borrow();
        Known {
            slos: store.slo_names(),
            instances: store.instance_names(),
            tasks: self
                .queue
                .dead_letters()
                .iter()
                .map(|letter| letter.task_id.clone())
                .collect(),
            drills: store
                .drills
                .value()
                .map(|board| {
                    board
                        .drills
                        .iter()
                        .map(|drill| drill.name.clone())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Whether the view's content is replaced by the "no environment" screen.
    pub fn shows_no_stack(&self) -> bool {
        let store = self.store.borrow();
        matches!(store.connection, Connection::NotRunning(_))
            && !matches!(self.active, ViewId::Drills | ViewId::Audit)
    }

    pub fn render(&mut self, frame: &mut Frame<'_>) {
        let area = frame.area();
        let [header, main, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(1),
        ])
        .areas(area);
        chrome::header(frame, header, self);
        if self.shows_no_stack() {
            chrome::no_stack(frame, main, &self.store.borrow());
        } else {
            let active = self.active;
            self.view_mut(active).render(frame, main);
        }
        chrome::footer(frame, footer, self);
        let known = self.known();
        let store = self.store.borrow();
        match &self.overlay {
            Overlay::None => {}
            Overlay::Help => {
                let bindings = match self.active {
                    ViewId::Overview => self.overview.bindings(),
                    ViewId::Slo => self.slo.bindings(),
                    ViewId::Rollout => self.rollout.bindings(),
                    ViewId::Queue => self.queue.bindings(),
                    ViewId::Instances => self.instances.bindings(),
                    ViewId::Logs => self.logs.bindings(),
                    ViewId::Drills => self.drills.bindings(),
                    ViewId::Audit => self.audit.bindings(),
                };
                overlay::help(frame, main, self.active, bindings, &store);
            }
            Overlay::Palette(palette) => overlay::palette(frame, main, palette, &known, &store),
            Overlay::Confirm { confirmation, .. } => {
                overlay::confirm(frame, main, confirmation, &store)
            }
            Overlay::Runbook(pane) => pane.render(frame, overlay::inset(main, 2, 1), &store),
        }
    }
}

/// Builds the result of an action for [`Update::ActionDone`].
pub fn action_result(action: &Action, outcome: Result<String, String>) -> ActionResult {
    ActionResult {
        at: Utc::now(),
        action: action.clone(),
        summary: actions::summary(action),
        outcome,
    }
}

/// An area of `area`'s size minus margins, for panes over the view.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

#[cfg(test)]
mod tests;
