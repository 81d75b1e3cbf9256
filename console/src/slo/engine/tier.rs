//! A downsampled ring of cumulative counter values, one slot per fixed-width time bucket.

use std::collections::VecDeque;
use std::mem::size_of;

use super::UnixMillis;

/// Slot `b` holds the cumulative value of the last sample at or before the
/// boundary `b * resolution`, so the increase between two boundaries is
/// exactly what the raw samples said. A bucket without a sample carries the
/// previous value forward: slots stay dense and a lookup is arithmetic.
#[derive(Debug, Clone)]
pub(super) struct Tier {
    resolution_ms: u64,
    capacity: usize,
    /// Boundary index of the newest slot; the ring holds the `len` boundaries ending here.
    newest_boundary: u64,
    slots: VecDeque<f64>,
}

impl Tier {
    pub(super) fn new(resolution_ms: u64, capacity: usize) -> Self {
        Self {
            resolution_ms: resolution_ms.max(1),
            capacity: capacity.max(1),
            newest_boundary: 0,
            slots: VecDeque::new(),
        }
    }

    pub(super) fn record(&mut self, at: UnixMillis, cumulative: f64) {
        let boundary = at.div_ceil(self.resolution_ms);
        if let Some(&last) = self.slots.back() {
            if boundary < self.newest_boundary {
                // The history rejects out-of-order samples; never rewrite the past here either.
                return;
            }
            if boundary == self.newest_boundary {
                if let Some(slot) = self.slots.back_mut() {
                    *slot = cumulative;
                }
                return;
            }
            // A gap longer than the ring only needs a ring's worth of carried values.
            let gap = (boundary - self.newest_boundary - 1).min(self.capacity as u64);
            for _ in 0..gap {
                self.push(last);
            }
        }
        self.push(cumulative);
        self.newest_boundary = boundary;
    }

    /// The cumulative value at the latest boundary at or before `at`, or
    /// `None` when that boundary is older than the ring.
    pub(super) fn at_or_before(&self, at: UnixMillis) -> Option<f64> {
        let newest = *self.slots.back()?;
        let boundary = at / self.resolution_ms;
        if boundary >= self.newest_boundary {
            return Some(newest);
        }
        let oldest = self.oldest_boundary()?;
        let offset = boundary.checked_sub(oldest)?;
        self.slots.get(usize::try_from(offset).ok()?).copied()
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<f64>()
    }

    fn oldest_boundary(&self) -> Option<u64> {
        (self.newest_boundary + 1).checked_sub(self.slots.len() as u64)
    }

    /// Grows by doubling, like `Vec`, but never past the ring's capacity, so a
    /// young series holds little and an old one exactly its bound.
    fn push(&mut self, value: f64) {
        if self.slots.len() >= self.capacity {
            self.slots.pop_front();
        } else if self.slots.len() == self.slots.capacity() {
            let room = self.capacity - self.slots.len();
            self.slots.reserve_exact(self.slots.len().max(16).min(room));
        }
        self.slots.push_back(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000;

    #[test]
    fn boundaries_hold_the_last_value_at_or_before_them() {
        let mut tier = Tier::new(MINUTE, 10);
        tier.record(10 * MINUTE, 1.0); // exactly on boundary 10
        tier.record(10 * MINUTE + 1, 2.0); // bucket (10, 11]
        tier.record(11 * MINUTE, 3.0); // still boundary 11
        assert_eq!(tier.at_or_before(10 * MINUTE), Some(1.0));
        assert_eq!(tier.at_or_before(11 * MINUTE - 1), Some(1.0));
        assert_eq!(tier.at_or_before(11 * MINUTE), Some(3.0));
        assert_eq!(tier.at_or_before(9 * MINUTE), None);
    }

    #[test]
    fn gaps_carry_the_value_forward_and_the_ring_stays_bounded() {
        let mut tier = Tier::new(MINUTE, 4);
        tier.record(MINUTE, 5.0);
        tier.record(4 * MINUTE, 8.0);
        assert_eq!(tier.at_or_before(3 * MINUTE), Some(5.0));
        tier.record(1_000 * MINUTE, 9.0);
        assert_eq!(tier.slots.len(), 4);
        assert!(tier.slots.capacity() <= 16);
        assert_eq!(tier.at_or_before(999 * MINUTE), Some(8.0));
        assert_eq!(tier.at_or_before(996 * MINUTE), None);
    }
}
