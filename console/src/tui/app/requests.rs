//! Actions asked for by a view or the palette: refused with the reason, or confirmed and
//! handed over as an effect; starting the environment; opening a runbook.

use super::*;

impl App {
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
        if let Some(waiting) = waiting_for_rollout(&store, &action) {
            drop(store);
            self.note(
                NoticeKind::Failure,
                format!("`{summary}`: switching to the Rollout {waiting}; wait for its reading"),
            );
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

    /// Readings show, and the verbs act on, this Rollout of the several in the namespace.
    pub(super) fn choose_rollout(&mut self, name: String) {
        self.store.borrow_mut().chosen_rollout = Some(name.clone());
        self.note(NoticeKind::Info, format!("Rollout {name}: switching…"));
        self.effects.push(Effect::ChooseRollout(name));
    }

    pub(super) fn confirm(&mut self, action: Action) {
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

    pub(super) fn start_stack(&mut self) {
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

    pub(super) fn open_runbook(&mut self, slo: Option<String>) {
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
}

/// A rollout verb asked for while the readings still show another Rollout than the
/// one the operator switched to: it would act on what the screen does not show.
fn waiting_for_rollout(store: &crate::tui::store::Store, action: &Action) -> Option<String> {
    let rollout_verb = matches!(
        action,
        Action::Promote | Action::PromoteFull | Action::Abort | Action::Retry | Action::Undo
    );
    let chosen = store.chosen_rollout.as_ref()?;
    let shown = store.rollout().and_then(|rollout| rollout.name.as_ref());
    (rollout_verb && shown != Some(chosen)).then(|| chosen.clone())
}
