//! Open-loop pacing: request `k` is due at `k / rps` after the start, whatever
//! happened to the requests before it, so a slow server sees the rate it was
//! promised instead of a client that politely waits (coordinated omission).

use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// The schedule of one run: `rps` slots a second for `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pacer {
    rps: u32,
    planned: u64,
}

impl Pacer {
    pub(super) fn new(rps: u32, duration: Duration) -> Self {
        // Slots at 0, 1/rps, 2/rps, ... strictly before `duration`: ceil(duration * rps).
        let scaled = duration.as_nanos() * u128::from(rps);
        let planned = scaled.div_ceil(NANOS_PER_SEC);
        Self {
            rps,
            planned: u64::try_from(planned).unwrap_or(u64::MAX),
        }
    }

    /// How many slots the whole run has.
    #[cfg(test)]
    pub(super) fn planned(&self) -> u64 {
        self.planned
    }

    /// When slot `slot` is due, from the start; `None` past the last slot.
    pub(super) fn due_at(&self, slot: u64) -> Option<Duration> {
        if slot >= self.planned || self.rps == 0 {
            return None;
        }
        // Rounded up, so that at this instant `due_by` counts the slot as due.
        let nanos = (u128::from(slot) * NANOS_PER_SEC).div_ceil(u128::from(self.rps));
        Some(Duration::from_nanos(
            u64::try_from(nanos).unwrap_or(u64::MAX),
        ))
    }

    /// How many slots are due once `elapsed` has passed (slot 0 is due at once).
    pub(super) fn due_by(&self, elapsed: Duration) -> u64 {
        let due = elapsed.as_nanos() * u128::from(self.rps) / NANOS_PER_SEC + 1;
        u64::try_from(due).unwrap_or(u64::MAX).min(self.planned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_has_rate_times_duration_slots() {
        assert_eq!(Pacer::new(50, Duration::from_secs(3)).planned(), 150);
        assert_eq!(Pacer::new(20, Duration::from_secs(30)).planned(), 600);
        // A fraction of a slot still gets its request: 1.01 s at 10/s is slots 0..=10.
        assert_eq!(Pacer::new(10, Duration::from_millis(1010)).planned(), 11);
        assert_eq!(Pacer::new(3, Duration::from_millis(1)).planned(), 1);
        assert_eq!(Pacer::new(7, Duration::ZERO).planned(), 0);
        // The largest run the CLI allows does not overflow.
        assert_eq!(
            Pacer::new(10_000, Duration::from_secs(86_400)).planned(),
            864_000_000
        );
    }

    #[test]
    fn slots_are_evenly_spaced_and_end_before_the_duration() {
        let pacer = Pacer::new(4, Duration::from_secs(1));
        let times: Vec<_> = (0..5).map(|slot| pacer.due_at(slot)).collect();
        assert_eq!(
            times,
            vec![
                Some(Duration::ZERO),
                Some(Duration::from_millis(250)),
                Some(Duration::from_millis(500)),
                Some(Duration::from_millis(750)),
                None,
            ]
        );
        // 3 per second does not divide a second evenly: no drift over the run.
        let thirds = Pacer::new(3, Duration::from_secs(10));
        assert_eq!(thirds.due_at(29), Some(Duration::from_nanos(9_666_666_667)));
        assert_eq!(thirds.due_at(30), None);
    }

    #[test]
    fn due_counts_catch_up_and_stop_at_the_plan() {
        let pacer = Pacer::new(100, Duration::from_secs(2));
        assert_eq!(pacer.due_by(Duration::ZERO), 1);
        assert_eq!(pacer.due_by(Duration::from_micros(9_999)), 1);
        assert_eq!(pacer.due_by(Duration::from_millis(10)), 2);
        // A loop that wakes 55 ms late finds every slot it missed due at once.
        assert_eq!(pacer.due_by(Duration::from_millis(555)), 56);
        assert_eq!(pacer.due_by(Duration::from_secs(60)), 200);
        for pacer in [
            pacer,
            Pacer::new(3, Duration::from_secs(10)),
            Pacer::new(7, Duration::from_secs(3)),
        ] {
            for slot in 0..pacer.planned() {
                let at = pacer.due_at(slot).expect("within the plan");
                assert_eq!(pacer.due_by(at), slot + 1, "slot {slot} is due at its time");
                if let Some(just_before) = at.checked_sub(Duration::from_nanos(1)) {
                    assert_eq!(
                        pacer.due_by(just_before),
                        slot,
                        "slot {slot} is not due early"
                    );
                }
            }
        }
    }
}
