//! Durations written the way Prometheus writes them (`5m`, `6h`, `30d`).

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A whole number of seconds, parsed from and printed as a Prometheus duration.
///
/// Only one unit per value (`90m`, not `1h30m`): the spec is read by people,
/// and one unit keeps every window and period easy to compare at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PromDuration {
    seconds: u64,
}

const UNITS: [(&str, u64); 5] = [
    ("w", 7 * 86_400),
    ("d", 86_400),
    ("h", 3_600),
    ("m", 60),
    ("s", 1),
];

impl PromDuration {
    pub const fn from_seconds(seconds: u64) -> Self {
        Self { seconds }
    }

    pub const fn from_minutes(minutes: u64) -> Self {
        Self {
            seconds: minutes * 60,
        }
    }

    pub const fn seconds(self) -> u64 {
        self.seconds
    }

    /// Whole minutes, rounded down: the resolution of the generated tests.
    pub const fn minutes(self) -> u64 {
        self.seconds / 60
    }

    /// Days as a fraction, for `slo:time_period:days`.
    pub fn days(self) -> f64 {
        self.seconds as f64 / 86_400.0
    }

    /// Parses `<digits><unit>` with unit one of s, m, h, d, w.
    pub fn parse(text: &str) -> Result<Self, String> {
        let digits_end = text
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| format!("`{text}` has no unit (use s, m, h, d or w)"))?;
        let (digits, unit) = text.split_at(digits_end);
        let count: u64 = digits
            .parse()
            .map_err(|_| format!("`{text}` does not start with a whole number"))?;
        let unit_seconds = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, seconds)| *seconds)
            .ok_or_else(|| format!("`{text}` has unknown unit `{unit}` (use s, m, h, d or w)"))?;
        if count == 0 {
            return Err(format!("`{text}` must be longer than zero"));
        }
        let seconds = count
            .checked_mul(unit_seconds)
            .ok_or_else(|| format!("`{text}` is too long"))?;
        Ok(Self { seconds })
    }
}

impl fmt::Display for PromDuration {
    /// The largest unit that divides the value, so 86400s prints as `1d`;
    /// weeks are skipped because Sloth-style names say `30d`, not `4w2d`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, unit_seconds) in UNITS.iter().skip(1) {
            if self.seconds % unit_seconds == 0 {
                return write!(f, "{}{}", self.seconds / unit_seconds, name);
            }
        }
        write!(f, "{}s", self.seconds)
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::PromDuration;

    #[test]
    fn parses_and_prints_prometheus_durations() {
        for (text, seconds, printed) in [
            ("5m", 300, "5m"),
            ("30d", 2_592_000, "30d"),
            ("1w", 604_800, "7d"),
            ("90m", 5_400, "90m"),
            ("120m", 7_200, "2h"),
            ("45s", 45, "45s"),
        ] {
            let duration = PromDuration::parse(text).expect(text);
            assert_eq!(duration.seconds(), seconds, "{text}");
            assert_eq!(duration.to_string(), printed, "{text}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_single_unit_duration() {
        for text in ["", "30", "d", "1h30m", "5y", "0d", "-1d", "1.5h"] {
            assert!(PromDuration::parse(text).is_err(), "{text} was accepted");
        }
    }
}
