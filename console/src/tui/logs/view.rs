//! The Logs view's state and keys: which lines are shown, which one is selected, and the
//! filter, search, trace, pause and follow modes. Drawing is in `render.rs`.

use std::collections::VecDeque;
use std::num::NonZeroU128;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use regex::Regex;

use super::buffer::LogBuffer;
use super::filter::{compile, LineFilter};
use crate::model::logs::LogBatch;
use crate::model::logs::{Level, LogLine};
use crate::tui::view::{Binding, ViewOutcome};

/// Workloads that get a number key to show or hide them.
pub const MAX_WORKLOAD_KEYS: usize = 9;

pub(super) const BINDINGS: &[Binding] = &[
    Binding {
        keys: "j/k ↓/↑",
        action: "select the next / previous line",
    },
    Binding {
        keys: "PgDn/PgUp ^d/^u",
        action: "a page down / up",
    },
    Binding {
        keys: "g/G",
        action: "first line / last line and follow",
    },
    Binding {
        keys: "f",
        action: "follow new lines on or off",
    },
    Binding {
        keys: "p space",
        action: "pause: hold new lines back, or show them again",
    },
    Binding {
        keys: "/",
        action: "filter by regex (empty clears; smart case)",
    },
    Binding {
        keys: "l",
        action: "lowest level shown: all, debug, info, warn, error",
    },
    Binding {
        keys: "1-9",
        action: "show or hide a workload's lines",
    },
    Binding {
        keys: "s",
        action: "search by regex",
    },
    Binding {
        keys: "n/N",
        action: "next / previous search hit",
    },
    Binding {
        keys: "t",
        action: "every line of the selected line's trace, or back",
    },
    Binding {
        keys: "x",
        action: "clear filter, level, workloads, search and trace",
    },
];

/// What the one-line prompt is asking for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    Filter,
    Search,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Prompt {
    pub kind: PromptKind,
    pub text: String,
    /// Why the last Enter was refused.
    pub error: Option<String>,
}

/// A short answer to the last key, shown on the status line until the next key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Notice {
    pub text: String,
    pub error: bool,
}

/// The Logs view. It owns the ring buffer; the app feeds it batches from the tailer.
#[derive(Debug)]
pub struct LogsView {
    pub(super) buffer: LogBuffer,
    pub(super) colors: bool,
    pub(super) filter: LineFilter,
    /// Numbers of the lines shown (passing the filter, or of the followed trace), oldest first.
    pub(super) shown: VecDeque<u64>,
    pub(super) trace: Option<NonZeroU128>,
    pub(super) search: Option<Regex>,
    /// The selected line; ignored while following.
    pub(super) selected: Option<u64>,
    pub(super) follow: bool,
    /// While paused, lines numbered from here on are held back.
    pub(super) paused_at: Option<u64>,
    /// The first line on screen at the last draw.
    pub(super) top: Option<u64>,
    /// Lines on screen at the last draw: the size of a page.
    pub(super) page: usize,
    pub(super) prompt: Option<Prompt>,
    pub(super) notice: Option<Notice>,
    /// Workloads in the order their first line arrived.
    pub(super) workloads: Vec<Arc<str>>,
    pub(super) source_errors: Vec<String>,
}

impl LogsView {
    /// An empty view over a buffer of the default cap; `colors` is false under `NO_COLOR`.
    pub fn new(colors: bool) -> Self {
        Self::with_buffer(LogBuffer::default(), colors)
    }

    pub fn with_buffer(buffer: LogBuffer, colors: bool) -> Self {
        let mut view = Self {
            buffer,
            colors,
            filter: LineFilter::default(),
            shown: VecDeque::new(),
            trace: None,
            search: None,
            selected: None,
            follow: true,
            paused_at: None,
            top: None,
            page: 10,
            prompt: None,
            notice: None,
            workloads: Vec::new(),
            source_errors: Vec::new(),
        };
        let lines: Vec<Arc<str>> = view.buffer.iter().map(|l| l.workload.clone()).collect();
        for workload in lines {
            view.note_workload(&workload);
        }
        view.recompute();
        view
    }

    pub fn buffer(&self) -> &LogBuffer {
        &self.buffer
    }

