//! How numbers, ratios and durations read on the console: short, fixed-width, never invented.

use std::time::Duration;

use crate::model::slo::{Exhaustion, Measured};

/// Ages and remaining times in at most 6 columns (`2h05m`).
pub use crate::durations::compact as duration_short;

/// Seconds between two instants, zero when `later` is not later (clock skew).
pub fn elapsed(
    earlier: chrono::DateTime<chrono::Utc>,
    later: chrono::DateTime<chrono::Utc>,
) -> Duration {
    (later - earlier).to_std().unwrap_or(Duration::ZERO)
}

/// `99.95%`: a ratio as a percentage with two decimals.
pub fn percent(ratio: f64) -> String {
    format!("{:.2}%", ratio * 100.0)
}

/// A burn rate: `0.00x`, `1.5x`, `14x`, `>999x`.
pub fn burn(rate: f64) -> String {
    if rate >= 999.5 {
        ">999x".to_owned()
    } else if rate >= 10.0 {
        format!("{rate:.0}x")
    } else if rate >= 1.0 {
        format!("{rate:.1}x")
    } else {
        format!("{rate:.2}x")
    }
}

/// A measured value through `show`, or what stands in for it: `-` (no traffic),
/// `~v` (only part of the window is covered), `?` (not covered at all).
pub fn measured<T>(value: &Measured<T>, show: impl Fn(&T) -> String) -> String {
    match value {
        Measured::Value { value } => show(value),
        Measured::NoTraffic => "-".to_owned(),
        Measured::Insufficient {
            covered_value: Some(value),
            ..
        } => format!("~{}", show(value)),
        Measured::Insufficient { .. } => "?".to_owned(),
    }
}

/// `in 3d4h`, `exhausted`, `not burning`.
pub fn exhaustion(value: &Exhaustion) -> String {
    match value {
        Exhaustion::NotBurning => "not burning".to_owned(),
        Exhaustion::Exhausted => "exhausted".to_owned(),
        Exhaustion::In { secs } => format!("in {}", duration_short(Duration::from_secs(*secs))),
    }
}

/// Cuts `text` to `width` characters, marking the cut with `…`.
pub fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut cut: String = text.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burn_rates_keep_their_precision_where_it_matters() {
        assert_eq!(burn(0.0), "0.00x");
        assert_eq!(burn(0.456), "0.46x");
        assert_eq!(burn(1.44), "1.4x");
        assert_eq!(burn(14.4), "14x");
        assert_eq!(burn(5000.0), ">999x");
    }

    #[test]
    fn missing_values_say_why() {
        let show = |v: &f64| percent(*v);
        assert_eq!(measured(&Measured::Value { value: 0.9995 }, show), "99.95%");
        assert_eq!(measured(&Measured::<f64>::NoTraffic, show), "-");
        let partial = Measured::Insufficient {
            covered_secs: 60,
            covered_value: Some(0.5),
        };
        assert_eq!(measured(&partial, show), "~50.00%");
        let none = Measured::<f64>::Insufficient {
            covered_secs: 0,
            covered_value: None,
        };
        assert_eq!(measured(&none, show), "?");
        assert_eq!(exhaustion(&Exhaustion::In { secs: 90_000 }), "in 1d1h");
    }

    #[test]
    fn truncation_marks_the_cut() {
        assert_eq!(truncate("worker-crash", 20), "worker-crash");
        assert_eq!(truncate("worker-crash", 6), "worke…");
        assert_eq!(truncate("abc", 0), "");
    }
}
