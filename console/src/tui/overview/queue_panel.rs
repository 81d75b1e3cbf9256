//! Queue depth now, and the ready depth over the last minutes as a sparkline.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Sparkline;
use ratatui::Frame;

use super::super::store::Store;
use super::super::widgets::panel;

pub fn render(frame: &mut Frame<'_>, area: Rect, store: &Store) {
    let theme = store.theme;
    let Some((inner, status)) = panel::open_status(frame, area, "Queue · backlog", store) else {
        return;
    };
    let Some(depth) = status.queue else {
        frame.render_widget(
            Line::from(Span::styled(
                "the queue could not be read just now",
                theme.warn(),
            )),
            inner,
        );
        return;
    };
    let [counts, spark] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let dead_style = if depth.dead > 0 {
        theme.bad()
    } else {
        theme.dim()
    };
    frame.render_widget(
        Line::from(vec![
            Span::raw(format!(
                "ready {}  proc {}  delayed {}  ",
                depth.ready, depth.processing, depth.delayed
            )),
            Span::styled(format!("dead {}", depth.dead), dead_style),
        ]),
        counts,
    );
    // The backlog (ready, delayed and in progress): the newest samples that fit, oldest
    // on the left.
    let width = usize::from(spark.width);
    let history = &store.queue_history;
    let data: Vec<u64> = history
        .iter()
        .skip(history.len().saturating_sub(width))
        .map(|sample| sample.depth.ready + sample.depth.delayed + sample.depth.processing)
        .collect();
    frame.render_widget(
        Sparkline::default().data(&data).style(theme.accent()),
        spark,
    );
}
