//! Draws the Queue view: depth now and over time, throughput by outcome, the oldest ready
//! job's age, and the dead-letter browser with the selected letter's whole error.

use chrono::{DateTime, Utc};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Sparkline, Table, TableState, Wrap};
use ratatui::Frame;

use super::history::QueueSample;
use super::view::QueueView;
use crate::model::DeadLetter;

/// The order outcomes are shown in; others the workers may add come after.
const OUTCOMES: [&str; 4] = ["done", "retry", "failed", "dead"];

/// Below this width task ids are shortened to their first 8 characters.
const FULL_ID_WIDTH: u16 = 110;

const LABEL_WIDTH: u16 = 12;

impl QueueView {
    pub(super) fn draw(&mut self, frame: &mut Frame<'_>, area: Rect) {
        let now = Utc::now();
        let block = Block::bordered().title(Line::from(vec![
            Span::raw(" Queue "),
            Span::styled(self.freshness(now), self.style(Color::DarkGray)),
        ]));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let [summary, throughput, charts, letters, status] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(4),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(inner);
        frame.render_widget(Paragraph::new(self.summary_line()), summary);
        frame.render_widget(Paragraph::new(self.throughput_line()), throughput);
        self.draw_charts(frame, charts);
        self.draw_letters(frame, letters, now);
        frame.render_widget(Paragraph::new(self.status_line(now)), status);
    }

    fn style(&self, color: Color) -> Style {
        if self.colors {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    /// How old the shown numbers are, so a stalled source is visible.
    fn freshness(&self, now: DateTime<Utc>) -> String {
        match self.overview_at {
            Some(at) => format!("· updated {} ago ", age(now, at)),
            None => "· waiting for the first read ".to_owned(),
        }
    }

    fn summary_line(&self) -> Line<'static> {
        let Some(sample) = self.history.latest() else {
            return Line::from(Span::styled(
                "no reading of the queue yet",
                self.style(Color::DarkGray),
            ));
        };
        let depth = sample.depth;
        let dead_style = if depth.dead > 0 {
            self.style(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        let oldest = sample
            .oldest_ready_age_secs
            .map_or_else(|| "none ready".to_owned(), seconds);
        Line::from(vec![
            Span::raw(format!(
                "ready {}  delayed {}  processing {}  ",
                depth.ready, depth.delayed, depth.processing
            )),
            Span::styled(format!("dead {}", depth.dead), dead_style),
            Span::raw(format!("  oldest ready {oldest}")),
        ])
    }

    fn throughput_line(&self) -> Line<'static> {
        let Some(sample) = self.history.latest() else {
            return Line::default();
        };
        let Some(rates) = &sample.rates else {
            let why = if sample.processed.is_none() {
                "throughput: no worker's metrics could be read"
            } else {
                "throughput: measuring (needs two readings)"
            };
            return Line::from(Span::styled(why, self.style(Color::DarkGray)));
        };
        let mut spans = vec![Span::raw("jobs/s ")];
        let mut names: Vec<&str> = OUTCOMES.to_vec();
        names.extend(
            rates
                .keys()
                .map(String::as_str)
                .filter(|k| !OUTCOMES.contains(k)),
        );
        for outcome in names {
            let text = rates
                .get(outcome)
                .map_or_else(|| "–".to_owned(), |rate| format!("{rate:.1}"));
            let color = match outcome {
                "done" => Color::Green,
                "retry" => Color::Yellow,
                _ => Color::Red,
            };
            spans.push(Span::styled(format!(" {outcome} "), self.style(color)));
            spans.push(Span::raw(text));
        }
        Line::from(spans)
    }

    fn draw_charts(&self, frame: &mut Frame<'_>, area: Rect) {
        let rows = Layout::vertical([Constraint::Length(1); 4]).split(area);
        let width = usize::from(area.width.saturating_sub(LABEL_WIDTH + 8));
        let done_rate = |s: &QueueSample| {
            let rate = s.rates.as_ref().and_then(|r| r.get("done")).copied();
            // Tenths, so a trickle of jobs still shows.
            rate.map_or(0, |r| (r * 10.0).round() as u64)
        };
        let series: [(&str, Vec<u64>, Color, String); 4] = [
            (
                "ready",
                self.history.series(width, |s| s.depth.ready),
                Color::Cyan,
                self.latest_text(|s| s.depth.ready.to_string()),
            ),
            (
                "processing",
                self.history.series(width, |s| s.depth.processing),
                Color::Blue,
                self.latest_text(|s| s.depth.processing.to_string()),
            ),
            (
                "dead",
                self.history.series(width, |s| s.depth.dead),
                Color::Red,
                self.latest_text(|s| s.depth.dead.to_string()),
            ),
            (
                "done/s",
                self.history.series(width, done_rate),
                Color::Green,
                self.latest_text(|s| {
                    s.rates
                        .as_ref()
                        .and_then(|r| r.get("done"))
                        .map_or_else(|| "–".to_owned(), |r| format!("{r:.1}"))
                }),
            ),
        ];
        for ((label, data, color, latest), row) in series.into_iter().zip(rows.iter()) {
            let [name, chart, value] = Layout::horizontal([
                Constraint::Length(LABEL_WIDTH),
                Constraint::Min(0),
                Constraint::Length(8),
            ])
            .areas(*row);
            frame.render_widget(Paragraph::new(label), name);
            // A flat zero line still says "nothing there", rather than an empty row.
            let max = data.iter().copied().max().unwrap_or(0).max(1);
            frame.render_widget(
                Sparkline::default()
                    .data(&data)
                    .max(max)
                    .style(self.style(color)),
                chart,
            );
            frame.render_widget(Paragraph::new(format!(" {latest:>7}")), value);
        }
    }

    fn latest_text(&self, value: impl Fn(&QueueSample) -> String) -> String {
        self.history.latest().map_or_else(|| "–".to_owned(), value)
    }

    fn draw_letters(&self, frame: &mut Frame<'_>, area: Rect, now: DateTime<Utc>) {
        let title = match &self.dead {
            Some(dead) if dead.value.total > dead.value.letters.len() as u64 => format!(
                "Dead letters: {} (newest {} listed)",
                dead.value.total,
                dead.value.letters.len()
            ),
            Some(dead) => format!("Dead letters: {}", dead.value.total),
            None => "Dead letters".to_owned(),
        };
        let [heading, table_area, detail] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(2),
        ])
        .areas(area);
        let mut heading_spans = vec![Span::styled(
            title,
            Style::new().add_modifier(Modifier::BOLD),
        )];
        if let Some(error) = &self.dead_error {
            heading_spans.push(Span::styled(
                format!("  ! {} ({} ago)", error.value, age(now, error.at)),
                self.style(Color::Red),
            ));
        }
        frame.render_widget(Paragraph::new(Line::from(heading_spans)), heading);

        let letters = self.dead_letters();
        if letters.is_empty() {
            let text = match (&self.dead, &self.dead_error) {
                (None, None) => "waiting for the first read",
                (None, Some(_)) => "cannot list the dead letters",
                (Some(_), _) => "none: every job so far either succeeded or is still trying",
            };
            frame.render_widget(
                Paragraph::new(Span::styled(text, self.style(Color::DarkGray))),
                table_area,
            );
            return;
        }
        let full_ids = area.width >= FULL_ID_WIDTH;
        let id_width: u16 = if full_ids { 36 } else { 9 };
        let rows = letters.iter().map(|letter| letter_row(letter, full_ids));
        let table = Table::new(
            rows,
            [
                Constraint::Length(id_width),
                Constraint::Length(6),
                Constraint::Length(4),
                Constraint::Length(9),
                Constraint::Min(10),
            ],
        )
        .header(
            Row::new(["TASK", "KIND", "ATT", "DEAD AT", "ERROR"])
                .style(Style::new().add_modifier(Modifier::BOLD)),
        )
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .highlight_symbol("▶");
        let mut state = TableState::default().with_selected(Some(self.selected));
        frame.render_stateful_widget(table, table_area, &mut state);

        if let Some(letter) = self.selected_letter() {
            let text = format!(
                "{}: {}",
                letter.task_id,
                letter.error.as_deref().unwrap_or("(no error recorded)")
            );
            frame.render_widget(
                Paragraph::new(text)
                    .style(self.style(Color::Red))
                    .wrap(Wrap { trim: true }),
                detail,
            );
        }
    }

