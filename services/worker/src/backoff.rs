//! Delays: before a failed job's next attempt, and before retrying a dependency.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// The longest a retry waits, however many attempts came before.
pub const RETRY_CAP: Duration = Duration::from_secs(60);

/// Delay before the attempt after `attempt` (counting from 1): `base * 2^(attempt-1)`
/// capped at [`RETRY_CAP`], with equal jitter (half fixed, half random) so a
/// burst of failures does not come back as a burst, yet never retries at once.
pub fn retry_delay(base: Duration, attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(31);
    let ceiling = base.saturating_mul(1u32 << exponent).min(RETRY_CAP);
    let half = ceiling / 2;
    half + half.mul_f64(rand::random::<f64>())
}

/// A bounded exponential backoff for reconnecting to a dependency, so an
/// outage produces a slow trickle of attempts and log lines, not a spin.
#[derive(Debug)]
pub struct Reconnect {
    next: Duration,
    min: Duration,
    max: Duration,
}

impl Reconnect {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            next: min,
            min,
            max,
        }
    }

    /// Back to the shortest delay after a success.
    pub fn reset(&mut self) {
        self.next = self.min;
    }

    /// Waits for the current delay (or until `stop`), then lengthens it.
    /// False when `stop` fired.
    pub async fn wait(&mut self, stop: &CancellationToken) -> bool {
        let delay = self.next_delay();
        tokio::select! {
            _ = tokio::time::sleep(delay) => true,
            _ = stop.cancelled() => false,
        }
    }

    /// The delay to wait now; the next one will be longer, up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_stay_jittered_and_capped() {
        let base = Duration::from_secs(1);
        for _ in 0..100 {
            let first = retry_delay(base, 1);
            assert!(
                first >= Duration::from_millis(500) && first <= base,
                "{first:?}"
            );
            let third = retry_delay(base, 3);
            assert!(
                third >= Duration::from_secs(2) && third <= Duration::from_secs(4),
                "{third:?}"
            );
            let late = retry_delay(base, 40);
            assert!(late >= RETRY_CAP / 2 && late <= RETRY_CAP, "{late:?}");
        }
    }

    #[test]
    fn reconnect_delays_grow_to_the_cap_and_reset() {
        let mut backoff = Reconnect::new(Duration::from_millis(100), Duration::from_millis(300));
        let delays: Vec<_> = (0..4).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 300, 300]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(100));
    }
}
