//! Colours with a meaning (fine, warning, broken), and their plain equivalents under `NO_COLOR`.
//!
//! With `NO_COLOR` set (to anything non-empty, see no-color.org) no style carries a
//! colour; emphasis falls back to bold, reverse and dim, which every terminal shows.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    color: bool,
}

impl Theme {
    /// Colours unless `NO_COLOR` is set and non-empty.
    pub fn from_env() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        Self { color: !no_color }
    }

    pub fn colored() -> Self {
        Self { color: true }
    }

    pub fn plain() -> Self {
        Self { color: false }
    }

    pub fn uses_color(self) -> bool {
        self.color
    }

    fn tint(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    /// Healthy: within objective, running, succeeded.
    pub fn good(self) -> Style {
        self.tint(Color::Green)
    }

    /// Needs attention soon: ticket alerts, backoff, paused.
    pub fn warn(self) -> Style {
        self.tint(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    /// Broken now: page alerts, failed, aborted, source errors.
    pub fn bad(self) -> Style {
        self.tint(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// Less important text: ages, hints, units.
    pub fn dim(self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    /// Titles and the current item of a strip.
    pub fn accent(self) -> Style {
        self.tint(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// The selected row of a list.
    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// Column headers.
    pub fn header(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_styles_carry_no_colour_but_keep_emphasis() {
        let plain = Theme::plain();
        for style in [
            plain.good(),
            plain.warn(),
            plain.bad(),
            plain.dim(),
            plain.accent(),
        ] {
            assert_eq!(style.fg, None);
        }
        assert!(plain.bad().add_modifier.contains(Modifier::BOLD));
        assert_eq!(Theme::colored().bad().fg, Some(Color::Red));
    }
}
