//! Keys: the overlay's first, then the active view's, then the global ones; palette commands.

use super::*;

impl App {
    pub(super) fn run_command(&mut self, command: Command) {
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
    pub(super) fn take_ui_requests(&mut self) {
        let requests = std::mem::take(&mut self.store.borrow_mut().requests);
        for request in requests {
            match request {
                UiRequest::Show(view) => self.show(view),
                UiRequest::OpenRunbook(slo) => self.open_runbook(Some(slo)),
                UiRequest::ChooseRollout(name) => self.choose_rollout(name),
            }
        }
    }

    /// True when the active view is typing text (a filter, a search) and must get every key.
    pub(super) fn view_captures_input(&self) -> bool {
        match self.active {
            ViewId::Logs => self.logs.captures_input(),
            ViewId::Instances => self.instances.captures_input(),
            _ => false,
        }
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

    pub(super) fn view_outcome(&mut self, outcome: ViewOutcome) {
        if let ViewOutcome::Request(action) = outcome {
            self.request(action);
        }
        self.take_ui_requests();
    }

    pub(super) fn overlay_key(&mut self, key: KeyEvent) {
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
}
