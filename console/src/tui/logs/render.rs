//! Draws the Logs view: a header with the modes, the workload toggles, the lines on screen
//! (only those: the cost of a frame does not grow with the buffer), and a status line.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::view::{LogsView, PromptKind, MAX_WORKLOAD_KEYS};
use crate::model::logs::{Level, LogLine};

/// The widest instance name given its own column; longer ones are cut.
const MAX_INSTANCE_WIDTH: usize = 16;

impl LogsView {
    pub(super) fn draw(&mut self, frame: &mut Frame<'_>, area: Rect) {
        let block = Block::bordered().title(" Logs ");
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let [header, toggles, body, status] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(0),
            Constraint::Length(1),
        ])
        .areas(inner);
        frame.render_widget(Paragraph::new(self.header_line()), header);
        frame.render_widget(Paragraph::new(self.toggles_line()), toggles);
        self.draw_body(frame, body);
        frame.render_widget(Paragraph::new(self.status_line()), status);
    }

    fn style(&self, color: Color) -> Style {
        if self.colors {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    fn header_line(&self) -> Line<'static> {
        let mut parts = vec![format!(
            "{}/{} lines",
            self.displayable(),
            self.buffer.len()
        )];
        parts.push(if self.follow { "following" } else { "scrolled" }.to_owned());
        if self.is_paused() {
            parts.push(format!("PAUSED, {} new held", self.held_back()));
        }
        if let Some(trace) = self.followed_trace() {
            parts.push(format!("trace {trace}"));
        } else {
            if let Some(level) = self.filter.min_level() {
                parts.push(format!("level ≥ {}", level.as_str()));
            }
            if let Some(pattern) = self.filter.pattern() {
                parts.push(format!("filter /{pattern}/"));
            }
        }
        if let Some(search) = &self.search {
            parts.push(format!("search /{}/", search.as_str()));
        }
        let style = if self.is_paused() {
            // Held-back lines are easy to forget: the header says so loudly.
            self.style(Color::Yellow).add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        Line::from(Span::styled(parts.join(" · "), style))
    }

    fn toggles_line(&self) -> Line<'static> {
        if self.workloads.is_empty() {
            return Line::from(Span::styled(
                "no workloads yet",
                self.style(Color::DarkGray),
            ));
        }
        let mut spans = Vec::new();
        for (index, workload) in self.workloads.iter().take(MAX_WORKLOAD_KEYS).enumerate() {
            let shown = !self.filter.is_hidden(workload);
            let mark = if shown { "on" } else { "off" };
            let style = if shown {
                self.style(Color::Cyan)
            } else {
                self.style(Color::DarkGray)
                    .add_modifier(Modifier::CROSSED_OUT)
            };
            spans.push(Span::raw(format!("{} ", index + 1)));
            spans.push(Span::styled(format!("{workload} {mark}"), style));
            spans.push(Span::raw("  "));
        }
        Line::from(spans)
    }

    fn draw_body(&mut self, frame: &mut Frame<'_>, area: Rect) {
        let height = usize::from(area.height);
        self.page = height.max(1);
        let len = self.displayable();
        if len == 0 {
            frame.render_widget(Paragraph::new(self.empty_text()), area);
            self.top = None;
            return;
        }
        let selected = self.selected_index().unwrap_or(len - 1);
        let top = self.scroll_top(selected, height, len);
        self.top = self.shown.get(top).copied();
        let rows: Vec<&LogLine> = self
            .shown
            .iter()
            .skip(top)
            .take(height.min(len - top))
            .filter_map(|&seq| self.buffer.get(seq))
            .collect();
        let width = rows
            .iter()
            .map(|line| line.instance.chars().count())
            .max()
            .unwrap_or(0)
            .min(MAX_INSTANCE_WIDTH);
        let selected_seq = self.shown.get(selected).copied();
        let lines: Vec<Line<'_>> = rows
            .iter()
            .map(|line| self.row(line, width, Some(line.seq) == selected_seq))
            .collect();
        frame.render_widget(Paragraph::new(lines), area);
    }

    /// The first row on screen: the last page while following; otherwise it moves only as
    /// far as needed to keep the selection in sight.
    fn scroll_top(&self, selected: usize, height: usize, len: usize) -> usize {
        let last_page = len.saturating_sub(height);
        if self.follow {
            return last_page;
        }
        let previous = self
            .top
            .and_then(|seq| self.index_at_or_after(seq))
            .unwrap_or(last_page);
        let top = if selected < previous {
            selected
        } else if selected >= previous + height {
            selected + 1 - height
        } else {
            previous
        };
        top.min(last_page)
    }

    fn row<'a>(&self, line: &'a LogLine, instance_width: usize, selected: bool) -> Line<'a> {
        let hit = self
            .search
            .as_ref()
            .is_some_and(|search| search.is_match(&line.text));
        let gutter = match (selected, hit) {
            (true, _) => "▶",
            (false, true) => "*",
            (false, false) => " ",
        };
        let time = line.timestamp.map_or_else(
            || " ".repeat(12),
            |time| time.format("%H:%M:%S%.3f").to_string(),
        );
        let (level, level_style) = match line.level {
            Some(level) => (level.as_str(), self.level_style(level)),
            None => ("", Style::new()),
        };
        let instance: String = line.instance.chars().take(instance_width).collect();
        let mut text_style = Style::new();
        if hit {
            text_style = text_style.add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
        }
        let mut row = Line::from(vec![
            Span::raw(gutter),
            Span::styled(time, self.style(Color::DarkGray)),
            Span::raw(" "),
            Span::styled(format!("{level:<5}"), level_style),
            Span::raw(" "),
            Span::styled(
                format!("{instance:<instance_width$}"),
                self.style(Color::Cyan),
            ),
            Span::raw(" "),
            Span::styled(&*line.text, text_style),
        ]);
        if selected {
            row = row.style(Style::new().add_modifier(Modifier::REVERSED));
        }
        row
    }

    fn level_style(&self, level: Level) -> Style {
        match level {
            Level::Error => self.style(Color::Red).add_modifier(Modifier::BOLD),
            Level::Warn => self.style(Color::Yellow),
            Level::Info => self.style(Color::Green),
            Level::Debug => self.style(Color::Blue),
            Level::Trace => self.style(Color::DarkGray),
        }
    }

    fn empty_text(&self) -> Line<'static> {
        let text = if self.buffer.is_empty() {
            "No log lines yet: they appear as the instances write them.".to_owned()
        } else if self.trace.is_some() {
            "No line of this trace is held any more (t to go back).".to_owned()
        } else {
            format!(
                "No line of the {} held passes the filter (x clears it).",
                self.buffer.len()
            )
        };
        Line::from(Span::styled(text, self.style(Color::DarkGray)))
    }

    fn status_line(&self) -> Line<'static> {
        if let Some(prompt) = &self.prompt {
            let label = match prompt.kind {
                PromptKind::Filter => "filter /",
                PromptKind::Search => "search /",
            };
            let mut spans = vec![
                Span::styled(label, self.style(Color::Cyan)),
                Span::raw(prompt.text.clone()),
                Span::styled("█", Style::new().add_modifier(Modifier::SLOW_BLINK)),
            ];
            if let Some(error) = &prompt.error {
                spans.push(Span::raw("  "));
                spans.push(Span::styled(error.clone(), self.style(Color::Red)));
            }
            return Line::from(spans);
        }
        if let Some(notice) = &self.notice {
            let color = if notice.error {
                Color::Red
            } else {
                Color::Green
            };
            return Line::from(Span::styled(notice.text.clone(), self.style(color)));
        }
        if let Some(first) = self.source_errors.first() {
            let more = match self.source_errors.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            return Line::from(Span::styled(
                format!("! {first}{more}"),
                self.style(Color::Red).add_modifier(Modifier::BOLD),
            ));
        }
        let hints = "/ filter  l level  1-9 workloads  s search  n/N  p pause  f follow";
        match self.selected_line().and_then(LogLine::trace_hex) {
            // The selected line can be followed across instances: say so, with its id.
            Some(trace) => Line::from(vec![
                Span::styled(
                    format!("t: trace {}…  ", &trace[..12]),
                    self.style(Color::Cyan),
                ),
                Span::styled(hints, self.style(Color::DarkGray)),
            ]),
            None => Line::from(Span::styled(hints, self.style(Color::DarkGray))),
        }
    }
}
