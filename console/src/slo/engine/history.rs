//! One counter's history: reset-adjusted cumulative values at scrape resolution, then per minute, then per ten minutes.

use std::collections::VecDeque;
use std::mem::size_of;

use super::layout::TierLayout;
use super::tier::Tier;
use super::UnixMillis;

#[derive(Debug, Clone, Copy)]
struct RawPoint {
    at: UnixMillis,
    cumulative: f64,
}

/// Values are kept as a cumulative count that never goes down: a counter
/// that drops was reset (its process restarted) and counted again from 0,
/// as Prometheus `increase()` assumes. An increase over any window is then
/// one subtraction, and downsampling is keeping the value at a boundary.
#[derive(Debug, Clone)]
pub(super) struct SeriesHistory {
    /// The value as last exposed, to tell a reset from an increase.
    last_exposed: f64,
    last_at: UnixMillis,
    cumulative: f64,
    born_at: UnixMillis,
    born_cumulative: f64,
    raw: VecDeque<RawPoint>,
    raw_capacity: usize,
    minutes: Tier,
    ten_minutes: Tier,
}

impl SeriesHistory {
    /// `counted_from_zero`: the series appeared after an earlier scrape of
    /// its instance, so everything it exposes happened since that scrape.
    /// Otherwise its first value may be years old and only later increases count.
    pub(super) fn new(
        at: UnixMillis,
        exposed: f64,
        counted_from_zero: bool,
        layout: &TierLayout,
    ) -> Self {
        let exposed = sanitize(exposed);
        let cumulative = if counted_from_zero { exposed } else { 0.0 };
        let mut history = Self {
            last_exposed: exposed,
            last_at: at,
            cumulative,
            born_at: at,
            born_cumulative: cumulative,
            raw: VecDeque::with_capacity(layout.raw_capacity),
            raw_capacity: layout.raw_capacity.max(1),
            minutes: Tier::new(layout.minute_ms, layout.minute_capacity),
            ten_minutes: Tier::new(layout.ten_minute_ms, layout.ten_minute_capacity),
        };
        history.keep(at, cumulative);
        history
    }

    /// Returns false for a sample not newer than the last one (a repeated or late scrape).
    pub(super) fn record(&mut self, at: UnixMillis, exposed: f64) -> bool {
        if at <= self.last_at || exposed.is_nan() {
            return false;
        }
        let exposed = sanitize(exposed);
        let increase = if exposed >= self.last_exposed {
            exposed - self.last_exposed
        } else {
            // Reset: the new process counted from 0 up to `exposed`.
            exposed
        };
        self.cumulative += increase;
        self.last_exposed = exposed;
        self.last_at = at;
        self.keep(at, self.cumulative);
        true
    }

    pub(super) fn last_at(&self) -> UnixMillis {
        self.last_at
    }

    /// Events counted up to `at` since the series was born; the coarser
    /// tiers round `at` down to their boundary, which lengthens an old
    /// window by less than one bucket rather than inventing a value.
    pub(super) fn cumulative_at(&self, at: UnixMillis) -> f64 {
        if at >= self.last_at {
            return self.cumulative;
        }
        if at < self.born_at {
            return 0.0;
        }
        if let Some(oldest) = self.raw.front() {
            if oldest.at <= at {
                let after = self.raw.partition_point(|point| point.at <= at);
                return self
                    .raw
                    .get(after.saturating_sub(1))
                    .map_or(oldest.cumulative, |point| point.cumulative);
            }
        }
        self.minutes
            .at_or_before(at)
            .or_else(|| self.ten_minutes.at_or_before(at))
            .unwrap_or(self.born_cumulative)
    }

    /// Heap bytes held by the rings (their allocated capacity, not their length).
    pub(super) fn heap_bytes(&self) -> usize {
        self.raw.capacity() * size_of::<RawPoint>()
            + self.minutes.heap_bytes()
            + self.ten_minutes.heap_bytes()
    }

    fn keep(&mut self, at: UnixMillis, cumulative: f64) {
        if self.raw.len() >= self.raw_capacity {
            self.raw.pop_front();
        }
        self.raw.push_back(RawPoint { at, cumulative });
        self.minutes.record(at, cumulative);
        self.ten_minutes.record(at, cumulative);
    }
}

/// A counter is never negative nor infinite; such a value would poison every sum after it.
fn sanitize(exposed: f64) -> f64 {
    if exposed.is_finite() {
        exposed.max(0.0)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000;

    fn layout() -> TierLayout {
        TierLayout::for_scrape_interval(15 * SECOND, 30 * 86_400 * SECOND)
    }

    #[test]
    fn a_counter_that_drops_was_reset_and_counts_from_zero() {
        let mut history = SeriesHistory::new(0, 40.0, false, &layout());
        assert!(history.record(15 * SECOND, 100.0));
        assert!(history.record(30 * SECOND, 5.0));
        // 60 before the restart, then 5 after it: 100 -> 5 counts 5.
        assert_eq!(history.cumulative_at(30 * SECOND), 65.0);
        assert_eq!(
            history.cumulative_at(30 * SECOND) - history.cumulative_at(15 * SECOND),
            5.0
        );
    }

    #[test]
    fn the_first_value_counts_only_when_the_series_is_new_since_an_earlier_scrape() {
        let old = SeriesHistory::new(60 * SECOND, 7.0, false, &layout());
        let fresh = SeriesHistory::new(60 * SECOND, 7.0, true, &layout());
        // Increase from before the series existed up to its birth.
        assert_eq!(
            old.cumulative_at(60 * SECOND) - old.cumulative_at(SECOND),
            0.0
        );
        assert_eq!(
            fresh.cumulative_at(60 * SECOND) - fresh.cumulative_at(SECOND),
            7.0
        );
    }

    #[test]
    fn late_and_repeated_samples_are_ignored() {
        let mut history = SeriesHistory::new(30 * SECOND, 1.0, false, &layout());
        assert!(!history.record(30 * SECOND, 9.0));
        assert!(!history.record(15 * SECOND, 9.0));
        assert!(!history.record(45 * SECOND, f64::NAN));
        assert_eq!(history.cumulative_at(45 * SECOND), 0.0);
    }
}
