//! The Rollout view: every step with its state, the weight, why it pauses, the analysis
//! runs with their measured values, the revisions, and the events (abort messages among them).

mod panels;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::nav::UiRequest;
use super::overview::rollout_strip::{headline, reason};
use super::store::SharedStore;
use super::view::{Action, Binding, View, ViewOutcome};
use super::widgets::panel;

const BINDINGS: &[Binding] = &[
    Binding {
        keys: "p",
        action: "promote: leave the current step",
    },
    Binding {
        keys: "P",
        action: "promote fully: skip every remaining step",
    },
    Binding {
        keys: "a",
        action: "abort: all traffic back to stable",
    },
    Binding {
        keys: "r",
        action: "retry an aborted rollout from its first step",
    },
    Binding {
        keys: "u",
        action: "undo: the previous stable revision becomes stable",
    },
    Binding {
        keys: "[ ]",
        action: "previous / next Rollout, when there are several",
    },
];

pub struct RolloutView {
    store: SharedStore,
}

impl RolloutView {
    pub fn new(store: SharedStore) -> Self {
        Self { store }
    }
}

impl RolloutView {
    /// Asks for the next (or previous) of the namespace's Rollouts, in name order.
    fn switch(&mut self, forward: bool) -> ViewOutcome {
        let mut store = self.store.borrow_mut();
        let Some(rollout) = store.rollout() else {
            return ViewOutcome::Ignored;
        };
        let choices = &rollout.choices;
        if choices.len() < 2 {
            return ViewOutcome::Ignored;
        }
        let current = store
            .chosen_rollout
            .as_ref()
            .or(rollout.name.as_ref())
            .and_then(|name| choices.iter().position(|choice| choice == name))
            .unwrap_or(0);
        let next = if forward {
            (current + 1) % choices.len()
        } else {
            (current + choices.len() - 1) % choices.len()
        };
        let name = choices[next].clone();
        store.requests.push(UiRequest::ChooseRollout(name));
        ViewOutcome::Consumed
    }
}

impl View for RolloutView {
    fn title(&self) -> &'static str {
        "Rollout"
    }

    fn bindings(&self) -> &'static [Binding] {
        BINDINGS
    }

    fn handle_key(&mut self, key: KeyEvent) -> ViewOutcome {
        let action = match key.code {
            KeyCode::Char('p') => Action::Promote,
            KeyCode::Char('P') => Action::PromoteFull,
            KeyCode::Char('a') => Action::Abort,
            KeyCode::Char('r') => Action::Retry,
            KeyCode::Char('u') => Action::Undo,
            KeyCode::Char(step @ ('[' | ']')) => return self.switch(step == ']'),
            _ => return ViewOutcome::Ignored,
        };
        ViewOutcome::Request(action)
    }

    fn render(&mut self, frame: &mut Frame<'_>, area: Rect) {
        let store = self.store.borrow();
        let theme = store.theme;
        let title = match store.rollout().and_then(|rollout| rollout.name.as_deref()) {
            Some(name) => format!("Rollout {name}"),
            None => "Rollout api".to_owned(),
        };
        let block = panel::block(&title, &store.status, store.now, theme);
        let Some(rollout) = store.rollout() else {
            let inner = block.inner(area);
            frame.render_widget(block, area);
            if store.status.value().is_some() {
                frame.render_widget(
                    Line::from(Span::styled(
                        "the environment reports no rollout state yet (it loads it at start-up)",
                        theme.dim(),
                    )),
                    inner,
                );
            } else {
                panel::render_missing(
                    frame,
                    inner,
                    &store.status,
                    "waiting for the environment…",
                    theme,
                );
            }
            return;
        };
        let steps_height = u16::try_from(rollout.steps.len() + 2)
            .unwrap_or(u16::MAX)
            .max(5);
        let [head, middle, bottom] = Layout::vertical([
            Constraint::Length(5),
            Constraint::Length(steps_height.min(area.height.saturating_sub(10))),
            Constraint::Min(5),
        ])
        .areas(area);
        let inner = block.inner(head);
        frame.render_widget(block, head);
        let mut head_lines = vec![headline(rollout, theme), reason(rollout, &store)];
        if rollout.choices.len() > 1 {
            head_lines.push(choices(rollout, theme));
        }
        frame.render_widget(
            Paragraph::new(head_lines).wrap(ratatui::widgets::Wrap { trim: false }),
            inner,
        );
        let [steps, analysis] =
            Layout::horizontal([Constraint::Length(32), Constraint::Min(40)]).areas(middle);
        panels::steps(frame, steps, rollout, theme);
        panels::analysis(frame, analysis, rollout, &store);
        let [revisions, events] =
            Layout::horizontal([Constraint::Length(38), Constraint::Min(30)]).areas(bottom);
        panels::revisions(frame, revisions, rollout, &store);
        panels::events(frame, events, rollout, &store);
    }
}

/// The namespace's Rollouts, the one shown marked: `[` and `]` switch.
fn choices(rollout: &crate::model::RolloutStatus, theme: super::theme::Theme) -> Line<'static> {
    let mut spans = vec![Span::styled("Rollouts: ", theme.dim())];
    for (at, name) in rollout.choices.iter().enumerate() {
        if at > 0 {
            spans.push(Span::styled(" · ", theme.dim()));
        }
        if rollout.name.as_ref() == Some(name) {
            spans.push(Span::styled(format!("[{name}]"), theme.accent()));
        } else {
            spans.push(Span::raw(name.clone()));
        }
    }
    spans.push(Span::styled("   [ ] switch", theme.dim()));
    Line::from(spans)
}

#[cfg(test)]
mod tests;
