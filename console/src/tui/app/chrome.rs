//! The frame around the views: the header (tabs, environment, connection, read-only)
//! and the footer (the latest result or notice, else the keys that always work), and the
//! screen shown when no environment runs.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::super::nav::ViewId;
use super::super::store::{Connection, StackStart, Store};
use super::super::text;
use super::{App, NoticeKind};

pub fn header(frame: &mut Frame<'_>, area: Rect, app: &mut App) {
    let titles: Vec<(ViewId, &'static str)> = ViewId::ALL
        .iter()
        .map(|id| (*id, app.title_of(*id)))
        .collect();
    let store = app.store.borrow();
    let theme = store.theme;
    let (state, state_style) = match &store.connection {
        Connection::Unknown => ("connecting", theme.dim()),
        Connection::NotRunning(_) => ("not running", theme.bad()),
        Connection::Connected if store.status.error().is_some() => ("no answer", theme.bad()),
        Connection::Connected => ("connected", theme.good()),
    };
    let mut right = vec![
        Span::styled(store.environment.clone(), theme.accent()),
        Span::raw(" "),
        Span::styled(state, state_style),
    ];
    if store.read_only {
        right.push(Span::raw(" "));
        right.push(Span::styled("READ-ONLY", theme.warn()));
    }
    let right_width: usize = right
        .iter()
        .map(|span| span.content.chars().count())
        .sum::<usize>()
        + 1;
    let full: usize = titles
        .iter()
        .map(|(_, title)| title.chars().count() + 2)
        .sum();
    let mut tabs = Vec::new();
    if full + right_width <= usize::from(area.width) {
        for (id, title) in &titles {
            if *id == app.active {
                tabs.push(Span::styled(format!("[{title}]"), theme.accent()));
            } else {
                tabs.push(Span::styled(format!(" {title} "), theme.dim()));
            }
        }
    } else {
        let title = titles
            .iter()
            .find(|(id, _)| *id == app.active)
            .map_or("", |(_, title)| title);
        tabs.push(Span::styled(format!("[{title}]"), theme.accent()));
        tabs.push(Span::styled(
            format!(" {}/{} Tab", app.active.index() + 1, ViewId::ALL.len()),
            theme.dim(),
        ));
    }
    let used: usize = tabs.iter().map(|span| span.content.chars().count()).sum();
    let gap = usize::from(area.width).saturating_sub(used + right_width - 1);
    tabs.push(Span::raw(" ".repeat(gap)));
    tabs.extend(right);
    frame.render_widget(Line::from(tabs), area);
}

pub fn footer(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let store = app.store.borrow();
    let theme = store.theme;
    let line = if let Some(notice) = &app.notice {
        let style = match notice.kind {
            NoticeKind::Info => theme.accent(),
            NoticeKind::Success => theme.good(),
            NoticeKind::Failure => theme.bad(),
        };
        let age = text::duration_short(text::elapsed(notice.at, store.now));
        Line::from(vec![
            Span::styled(notice.text.clone(), style),
            Span::styled(format!(" ({age} ago)"), theme.dim()),
        ])
    } else if let Some(pending) = &store.pending_action {
        Line::from(Span::styled(
            format!("{pending}: waiting for the answer…"),
            theme.accent(),
        ))
    } else {
        Line::from(Span::styled(
            "? help  : command  Tab next view  Esc back  q quit",
            theme.dim(),
        ))
    };
    frame.render_widget(line, area);
}

pub fn no_stack(frame: &mut Frame<'_>, area: Rect, store: &Store) {
    let theme = store.theme;
    let Connection::NotRunning(message) = &store.connection else {
        return;
    };
    let mut lines = vec![
        Line::from(Span::styled("No environment is running.", theme.bad())),
        Line::from(""),
        Line::from(message.clone()),
        Line::from(""),
    ];
    match &store.stack_start {
        StackStart::Running(progress) => {
            lines.push(Line::from(Span::styled("Starting it (opsbox up)…", theme.accent())));
            lines.push(Line::from(Span::styled(progress.clone(), theme.dim())));
        }
        StackStart::Failed(error) => {
            lines.push(Line::from(Span::styled("Starting it failed:", theme.bad())));
            lines.push(Line::from(error.clone()));
            lines.push(Line::from(""));
            lines.push(Line::from("Press u to try again, q to quit."));
        }
        StackStart::Idle if store.read_only => lines.push(Line::from(
            "This console is read-only: start one with `opsbox up` in another terminal; it is picked up within a second.",
        )),
        StackStart::Idle => {
            lines.push(Line::from(vec![
                Span::raw("Press "),
                Span::styled("u", theme.accent()),
                Span::raw(" to start one here (the same as `opsbox up`: PostgreSQL, Redis, 2 API instances, 1 worker, the router on 127.0.0.1:8080),"),
            ]));
            lines.push(Line::from("or run `opsbox up` elsewhere; the console picks it up within a second."));
            lines.push(Line::from(""));
            lines.push(Line::from(Span::styled(
                "The Drills and Audit views work without an environment (Tab). q quits.",
                theme.dim(),
            )));
        }
    }
    let inner = super::overlay::inset(area, 2, 1);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}