    /// The newest `n` warnings and errors, oldest first, for the Overview.
    pub fn latest_problems(&self, n: usize) -> Vec<&LogLine> {
        self.buffer.latest_problems(n)
    }

    /// True while a prompt is open: the app should then send every key here (`q`, `:`, `?`
    /// and Esc included), since they are text being typed.
    pub fn captures_input(&self) -> bool {
        self.prompt.is_some()
    }

    /// Takes what the tailer read: its lines, and the current read errors of its files.
    pub fn ingest(&mut self, batch: LogBatch) {
        self.push_lines(batch.lines);
        self.source_errors = batch.errors;
    }

    pub fn push_lines(&mut self, lines: impl IntoIterator<Item = LogLine>) {
        for line in lines {
            self.note_workload(&line.workload);
            let seq = self.buffer.push(line);
            if self.buffer.get(seq).is_some_and(|line| self.passes(line)) {
                self.shown.push_back(seq);
            }
        }
        let first = self.buffer.first_seq();
        while self.shown.front().is_some_and(|&seq| seq < first) {
            self.shown.pop_front();
        }
    }

    pub fn set_source_errors(&mut self, errors: Vec<String>) {
        self.source_errors = errors;
    }

    /// The workloads seen, in order, and whether each is shown.
    pub fn workloads(&self) -> impl Iterator<Item = (&str, bool)> {
        self.workloads
            .iter()
            .map(|w| (&**w, !self.filter.is_hidden(w)))
    }

    pub fn filter(&self) -> &LineFilter {
        &self.filter
    }

    pub fn is_following(&self) -> bool {
        self.follow
    }

    pub fn is_paused(&self) -> bool {
        self.paused_at.is_some()
    }

    /// The trace whose lines are shown, as 32 hex digits.
    pub fn followed_trace(&self) -> Option<String> {
        self.trace.map(|id| format!("{:032x}", id.get()))
    }

    /// The selected line, if any line is shown.
    pub fn selected_line(&self) -> Option<&LogLine> {
        let index = self.selected_index()?;
        self.buffer.get(*self.shown.get(index)?)
    }

    /// Texts of the lines shown now (held-back lines excluded), oldest first.
    pub fn shown_texts(&self) -> Vec<&str> {
        self.shown
            .iter()
            .take(self.displayable())
            .filter_map(|&seq| self.buffer.get(seq))
            .map(|line| &*line.text)
            .collect()
    }

    /// Lines held back by the pause.
    pub fn held_back(&self) -> usize {
        self.shown.len() - self.displayable()
    }

