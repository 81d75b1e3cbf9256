//! The error budget left as a bar of block characters and a percentage; it reads the
//! same with and without colour.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::super::theme::Theme;
use crate::model::slo::Measured;

/// `█████░░░  62%`, `░░░░░░░░ -12%` (overspent), `········   -` (no number).
pub fn budget_bar(remaining: &Measured<f64>, cells: usize, theme: Theme) -> Line<'static> {
    let Some(&value) = remaining.over_available_data() else {
        let missing = match remaining {
            Measured::NoTraffic => "-",
            _ => "?",
        };
        return Line::from(vec![
            Span::styled("·".repeat(cells), theme.dim()),
            Span::styled(format!(" {missing:>6}"), theme.dim()),
        ]);
    };
    let partial = matches!(remaining, Measured::Insufficient { .. });
    let clamped = value.clamp(0.0, 1.0);
    // Rounded down, so a bar is only full when nothing is spent.
    let filled = ((clamped * cells as f64).floor() as usize).min(cells);
    let style = budget_style(value, theme);
    // Far overspent budgets would not fit the column; the bound is still true.
    let label = if value <= -9.99 {
        "<-999%".to_owned()
    } else if partial {
        format!("~{:.0}%", value * 100.0)
    } else {
        format!("{:.0}%", value * 100.0)
    };
    Line::from(vec![
        Span::styled("█".repeat(filled), style),
        Span::styled("░".repeat(cells - filled), theme.dim()),
        Span::styled(format!(" {label:>6}"), style),
    ])
}

/// Red when under a quarter is left (or overspent), yellow under half.
pub fn budget_style(remaining: f64, theme: Theme) -> Style {
    if remaining < 0.25 {
        theme.bad()
    } else if remaining < 0.5 {
        theme.warn()
    } else {
        theme.good()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &Line<'_>) -> String {
        line.spans
            .iter()
            .map(|span| span.content.as_ref())
            .collect()
    }

    #[test]
    fn the_bar_fills_with_the_budget_left_and_says_when_it_is_partial() {
        let theme = Theme::plain();
        assert_eq!(
            text(&budget_bar(&Measured::Value { value: 0.62 }, 8, theme)),
            "████░░░░    62%"
        );
        assert_eq!(
            text(&budget_bar(&Measured::Value { value: 1.0 }, 4, theme)),
            "████   100%"
        );
        assert_eq!(
            text(&budget_bar(&Measured::Value { value: -0.12 }, 4, theme)),
            "░░░░   -12%"
        );
        let partial = Measured::Insufficient {
            covered_secs: 60,
            covered_value: Some(-0.13),
        };
        assert_eq!(text(&budget_bar(&partial, 4, theme)), "░░░░  ~-13%");
        assert_eq!(
            text(&budget_bar(&Measured::NoTraffic, 4, theme)),
            "····      -"
        );
        let overspent = Measured::Insufficient {
            covered_secs: 60,
            covered_value: Some(-26.17),
        };
        assert_eq!(text(&budget_bar(&overspent, 4, theme)), "░░░░ <-999%");
    }
}
