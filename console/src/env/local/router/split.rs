//! Chooses the track of each request by the canary weight, and the instance within a track in turn.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::weight::CanaryWeight;
use opsbox_common::config::Track;

/// The traffic split between the tracks, and a round-robin cursor per track.
///
/// The split is *smooth weighted*, not random: request `n` goes to the canary when
/// `floor((n % 100 + 1) * w / 100)` steps past `floor((n % 100) * w / 100)`, so every run of
/// 100 consecutive requests carries exactly `w` canary requests, spread evenly rather than
/// in a block. Why not weighted random: a canary analysis step judges a few hundred
/// requests, and at 10% a random split's count wanders by ±30% of the expected canary
/// sample; an exact count keeps the analysis' sample size predictable, makes weight 0 and
/// 100 trivially exact, and costs one atomic increment instead of an RNG per request.
#[derive(Debug, Default)]
pub(crate) struct TrafficSplit {
    sequence: AtomicU64,
    stable_cursor: AtomicUsize,
    canary_cursor: AtomicUsize,
}

impl TrafficSplit {
    /// The track the next request should go to.
    pub fn next_track(&self, weight: CanaryWeight) -> Track {
        let weight = u64::from(weight.percent());
        // Relaxed: the counter only needs to hand out distinct numbers, no ordering with other data.
        let slot = self.sequence.fetch_add(1, Ordering::Relaxed) % 100;
        if (slot + 1) * weight / 100 > slot * weight / 100 {
            Track::Canary
        } else {
            Track::Stable
        }
    }

    /// Where the next round-robin pass over `instances` instances of `track` starts.
    pub fn next_start(&self, track: Track, instances: usize) -> usize {
        let cursor = match track {
            Track::Stable => &self.stable_cursor,
            Track::Canary => &self.canary_cursor,
        };
        cursor.fetch_add(1, Ordering::Relaxed) % instances.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canary_share(weight: u8, requests: usize) -> usize {
        let split = TrafficSplit::default();
        let weight = CanaryWeight::new(weight).expect("percentage");
        (0..requests)
            .filter(|_| split.next_track(weight) == Track::Canary)
            .count()
    }

    #[test]
    fn every_hundred_requests_carry_exactly_the_weight() {
        for weight in 0..=100u8 {
            assert_eq!(
                canary_share(weight, 100),
                usize::from(weight),
                "weight {weight}"
            );
        }
    }

    #[test]
    fn canary_requests_are_spread_not_bunched() {
        let split = TrafficSplit::default();
        let weight = CanaryWeight::new(10).expect("percentage");
        let tracks: Vec<Track> = (0..100).map(|_| split.next_track(weight)).collect();
        for window in tracks.chunks(10) {
            assert_eq!(window.iter().filter(|t| **t == Track::Canary).count(), 1);
        }
    }

    #[test]
    fn round_robin_visits_each_instance_in_turn() {
        let split = TrafficSplit::default();
        let starts: Vec<usize> = (0..6).map(|_| split.next_start(Track::Stable, 3)).collect();
        assert_eq!(starts, vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(split.next_start(Track::Canary, 0), 0);
    }
}
