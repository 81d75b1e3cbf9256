//! How much history each series keeps, at which resolution: the store's memory bound.

use std::mem::size_of;

use super::UnixMillis;

/// The raw ring answers the short windows (5m, 30m, 1h) from the samples themselves.
pub const RAW_SPAN_MS: u64 = 60 * 60 * 1_000;
pub const MINUTE_MS: u64 = 60 * 1_000;
/// One-minute buckets answer 2h, 6h and 1d.
pub const MINUTE_SPAN_MS: u64 = 24 * 60 * MINUTE_MS;
pub const TEN_MINUTES_MS: u64 = 10 * MINUTE_MS;
/// The longest history kept, whatever the spec's periods: 90 days of
/// ten-minute buckets is 12,961 slots, about 101 KiB per series.
pub const MAX_RETENTION_MS: u64 = 90 * 24 * 60 * MINUTE_MS;
/// Scrapes faster than once a second add nothing an SLO window can see.
const FASTEST_SCRAPE_MS: u64 = 1_000;

/// Ring capacities of every series. Per series, at most:
/// `raw_capacity * 16 + (minute_capacity + ten_minute_capacity) * 8` bytes;
/// at a 15 s scrape and a 30 d period that is 241 * 16 + (1,441 + 4,321) * 8
/// = 49,952 bytes, plus the series' labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierLayout {
    pub raw_capacity: usize,
    pub minute_ms: u64,
    pub minute_capacity: usize,
    pub ten_minute_ms: u64,
    pub ten_minute_capacity: usize,
}

impl TierLayout {
    /// Each ring holds one slot more than its span, so that a window as long
    /// as the span still finds the boundary where it starts.
    pub fn for_scrape_interval(scrape_interval_ms: u64, retention_ms: UnixMillis) -> Self {
        let interval = scrape_interval_ms.max(FASTEST_SCRAPE_MS);
        let retention = retention_ms.clamp(MINUTE_SPAN_MS, MAX_RETENTION_MS);
        Self {
            raw_capacity: slots(RAW_SPAN_MS, interval),
            minute_ms: MINUTE_MS,
            minute_capacity: slots(MINUTE_SPAN_MS, MINUTE_MS),
            ten_minute_ms: TEN_MINUTES_MS,
            ten_minute_capacity: slots(retention, TEN_MINUTES_MS),
        }
    }

    /// The longest window the rings can answer.
    pub fn retention_ms(&self) -> UnixMillis {
        (self.ten_minute_capacity.saturating_sub(1) as u64) * self.ten_minute_ms
    }

    /// Ring bytes of one series once every ring is full.
    pub fn max_ring_bytes(&self) -> usize {
        self.raw_capacity * 2 * size_of::<f64>()
            + (self.minute_capacity + self.ten_minute_capacity) * size_of::<f64>()
    }
}

fn slots(span_ms: u64, resolution_ms: u64) -> usize {
    usize::try_from(span_ms.div_ceil(resolution_ms) + 1).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifteen_second_scrape_over_thirty_days_fits_in_fifty_kilobytes() {
        let layout = TierLayout::for_scrape_interval(15_000, 30 * 24 * 60 * MINUTE_MS);
        assert_eq!(layout.raw_capacity, 241);
        assert_eq!(layout.minute_capacity, 1_441);
        assert_eq!(layout.ten_minute_capacity, 4_321);
        assert_eq!(layout.max_ring_bytes(), 49_952);
        assert_eq!(layout.retention_ms(), 30 * 24 * 60 * MINUTE_MS);
    }

    #[test]
    fn retention_and_scrape_rate_are_clamped() {
        let layout = TierLayout::for_scrape_interval(1, 10 * MAX_RETENTION_MS);
        assert_eq!(layout.raw_capacity, 3_601);
        assert_eq!(layout.retention_ms(), MAX_RETENTION_MS);
    }
}
