//! The Overview: SLOs with budget and burn, the rollout strip, queue and instances at a
//! glance, and the latest warnings and errors. It fits 80×24 and uses more room when
//! it has it (more burn-rate windows, more log lines).

mod instances_panel;
mod problems_panel;
mod queue_panel;
pub mod rollout_strip;
pub mod slo_table;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::Frame;

use super::nav::{UiRequest, ViewId};
use super::store::SharedStore;
use super::view::{Action, Binding, View, ViewOutcome};
use super::widgets::list::ListCursor;

const BINDINGS: &[Binding] = &[
    Binding {
        keys: "j / k",
        action: "select the next / previous SLO",
    },
    Binding {
        keys: "Enter",
        action: "open the selected SLO's detail",
    },
    Binding {
        keys: "R",
        action: "open the selected SLO's runbook",
    },
    Binding {
        keys: "p / P",
        action: "promote the rollout one step / fully",
    },
    Binding {
        keys: "a",
        action: "abort the rollout",
    },
];

pub struct OverviewView {
    store: SharedStore,
    slo_cursor: ListCursor,
    counted: instances_panel::Counted,
}

impl OverviewView {
    pub fn new(store: SharedStore) -> Self {
        Self {
            store,
            slo_cursor: ListCursor::default(),
            counted: instances_panel::Counted::default(),
        }
    }

    /// Moves the selection and tells the store which SLO is selected (the SLO view opens on it).
    fn select(&mut self, step: impl FnOnce(&mut ListCursor, usize)) {
        let mut store = self.store.borrow_mut();
        let names = store.slo_names();
        if let Some(current) = &store.selected_slo {
            if let Some(index) = names.iter().position(|name| name == current) {
                self.slo_cursor.selected = index;
            }
        }
        step(&mut self.slo_cursor, names.len());
        store.selected_slo = names.get(self.slo_cursor.selected).cloned();
    }

    fn selected_slo(&mut self) -> Option<String> {
        self.select(|_, _| {});
        self.store.borrow().selected_slo.clone()
    }
}

impl View for OverviewView {
    fn title(&self) -> &'static str {
        "Overview"
    }

    fn bindings(&self) -> &'static [Binding] {
        BINDINGS
    }

    fn handle_key(&mut self, key: KeyEvent) -> ViewOutcome {
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => self.select(|cursor, len| cursor.down(len)),
            KeyCode::Char('k') | KeyCode::Up => self.select(|cursor, _| cursor.up()),
            KeyCode::Enter => {
                self.select(|_, _| {});
                self.store
                    .borrow_mut()
                    .requests
                    .push(UiRequest::Show(ViewId::Slo));
            }
            KeyCode::Char('R') => {
                let Some(slo) = self.selected_slo() else {
                    return ViewOutcome::Ignored;
                };
                self.store
                    .borrow_mut()
                    .requests
                    .push(UiRequest::OpenRunbook(slo));
            }
            KeyCode::Char('p') => return ViewOutcome::Request(Action::Promote),
            KeyCode::Char('P') => return ViewOutcome::Request(Action::PromoteFull),
            KeyCode::Char('a') => return ViewOutcome::Request(Action::Abort),
            _ => return ViewOutcome::Ignored,
        }
        ViewOutcome::Consumed
    }

    fn render(&mut self, frame: &mut Frame<'_>, area: Rect) {
        self.select(|_, _| {});
        let store = self.store.borrow();
        let slo_rows = store
            .slo
            .value()
            .map_or(1, |report| report.slos.len().max(1));
        // SLO rows + header + frame; the rest shares what is left, problems last.
        let slo_height = u16::try_from(slo_rows + 3)
            .unwrap_or(u16::MAX)
            .min(area.height / 2)
            .max(4);
        let [slos, rollout, middle, problems] = Layout::vertical([
            Constraint::Length(slo_height),
            Constraint::Length(5),
            Constraint::Length(5),
            Constraint::Min(3),
        ])
        .areas(area);
        slo_table::render(frame, slos, &store, Some(self.slo_cursor.selected));
        rollout_strip::render(frame, rollout, &store);
        let [queue, instances] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(middle);
        queue_panel::render(frame, queue, &store);
        instances_panel::render(frame, instances, &store, &mut self.counted);
        problems_panel::render(frame, problems, &store);
    }
}

#[cfg(test)]
mod tests;
