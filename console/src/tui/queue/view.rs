//! The Queue view's state and keys: the history of depths, the dead letters shown and the
//! selected one. Requeueing is asked of the app, which confirms, runs and audits it.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use super::history::QueueHistory;
use crate::model::{DeadLetter, DeadLetters, QueueOverview};
use crate::tui::view::{Action, Binding, ViewOutcome};

pub(super) const BINDINGS: &[Binding] = &[
    Binding {
        keys: "j/k ↓/↑",
        action: "select the next / previous dead letter",
    },
    Binding {
        keys: "g/G",
        action: "first / last dead letter",
    },
    Binding {
        keys: "r",
        action: "requeue the selected dead letter (fresh run, asks first)",
    },
    Binding {
        keys: "A",
        action: "requeue every dead letter (asks first)",
    },
];

/// The latest answer of one source, and when it came.
#[derive(Debug, Clone)]
pub(super) struct Fetched<T> {
    pub at: DateTime<Utc>,
    pub value: T,
}

/// The Queue view. The app feeds it what its collector read.
#[derive(Debug)]
pub struct QueueView {
    pub(super) colors: bool,
    pub(super) history: QueueHistory,
    /// When the overview last came in, successfully.
    pub(super) overview_at: Option<DateTime<Utc>>,
    /// The overview source's error, until it answers again.
    pub(super) overview_error: Option<Fetched<String>>,
    pub(super) dead: Option<Fetched<DeadLetters>>,
    pub(super) dead_error: Option<Fetched<String>>,
    pub(super) selected: usize,
    pub(super) notice: Option<String>,
}

impl QueueView {
    /// `colors` is false under `NO_COLOR`.
    pub fn new(colors: bool) -> Self {
        Self {
            colors,
            history: QueueHistory::default(),
            overview_at: None,
            overview_error: None,
            dead: None,
            dead_error: None,
            selected: 0,
            notice: None,
        }
    }

    /// Takes one read of `GET /queue`; an error keeps the history and is shown with it.
    pub fn update_overview(&mut self, at: DateTime<Utc>, read: Result<QueueOverview, String>) {
        match read {
            Ok(overview) => {
                self.history.push(at, &overview);
                self.overview_at = Some(at);
                self.overview_error = None;
            }
            Err(error) => self.overview_error = Some(Fetched { at, value: error }),
        }
    }

    /// Takes one read of `GET /queue/dead`; the selection stays on the same task if it is
    /// still listed.
    pub fn update_dead_letters(&mut self, at: DateTime<Utc>, read: Result<DeadLetters, String>) {
        match read {
            Ok(letters) => {
                let keep = self.selected_letter().map(|l| l.task_id.clone());
                let index = keep
                    .and_then(|id| letters.letters.iter().position(|l| l.task_id == id))
                    .unwrap_or(self.selected);
                self.selected = index.min(letters.letters.len().saturating_sub(1));
                self.dead = Some(Fetched { at, value: letters });
                self.dead_error = None;
            }
            Err(error) => self.dead_error = Some(Fetched { at, value: error }),
        }
    }

    pub fn history(&self) -> &QueueHistory {
        &self.history
    }

    pub fn dead_letters(&self) -> &[DeadLetter] {
        self.dead.as_ref().map_or(&[], |d| &d.value.letters)
    }

    /// How many dead letters there are in all (more than listed when the list is cut).
    pub fn dead_total(&self) -> u64 {
        self.dead.as_ref().map_or(0, |d| d.value.total)
    }

    pub fn selected_letter(&self) -> Option<&DeadLetter> {
        self.dead_letters().get(self.selected)
    }

    pub fn handle(&mut self, key: KeyEvent) -> ViewOutcome {
        if key.kind == KeyEventKind::Release {
            return ViewOutcome::Ignored;
        }
        self.notice = None;
        let count = self.dead_letters().len();
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => {
                self.selected = (self.selected + 1).min(count.saturating_sub(1));
            }
            KeyCode::Char('k') | KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::Char('g') | KeyCode::Home => self.selected = 0,
            KeyCode::Char('G') | KeyCode::End => self.selected = count.saturating_sub(1),
            KeyCode::Char('r') => {
                return match self.selected_letter() {
                    Some(letter) => {
                        ViewOutcome::Request(Action::RequeueDead(letter.task_id.clone()))
                    }
                    None => {
                        self.notice = Some("no dead letter selected".to_owned());
                        ViewOutcome::Consumed
                    }
                };
            }
            KeyCode::Char('A') => {
                if self.dead_total() > 0 || count > 0 {
                    return ViewOutcome::Request(Action::RequeueAllDead);
                }
                self.notice = Some("the dead letter is empty".to_owned());
            }
            _ => return ViewOutcome::Ignored,
        }
        ViewOutcome::Consumed
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::KeyModifiers;

