//! What is drawn over a view: the help, the command palette, the confirmation dialog.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::super::actions::Confirmation;
use super::super::nav::ViewId;
use super::super::store::Store;
use super::super::view::Binding;
use super::centered;
use super::palette::{Known, Palette, COMMANDS, MAX_CANDIDATES_SHOWN};

/// The keys every view shares.
pub const GLOBAL_BINDINGS: &[Binding] = &[
    Binding {
        keys: ":",
        action: "command palette: :slo, :promote, :kill NAME ... (Tab completes)",
    },
    Binding {
        keys: "?",
        action: "this help",
    },
    Binding {
        keys: "Tab / Shift-Tab",
        action: "next / previous view",
    },
    Binding {
        keys: "Esc",
        action: "back to the previous view; closes any pane",
    },
    Binding {
        keys: "q, Ctrl-C",
        action: "quit (the environment keeps running)",
    },
];

/// `area` less `x` columns and `y` rows on each side.
pub fn inset(area: Rect, x: u16, y: u16) -> Rect {
    Rect {
        x: area.x + x.min(area.width / 2),
        y: area.y + y.min(area.height / 2),
        width: area.width.saturating_sub(2 * x),
        height: area.height.saturating_sub(2 * y),
    }
}

fn binding_line(binding: &Binding, width: usize, store: &Store) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{:<width$} ", binding.keys), store.theme.accent()),
        Span::raw(binding.action),
    ])
}

pub fn help(frame: &mut Frame<'_>, area: Rect, view: ViewId, bindings: &[Binding], store: &Store) {
    let theme = store.theme;
    let width = bindings
        .iter()
        .chain(GLOBAL_BINDINGS)
        .map(|binding| binding.keys.chars().count())
        .max()
        .unwrap_or(8);
    let mut lines = vec![Line::from(Span::styled(
        format!("In this view ({})", view.command()),
        theme.header(),
    ))];
    lines.extend(
        bindings
            .iter()
            .map(|binding| binding_line(binding, width, store)),
    );
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("Everywhere", theme.header())));
    lines.extend(
        GLOBAL_BINDINGS
            .iter()
            .map(|binding| binding_line(binding, width, store)),
    );
    if store.read_only {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            "Read-only: every action that changes the environment is disabled.",
            theme.warn(),
        )));
    }
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let pane = centered(area, area.width.saturating_sub(4).min(96), height);
    frame.render_widget(Clear, pane);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Help (Esc closes) ")),
        pane,
    );
}

pub fn palette(frame: &mut Frame<'_>, area: Rect, palette: &Palette, known: &Known, store: &Store) {
    let theme = store.theme;
    let candidates = palette.candidates(known);
    let mut lines: Vec<Line<'_>> = candidates
        .iter()
        .take(MAX_CANDIDATES_SHOWN)
        .map(|candidate| {
            let help = COMMANDS
                .iter()
                .find(|spec| spec.name == candidate)
                .map_or("", |spec| spec.help);
            Line::from(vec![
                Span::styled(format!("  {candidate:<18}"), theme.accent()),
                Span::styled(help, theme.dim()),
            ])
        })
        .collect();
    if candidates.len() > MAX_CANDIDATES_SHOWN {
        lines.push(Line::from(Span::styled(
            format!("  … {} more", candidates.len() - MAX_CANDIDATES_SHOWN),
            theme.dim(),
        )));
    }
    if let Some(error) = &palette.error {
        lines.push(Line::from(Span::styled(error.clone(), theme.bad())));
    }
    lines.push(Line::from(vec![
        Span::styled(":", theme.accent()),
        Span::raw(palette.input.clone()),
        Span::styled("▏", theme.accent()),
    ]));
    let height = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let pane = Rect {
        x: area.x,
        y: area.y + area.height - height,
        width: area.width,
        height,
    };
    frame.render_widget(Clear, pane);
    frame.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(" Command (Tab completes, Enter runs, Esc closes) ")),
        pane,
    );
}

pub fn confirm(frame: &mut Frame<'_>, area: Rect, confirmation: &Confirmation, store: &Store) {
    let theme = store.theme;
    let mut lines = vec![
        Line::from(Span::styled(confirmation.question.clone(), theme.warn())),
        Line::from(""),
    ];
    lines.extend(
        confirmation
            .effects
            .iter()
            .map(|effect| Line::from(format!("• {effect}"))),
    );
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        Span::styled("y", theme.accent()),
        Span::raw(" / Enter: do it, and record it in the audit log     "),
        Span::styled("n", theme.accent()),
        Span::raw(" / Esc: cancel"),
    ]));
    let width = area.width.saturating_sub(4).min(76);
    // Wrapped effects take more rows; count them at the pane's inner width.
    let inner_width = usize::from(width.saturating_sub(2)).max(1);
    let rows: usize = lines
        .iter()
        .map(|line| line.width().max(1).div_ceil(inner_width))
        .sum();
    let height = u16::try_from(rows + 2).unwrap_or(u16::MAX);
    let pane = centered(area, width, height);
    frame.render_widget(Clear, pane);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .title(" Confirm ")
                .border_style(theme.warn()),
        ),
        pane,
    );
}
