//! How a span of time reads to the operator, in the three places it is read: a
//! fixed-width cell, a table column, a sentence. One module, so a span never reads two
//! ways on one screen and a new view does not grow a seventh formatter.

use std::time::Duration;

/// `0s`, `42s`, `3m`, `2h05m`, `3d4h`: an age or a remaining time in at most 6 columns.
pub fn compact(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3_599 => format!("{}m", secs / 60),
        3_600..=86_399 => format!("{}h{:02}m", secs / 3_600, secs % 3_600 / 60),
        _ => format!("{}d{}h", secs / 86_400, secs % 86_400 / 3_600),
    }
}

/// `42s`, `3m07s`, `2h05m`, `4d06h`: to the second under an hour, for table columns.
pub fn precise(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3_599 => format!("{}m{:02}s", secs / 60, secs % 60),
        3_600..=86_399 => format!("{}h{:02}m", secs / 3_600, (secs % 3_600) / 60),
        _ => format!("{}d{:02}h", secs / 86_400, (secs % 86_400) / 3_600),
    }
}

/// `250ms`, `2.5s`, `1m 30s`, `10m`, `2h 3m`, `24h`: in a sentence.
pub fn spoken(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis == 0 {
        return "0s".to_owned();
    }
    if millis < 1_000 {
        return format!("{millis}ms");
    }
    let seconds = duration.as_secs();
    let (hours, minutes, seconds) = (seconds / 3_600, seconds % 3_600 / 60, seconds % 60);
    let tenths = duration.subsec_millis() / 100;
    match (hours, minutes, seconds, tenths) {
        (0, 0, s, 0) => format!("{s}s"),
        (0, 0, s, t) => format!("{s}.{t}s"),
        (0, m, 0, _) => format!("{m}m"),
        (0, m, s, _) => format!("{m}m {s}s"),
        (h, 0, _, _) => format!("{h}h"),
        (h, m, _, _) => format!("{h}h {m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn compact_fits_in_six_columns() {
        assert_eq!(compact(secs(0)), "0s");
        assert_eq!(compact(secs(59)), "59s");
        assert_eq!(compact(secs(61)), "1m");
        assert_eq!(compact(secs(3_600 + 300)), "1h05m");
        assert_eq!(compact(secs(3 * 86_400 + 4 * 3_600)), "3d4h");
    }

    #[test]
    fn precise_keeps_the_seconds_under_an_hour() {
        assert_eq!(precise(secs(42)), "42s");
        assert_eq!(precise(secs(187)), "3m07s");
        assert_eq!(precise(secs(7_500)), "2h05m");
        assert_eq!(precise(secs(4 * 86_400 + 6 * 3_600)), "4d06h");
    }

    #[test]
    fn spoken_reads_like_a_sentence() {
        assert_eq!(spoken(Duration::ZERO), "0s");
        assert_eq!(spoken(Duration::from_millis(250)), "250ms");
        assert_eq!(spoken(secs(20)), "20s");
        assert_eq!(spoken(Duration::from_millis(2_500)), "2.5s");
        assert_eq!(spoken(secs(90)), "1m 30s");
        assert_eq!(spoken(secs(245)), "4m 5s");
        assert_eq!(spoken(secs(600)), "10m");
        assert_eq!(spoken(secs(7_380)), "2h 3m");
        assert_eq!(spoken(secs(24 * 3_600)), "24h");
    }
}
