//! A bordered panel whose frame says how old its data is and, when its source failed,
//! the error: the operator never has to guess whether a number is current.

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use crate::model::EnvironmentStatus;

use super::super::feed::Feed;
use super::super::store::Store;
use super::super::text;
use super::super::theme::Theme;

/// A panel's frame: title on the left, age on the right, source error at the bottom.
pub fn block<'a, T>(title: &'a str, feed: &Feed<T>, now: DateTime<Utc>, theme: Theme) -> Block<'a> {
    let age = Line::from(Span::styled(feed.age_caption(now), theme.dim())).right_aligned();
    let mut block = Block::bordered()
        .title(Line::from(Span::styled(
            format!(" {title} "),
            theme.accent(),
        )))
        .title_top(age);
    // Without any value the panel's body shows the whole error (see `render_missing`).
    if let (Some(error), Some(_)) = (feed.error(), feed.value()) {
        block = block.title_bottom(Line::from(Span::styled(
            format!(" ✗ {error} "),
            theme.bad(),
        )));
    }
    block
}

/// A frame for what has no feed of its own (a section of a view).
pub fn plain_block(title: &str, theme: Theme) -> Block<'_> {
    Block::bordered().title(Line::from(Span::styled(
        format!(" {title} "),
        theme.accent(),
    )))
}

/// Draws a panel's frame and returns its inside with the feed's data; without data it
/// draws why (the error, or `waiting`) and returns `None`.
pub fn open<'f, T>(
    frame: &mut Frame<'_>,
    area: Rect,
    title: &str,
    feed: &'f Feed<T>,
    now: DateTime<Utc>,
    theme: Theme,
    waiting: &str,
) -> Option<(Rect, &'f T)> {
    let block = block(title, feed, now, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    match feed.value() {
        Some(value) => Some((inner, value)),
        None => {
            render_missing(frame, inner, feed, waiting, theme);
            None
        }
    }
}

/// [`open`] for the many panels that draw the environment's status.
pub fn open_status<'s>(
    frame: &mut Frame<'_>,
    area: Rect,
    title: &str,
    store: &'s Store,
) -> Option<(Rect, &'s EnvironmentStatus)> {
    let waiting = "waiting for the environment…";
    open(
        frame,
        area,
        title,
        &store.status,
        store.now,
        store.theme,
        waiting,
    )
}

/// What a panel shows when its source has never answered: the error if there is one,
/// else that it is waiting.
pub fn render_missing<T>(
    frame: &mut Frame<'_>,
    area: Rect,
    feed: &Feed<T>,
    waiting: &str,
    theme: Theme,
) {
    let line = match feed.error() {
        Some(error) => Line::from(Span::styled(error.to_owned(), theme.bad())),
        None => Line::from(Span::styled(waiting.to_owned(), theme.dim())),
    };
    frame.render_widget(Paragraph::new(line).wrap(Wrap { trim: true }), area);
}

/// `age 3s`: for places where a panel holds data from several feeds.
pub fn age_span<T>(feed: &Feed<T>, now: DateTime<Utc>, theme: Theme) -> Span<'static> {
    match feed.age(now) {
        Some(age) => Span::styled(format!("{} ago", text::duration_short(age)), theme.dim()),
        None => Span::styled("no data yet", theme.dim()),
    }
}