    fn status_line(&self, now: DateTime<Utc>) -> Line<'static> {
        if let Some(notice) = &self.notice {
            return Line::from(Span::styled(notice.clone(), self.style(Color::Yellow)));
        }
        if let Some(error) = &self.overview_error {
            let shown = match self.overview_at {
                Some(at) => format!("showing the reading of {} ago", age(now, at)),
                None => "nothing read yet".to_owned(),
            };
            return Line::from(Span::styled(
                format!("! {} ({shown})", error.value),
                self.style(Color::Red).add_modifier(Modifier::BOLD),
            ));
        }
        Line::from(Span::styled(
            "j/k select  r requeue selected  A requeue all",
            self.style(Color::DarkGray),
        ))
    }
}

fn letter_row(letter: &DeadLetter, full_id: bool) -> Row<'static> {
    let id = if full_id {
        letter.task_id.clone()
    } else {
        let short: String = letter.task_id.chars().take(8).collect();
        format!("{short}…")
    };
    let dead_at = letter
        .dead_at
        .map_or_else(|| "?".to_owned(), |at| at.format("%H:%M:%S").to_string());
    let error = letter
        .error
        .as_deref()
        .and_then(|e| e.lines().next())
        .unwrap_or("")
        .to_owned();
    Row::new([
        Cell::from(id),
        Cell::from(letter.kind.clone()),
        Cell::from(letter.attempts.to_string()),
        Cell::from(dead_at),
        Cell::from(error),
    ])
}

/// `12s`, `4m 5s`, `2h 3m`: how long ago, at a glance (whole seconds; none when the
/// clocks disagree).
pub(super) fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let secs = u64::try_from((now - then).num_seconds()).unwrap_or(0);
    crate::durations::spoken(std::time::Duration::from_secs(secs))
}

fn seconds(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m {}s", (secs / 60.0) as u64, (secs % 60.0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn ages_read_at_a_glance() {
        let now = DateTime::<Utc>::UNIX_EPOCH + Duration::days(1);
        assert_eq!(age(now, now - Duration::seconds(12)), "12s");
        assert_eq!(age(now, now - Duration::seconds(245)), "4m 5s");
        assert_eq!(age(now, now - Duration::seconds(7380)), "2h 3m");
        assert_eq!(age(now, now + Duration::seconds(5)), "0s", "clock skew");
        assert_eq!(seconds(5.24), "5.2s");
        assert_eq!(seconds(125.0), "2m 5s");
    }
}