    use super::*;
    use crate::model::QueueStatus;

    fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    fn letter(id: &str) -> DeadLetter {
        DeadLetter {
            task_id: id.to_owned(),
            kind: "fail".to_owned(),
            attempts: 3,
            error: Some("fail: this task always fails".to_owned()),
            dead_at: None,
        }
    }

    fn letters(ids: &[&str]) -> DeadLetters {
        DeadLetters {
            total: ids.len() as u64,
            letters: ids.iter().map(|id| letter(id)).collect(),
        }
    }

    #[test]
    fn keys_select_letters_and_ask_for_requeues() {
        let mut view = QueueView::new(false);
        view.update_dead_letters(Utc::now(), Ok(letters(&["a", "b", "c"])));
        assert_eq!(view.selected_letter().map(|l| &*l.task_id), Some("a"));
        assert_eq!(view.handle(key('j')), ViewOutcome::Consumed);
        assert_eq!(
            view.handle(key('r')),
            ViewOutcome::Request(Action::RequeueDead("b".to_owned()))
        );
        view.handle(key('G'));
        view.handle(key('j'));
        assert_eq!(
            view.selected_letter().map(|l| &*l.task_id),
            Some("c"),
            "stops at the end"
        );
        view.handle(key('k'));
        view.handle(key('g'));
        view.handle(key('k'));
        assert_eq!(
            view.selected_letter().map(|l| &*l.task_id),
            Some("a"),
            "stops at the top"
        );
        assert_eq!(
            view.handle(key('A')),
            ViewOutcome::Request(Action::RequeueAllDead)
        );
        assert_eq!(view.handle(key('z')), ViewOutcome::Ignored);
    }

    #[test]
    fn with_no_dead_letters_requeue_keys_explain_instead_of_asking() {
        let mut view = QueueView::new(false);
        assert_eq!(view.handle(key('r')), ViewOutcome::Consumed);
        assert_eq!(view.notice.as_deref(), Some("no dead letter selected"));
        assert_eq!(view.handle(key('A')), ViewOutcome::Consumed);
        assert_eq!(view.notice.as_deref(), Some("the dead letter is empty"));
        view.handle(key('j'));
        assert_eq!(view.notice, None, "a notice lasts until the next key");
    }

    #[test]
    fn the_selection_follows_its_task_across_refreshes() {
        let mut view = QueueView::new(false);
        view.update_dead_letters(Utc::now(), Ok(letters(&["a", "b", "c"])));
        view.handle(key('j'));
        view.update_dead_letters(Utc::now(), Ok(letters(&["new", "a", "b", "c"])));
        assert_eq!(view.selected_letter().map(|l| &*l.task_id), Some("b"));
        // "b" was requeued: the selection stays at its place, on the next letter.
        view.update_dead_letters(Utc::now(), Ok(letters(&["new", "a", "c"])));
        assert_eq!(view.selected_letter().map(|l| &*l.task_id), Some("c"));
        view.update_dead_letters(Utc::now(), Ok(letters(&["new"])));
        assert_eq!(view.selected_letter().map(|l| &*l.task_id), Some("new"));
        view.update_dead_letters(Utc::now(), Err("Redis is down".to_owned()));
        assert_eq!(
            view.selected_letter().map(|l| &*l.task_id),
            Some("new"),
            "an error keeps the last list"
        );
        assert!(view.dead_error.is_some());
        view.update_dead_letters(Utc::now(), Ok(letters(&[])));
        assert_eq!(view.selected_letter(), None);
        assert!(view.dead_error.is_none());
    }

    #[test]
    fn an_overview_error_keeps_the_history() {
        let mut view = QueueView::new(false);
        let overview = QueueOverview {
            depth: QueueStatus {
                ready: 4,
                delayed: 0,
                processing: 1,
                dead: 0,
            },
            oldest_ready_age_secs: None,
            processed: None,
        };
        view.update_overview(Utc::now(), Ok(overview));
        view.update_overview(Utc::now(), Err("the daemon does not answer".to_owned()));
        assert_eq!(view.history().len(), 1);
        assert!(view.overview_error.is_some());
    }
}
