//! The app: which view is shown, the overlays over it (help, palette, confirmation,
//! runbook), the keys every view shares, and the effects a key asks the event loop for.
//!
//! The app never awaits anything: keys and collector updates change state here, and
//! what needs I/O (an action, starting the stack) leaves as an [`Effect`] that the
//! event loop runs in the background and answers with an [`Update`].

mod chrome;
mod overlay;
pub mod palette;

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

    /// Applies what a collector or a finished task reported.
    pub fn apply(&mut self, update: Update) {
        let mut store = self.store.borrow_mut();
        match update {
            Update::Status { at, result } => store.accept_status(result.map(|status| *status), at),
            Update::NotRunning(message) => store.accept_not_running(message),
            Update::Slo { at, result } => store.accept_slo(result, at),
            Update::Audit {
                at,
                result: Ok(None),
            } => store.audit.touch(at),
            Update::Audit { at, result } => store
                .audit
                .accept(result.map(Option::unwrap_or_default), at),
            Update::Drills { at, result } => store.drills.accept(result, at),
            Update::Chaos { at, result } => store.chaos.accept(result, at),
            Update::StackStart(progress) => {
                if let StackStart::Failed(error) = &progress {
                    let text = format!("opsbox up failed: {error}");
                    drop(store);
                    self.note(NoticeKind::Failure, text);
                    self.store.borrow_mut().stack_start = progress;
                    return;
                }
                store.stack_start = progress;
            }
            Update::DrillStep(step) => {
                if let Some(running) = store.running_drill.as_mut() {
                    if running.steps.len() == MAX_LIVE_DRILL_STEPS {
                        running.steps.remove(0);
                    }
                    running.steps.push(step);
                }
            }
            Update::ActionDone(result) => {
                if let Action::RunDrill(_) = result.action {
                    store.running_drill = None;
                } else {
                    store.pending_action = None;
                }
                let (kind, text) = match &result.outcome {
                    Ok(answer) => (
                        NoticeKind::Success,
                        format!("✓ {}: {answer}", result.summary),
                    ),
                    Err(error) => (
                        NoticeKind::Failure,
                        format!("✗ {}: {error}", result.summary),
                    ),
                };
                let requeued = matches!(
                    result.action,
                    Action::RequeueDead(_) | Action::RequeueAllDead
                );
                store.results.push(result);
                drop(store);
                self.note(kind, text);
                if requeued {
                    self.effects.push(Effect::RefreshQueue);
                }
            }
        }
    }

    /// Lines the log tailer read; the Overview's warnings follow them.
    pub fn ingest_logs(&mut self, batch: LogBatch) {
        self.logs.ingest(batch);
        // Every indexed problem is looked at, so that a line repeated all shift is one
        // row and a new kind of warning still finds its place.
        let problems = collapse_repeats(&self.logs.latest_problems(usize::MAX), PROBLEM_LINES);
        self.store.borrow_mut().problems = problems;
    }

    pub fn apply_queue(&mut self, reading: QueueReading) {
        self.queue.apply(reading);
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

    /// A view or the palette asks for an action: refused in read-only mode or while
    /// another runs; otherwise the confirmation opens.
    pub fn request(&mut self, action: Action) {
        let summary = actions::summary(&action);
        let store = self.store.borrow();
        if store.read_only {
            drop(store);
            self.note(
                NoticeKind::Failure,
                format!("read-only console: `{summary}` is disabled (started with --read-only)"),
            );
            return;
        }
        if let Err(reason) = store.permissions.check(actions::verb(&action)) {
            let text = format!("`{summary}` is not allowed here: {reason}");
            drop(store);
            self.note(NoticeKind::Failure, text);
            return;
        }
        if let Action::RunDrill(_) = action {
            if let Some(running) = &store.running_drill {
                let text = format!(
                    "drill {} is still running; one drill at a time",
                    running.name
                );
                drop(store);
                self.note(NoticeKind::Failure, text);
                return;
            }
        } else if let Some(pending) = &store.pending_action {
            let text = format!("`{pending}` is still running; wait for its result");
            drop(store);
            self.note(NoticeKind::Failure, text);
            return;
        }
        if store.connection != Connection::Connected {
            drop(store);
            self.note(
                NoticeKind::Failure,
                format!("`{summary}` needs a running environment"),
            );
            return;
        }
        let confirmation = actions::describe(&action, &store);
        drop(store);
        self.overlay = Overlay::Confirm {
            action,
            confirmation,
        };
    }

    fn confirm(&mut self, action: Action) {
        let summary = actions::summary(&action);
        let mut store = self.store.borrow_mut();
        let now = store.now;
        match &action {
            Action::RunDrill(name) => {
                store.running_drill = Some(RunningDrill {
                    name: name.clone(),
                    started_at: now,
                    steps: Vec::new(),
                });
            }
            _ => store.pending_action = Some(summary.clone()),
        }
        drop(store);
        if let Action::RunDrill(name) = &action {
            // A drill is watched where it is shown live.
            self.drills.select(name);
            self.show(ViewId::Drills);
        }
        self.note(
            NoticeKind::Info,
            format!("{summary}: sent, waiting for the answer…"),
        );
        self.effects.push(Effect::Perform(action));
    }

    fn start_stack(&mut self) {
        let mut store = self.store.borrow_mut();
        if store.read_only {
            drop(store);
            self.note(
                NoticeKind::Failure,
                "read-only console: starting the environment is disabled",
            );
            return;
        }
        if matches!(store.stack_start, StackStart::Running(_)) {
            return;
        }
        if store.connection == Connection::Connected {
            drop(store);
            self.note(NoticeKind::Info, "the environment is already running");
            return;
        }
        store.stack_start =
            StackStart::Running("starting the local environment (opsbox up)…".to_owned());
        drop(store);
        self.effects.push(Effect::StartStack);
    }

    fn open_runbook(&mut self, slo: Option<String>) {
        let store = self.store.borrow();
        let name = slo
            .or_else(|| store.selected_slo.clone())
            .or_else(|| store.slo_names().into_iter().next());
        let Some(name) = name else {
            drop(store);
            self.note(
                NoticeKind::Failure,
                "no SLO known yet, so no runbook to open",
            );
            return;
        };
        let Some(path) = store
            .slo
            .value()
            .and_then(|report| report.slos.iter().find(|slo| slo.name == name))
            .map(|slo| slo.runbook.clone())
        else {
            drop(store);
            self.note(
                NoticeKind::Failure,
                format!("no SLO named {name} in the current report"),
            );
            return;
        };
        let text = runbook::locate(&path, &store.state_dir)
            .and_then(|found| runbook::read(&found).map_err(|error| format!("{error:#}")));
        let pane = RunbookPane::new(name, path, text, store.now);
        drop(store);
        self.overlay = Overlay::Runbook(pane);
    }

    fn run_command(&mut self, command: Command) {
        match command {
            Command::Show(view) => self.show(view),
            Command::ShowSlo(slo) => {
                self.store.borrow_mut().selected_slo = Some(slo);
                self.show(ViewId::Slo);
            }
            Command::Runbook(slo) => self.open_runbook(slo),
            Command::Act(action) => self.request(action),
            Command::StartStack => self.start_stack(),
            Command::Help => self.overlay = Overlay::Help,
            Command::Quit => self.quit = true,
        }
    }

    /// Requests views left in the store while handling a key.
    fn take_ui_requests(&mut self) {
        let requests = std::mem::take(&mut self.store.borrow_mut().requests);
        for request in requests {
            match request {
                UiRequest::Show(view) => self.show(view),
                UiRequest::OpenRunbook(slo) => self.open_runbook(Some(slo)),
            }
        }
    }

    /// True when the active view is typing text (a filter, a search) and must get every key.
    fn view_captures_input(&self) -> bool {
        match self.active {
            ViewId::Logs => self.logs.captures_input(),
            ViewId::Instances => self.instances.captures_input(),
            _ => false,
        }
    }

    /// Whether the view's content is replaced by the "no environment" screen.
    pub fn shows_no_stack(&self) -> bool {
        let store = self.store.borrow();
        matches!(store.connection, Connection::NotRunning(_))
            && !matches!(self.active, ViewId::Drills | ViewId::Audit)
    }

    pub fn handle_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            return;
        }
        if !matches!(self.overlay, Overlay::None) {
            self.overlay_key(key);
            self.take_ui_requests();
            return;
        }
        if self.view_captures_input() {
            let active = self.active;
            let outcome = self.view_mut(active).handle_key(key);
            self.view_outcome(outcome);
            return;
        }
        match key.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char(':') => self.overlay = Overlay::Palette(Palette::default()),
            KeyCode::Char('?') => self.overlay = Overlay::Help,
            KeyCode::Tab => {
                let next = self.active.next();
                self.show(next);
            }
            KeyCode::BackTab => {
                let previous = self.active.previous();
                self.show(previous);
            }
            KeyCode::Esc => {
                if let Some(view) = self.back.pop() {
                    self.active = view;
                } else {
                    self.notice = None;
                }
            }
            KeyCode::Char('u') if self.shows_no_stack() => self.start_stack(),
            _ if self.shows_no_stack() => {}
            _ => {
                let active = self.active;
                let outcome = self.view_mut(active).handle_key(key);
                self.view_outcome(outcome);
            }
        }
    }

    fn view_outcome(&mut self, outcome: ViewOutcome) {
        if let ViewOutcome::Request(action) = outcome {
            self.request(action);
        }
        self.take_ui_requests();
    }

    fn overlay_key(&mut self, key: KeyEvent) {
        match std::mem::replace(&mut self.overlay, Overlay::None) {
            Overlay::None => {}
            Overlay::Help => {
                if !matches!(
                    key.code,
                    KeyCode::Esc | KeyCode::Char('?' | 'q') | KeyCode::Enter
                ) {
                    self.overlay = Overlay::Help;
                }
            }
            Overlay::Confirm {
                action,
                confirmation,
            } => match key.code {
                KeyCode::Char('y' | 'Y') | KeyCode::Enter => self.confirm(action),
                KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc => {
                    self.note(
                        NoticeKind::Info,
                        format!("{}: cancelled, nothing was done", actions::summary(&action)),
                    );
                }
                _ => {
                    self.overlay = Overlay::Confirm {
                        action,
                        confirmation,
                    }
                }
            },
            Overlay::Runbook(mut pane) => {
                if !matches!(key.code, KeyCode::Esc | KeyCode::Char('q')) {
                    pane.handle_key(key);
                    self.overlay = Overlay::Runbook(pane);
                }
            }
            Overlay::Palette(mut palette) => match key.code {
                KeyCode::Esc => {}
                KeyCode::Enter => match palette::parse(&palette.input, &self.known()) {
                    Ok(command) => self.run_command(command),
                    Err(error) => {
                        palette.error = Some(error);
                        self.overlay = Overlay::Palette(palette);
                    }
                },
                KeyCode::Tab => {
                    palette.complete(&self.known());
                    self.overlay = Overlay::Palette(palette);
                }
                KeyCode::Backspace if palette.input.is_empty() => {}
                KeyCode::Backspace => {
                    palette.backspace();
                    self.overlay = Overlay::Palette(palette);
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    palette.push(c);
                    self.overlay = Overlay::Palette(palette);
                }
                _ => self.overlay = Overlay::Palette(palette),
            },
        }
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

/// The newest `keep` kinds of problem (level, instance and message), oldest first, each
/// with how often it was seen: the same retry warning every few seconds is one row.
fn collapse_repeats(lines: &[&crate::model::logs::LogLine], keep: usize) -> Vec<ProblemLine> {
    let mut kinds: Vec<ProblemLine> = Vec::new();
    let mut index: std::collections::HashMap<(&str, &str, &str), usize> =
        std::collections::HashMap::new();
    for line in lines.iter().rev() {
        let level = line.level.map_or("?", |level| level.as_str());
        match index.get(&(level, &*line.instance, line.message())) {
            Some(&at) => {
                let kind = &mut kinds[at];
                kind.repeats += 1;
                kind.first_at = line.timestamp;
                kind.text = line.message().to_owned();
            }
            None if kinds.len() < keep => {
                index.insert((level, &*line.instance, line.message()), kinds.len());
                kinds.push(ProblemLine {
                    at: line.timestamp,
                    level,
                    instance: line.instance.to_string(),
                    text: line.text.to_string(),
                    repeats: 1,
                    first_at: line.timestamp,
                });
            }
            None => {}
        }
    }
    kinds.reverse();
    kinds
}
