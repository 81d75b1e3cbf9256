//! A number measured over a window, or the honest reason there is none.

use std::time::Duration;

/// Never an invented number: a window the store does not cover yet, or one
/// without a single event, says so instead of reporting 0 or NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reading<T> {
    Value(T),
    /// Covered by data, but no event happened: a ratio has no denominator.
    NoTraffic,
    /// The store holds less history than the window; `covered` is what it has.
    Insufficient {
        covered: Duration,
    },
}

impl<T> Reading<T> {
    pub fn value(&self) -> Option<&T> {
        match self {
            Reading::Value(value) => Some(value),
            _ => None,
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Reading<U> {
        match self {
            Reading::Value(value) => Reading::Value(f(value)),
            Reading::NoTraffic => Reading::NoTraffic,
            Reading::Insufficient { covered } => Reading::Insufficient { covered },
        }
    }
}