    pub fn handle(&mut self, key: KeyEvent) -> ViewOutcome {
        if key.kind == KeyEventKind::Release {
            return ViewOutcome::Ignored;
        }
        if self.prompt.is_some() {
            return self.handle_prompt(key);
        }
        self.notice = None;
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => self.move_by(1),
            KeyCode::Char('k') | KeyCode::Up => self.move_by(-1),
            KeyCode::Char('d') if ctrl => self.move_by(self.page_step()),
            KeyCode::Char('u') if ctrl => self.move_by(-self.page_step()),
            KeyCode::PageDown => self.move_by(self.page_step()),
            KeyCode::PageUp => self.move_by(-self.page_step()),
            KeyCode::Char('g') | KeyCode::Home => self.select_index(0),
            KeyCode::Char('G') | KeyCode::End => self.follow_newest(),
            KeyCode::Char('f') => self.toggle_follow(),
            KeyCode::Char('p') | KeyCode::Char(' ') => self.toggle_pause(),
            KeyCode::Char('/') => self.open_prompt(PromptKind::Filter),
            KeyCode::Char('s') => self.open_prompt(PromptKind::Search),
            KeyCode::Char('n') => self.search_step(true),
            KeyCode::Char('N') => self.search_step(false),
            KeyCode::Char('l') => self.cycle_level(),
            KeyCode::Char('t') => self.toggle_trace(),
            KeyCode::Char('x') => self.clear_all(),
            KeyCode::Char(digit @ '1'..='9') => return self.toggle_workload_key(digit),
            _ => return ViewOutcome::Ignored,
        }
        ViewOutcome::Consumed
    }

    fn handle_prompt(&mut self, key: KeyEvent) -> ViewOutcome {
        let Some(prompt) = self.prompt.as_mut() else {
            return ViewOutcome::Ignored;
        };
        match key.code {
            KeyCode::Esc => self.prompt = None,
            KeyCode::Enter => self.submit_prompt(),
            KeyCode::Backspace => {
                prompt.text.pop();
                prompt.error = None;
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                prompt.text.clear();
                prompt.error = None;
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                prompt.text.push(c);
                prompt.error = None;
            }
            _ => {}
        }
        ViewOutcome::Consumed
    }

    fn open_prompt(&mut self, kind: PromptKind) {
        let text = match kind {
            PromptKind::Filter => self.filter.pattern().unwrap_or_default().to_owned(),
            PromptKind::Search => self
                .search
                .as_ref()
                .map(|re| re.as_str().to_owned())
                .unwrap_or_default(),
        };
        self.prompt = Some(Prompt {
            kind,
            text,
            error: None,
        });
    }

    fn submit_prompt(&mut self) {
        let Some(prompt) = self.prompt.take() else {
            return;
        };
        let applied = match prompt.kind {
            PromptKind::Filter => self.filter.set_pattern(&prompt.text).map(|()| {
                self.recompute();
            }),
            PromptKind::Search => compile(&prompt.text).map(|search| {
                let searching = search.is_some();
                self.search = search;
                if searching {
                    self.search_step(true);
                }
            }),
        };
        if let Err(error) = applied {
            // Stay open, so the pattern can be fixed instead of typed again.
            self.prompt = Some(Prompt {
                error: Some(error),
                ..prompt
            });
        }
    }

    fn passes(&self, line: &LogLine) -> bool {
        match self.trace {
            Some(trace) => line.trace_id == Some(trace),
            None => self.filter.matches(line),
        }
    }

    /// Rebuilds the shown lines after the filter or the trace changed, keeping the selection
    /// on the same line or the nearest one after it.
    fn recompute(&mut self) {
        let keep = (!self.follow).then(|| self.selected_seq()).flatten();
        self.shown = match self.trace {
            Some(trace) => self
                .buffer
                .iter()
                .filter(|line| line.trace_id == Some(trace))
                .map(|line| line.seq)
                .collect(),
            None => self.filter.select(&self.buffer).into(),
        };
        self.selected = keep;
        self.top = None;
        self.reselect();
    }

    /// How many of the shown lines are displayed: all but those held back by the pause.
    pub(super) fn displayable(&self) -> usize {
        match self.paused_at {
            Some(paused_at) => self.shown.partition_point(|&seq| seq < paused_at),
            None => self.shown.len(),
        }
    }

    /// Index in `shown` of the line at or after `seq`, clamped to the displayable lines.
    pub(super) fn index_at_or_after(&self, seq: u64) -> Option<usize> {
        let len = self.displayable();
        (len > 0).then(|| self.shown.partition_point(|&s| s < seq).min(len - 1))
    }

    pub(super) fn selected_index(&self) -> Option<usize> {
        let len = self.displayable();
        if len == 0 {
            return None;
        }
        match (self.follow, self.selected) {
            (false, Some(seq)) => self.index_at_or_after(seq),
            _ => Some(len - 1),
        }
    }

    fn selected_seq(&self) -> Option<u64> {
        self.selected_index()
            .and_then(|index| self.shown.get(index).copied())
    }

    /// Pins the selection to an existing line after the shown set changed.
    fn reselect(&mut self) {
        self.selected = self.selected_seq();
    }

    fn page_step(&self) -> isize {
        isize::try_from(self.page.max(1)).unwrap_or(isize::MAX)
    }

    fn move_by(&mut self, delta: isize) {
        let Some(current) = self.selected_index() else {
            return;
        };
        let last = self.displayable() - 1;
        let target = current.saturating_add_signed(delta).min(last);
        if delta < 0 {
            self.follow = false;
        }
        self.select_index(target);
    }

    fn select_index(&mut self, index: usize) {
        if let Some(&seq) = self
            .shown
            .get(index.min(self.displayable().saturating_sub(1)))
        {
            if index < self.displayable().saturating_sub(1) {
                self.follow = false;
            }
            self.selected = Some(seq);
        }
    }

    fn follow_newest(&mut self) {
        self.follow = true;
        self.reselect();
    }

    fn toggle_follow(&mut self) {
        if self.follow {
            self.selected = self.selected_seq();
            self.follow = false;
        } else {
            self.follow_newest();
        }
        self.say(if self.follow {
            "following new lines"
        } else {
            "not following"
        });
    }

    fn toggle_pause(&mut self) {
        if self.paused_at.take().is_some() {
            self.say("resumed");
        } else {
            self.paused_at = Some(self.buffer.next_seq());
            self.say("paused: new lines are held back (p to show them)");
        }
    }

    fn cycle_level(&mut self) {
        let next = match self.filter.min_level() {
            None => Some(Level::Debug),
            Some(Level::Trace) => Some(Level::Debug),
            Some(Level::Debug) => Some(Level::Info),
            Some(Level::Info) => Some(Level::Warn),
            Some(Level::Warn) => Some(Level::Error),
            Some(Level::Error) => None,
        };
        self.filter.set_min_level(next);
        self.recompute();
    }

    fn toggle_workload_key(&mut self, digit: char) -> ViewOutcome {
        let index = digit.to_digit(10).and_then(|d| usize::try_from(d).ok());
        let Some(workload) = index.and_then(|i| self.workloads.get(i - 1)).cloned() else {
            return ViewOutcome::Ignored;
        };
        self.filter.toggle_workload(&workload);
        self.recompute();
        ViewOutcome::Consumed
    }

    fn toggle_trace(&mut self) {
        if self.trace.take().is_some() {
            self.recompute();
            self.say("all lines again");
            return;
        }
        let Some(line) = self.selected_line() else {
            self.warn("no line selected");
            return;
        };
        let (Some(trace), seq) = (line.trace_id, line.seq) else {
            self.warn("the selected line has no trace id");
            return;
        };
        self.trace = Some(trace);
        self.follow = false;
        self.selected = Some(seq);
        self.recompute();
    }

    fn search_step(&mut self, forward: bool) {
        let Some(search) = self.search.as_ref() else {
            self.warn("no search yet: s to search");
            return;
        };
        let len = self.displayable();
        let Some(start) = self.selected_index() else {
            self.warn("no line to search");
            return;
        };
        let hit = |index: usize| {
            self.shown
                .get(index)
                .and_then(|&seq| self.buffer.get(seq))
                .is_some_and(|line| search.is_match(&line.text))
        };
        // Starting after (or before) the selection, then wrapping round to it.
        let order: Box<dyn Iterator<Item = usize>> = if forward {
            Box::new((start + 1..len).chain(0..=start))
        } else {
            Box::new((0..start).rev().chain((start..len).rev()))
        };
        let mut wrapped = false;
        let mut found = None;
        for index in order {
            if (forward && index <= start) || (!forward && index >= start) {
                wrapped = true;
            }
            if hit(index) {
                found = Some(index);
                break;
            }
        }
        match found {
            Some(index) => {
                self.follow = false;
                self.selected = self.shown.get(index).copied();
                if wrapped {
                    self.say(if forward {
                        "search wrapped to the top"
                    } else {
                        "search wrapped to the bottom"
                    });
                }
            }
            None => {
                let pattern = search.as_str().to_owned();
                self.warn(&format!("no shown line matches {pattern:?}"));
            }
        }
    }

    fn clear_all(&mut self) {
        self.filter.clear();
        self.search = None;
        self.trace = None;
        self.recompute();
        self.say("filter, level, workloads, search and trace cleared");
    }

    fn note_workload(&mut self, workload: &Arc<str>) {
        if !self.workloads.iter().any(|w| w == workload) {
            self.workloads.push(workload.clone());
        }
    }

    fn say(&mut self, text: &str) {
        self.notice = Some(Notice {
            text: text.to_owned(),
            error: false,
        });
    }

    fn warn(&mut self, text: &str) {
        self.notice = Some(Notice {
            text: text.to_owned(),
            error: true,
        });
    }
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
