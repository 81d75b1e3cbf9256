//! The restart delay after an exit: capped exponential, reset by a long enough run.

use std::time::Duration;

use super::config::RestartPolicy;

#[derive(Debug, Clone)]
pub(crate) struct CrashBackoff {
    policy: RestartPolicy,
    next: Duration,
}

impl CrashBackoff {
    pub fn new(policy: RestartPolicy) -> Self {
        Self {
            policy,
            next: policy.initial_backoff,
        }
    }

    /// The delay before restarting an instance that exited after `uptime`.
    pub fn after_exit(&mut self, uptime: Duration) -> Duration {
        if uptime >= self.policy.reset_after {
            self.next = self.policy.initial_backoff;
        }
        let delay = self.next.min(self.policy.max_backoff);
        self.next = delay.saturating_mul(2).min(self.policy.max_backoff);
        delay
    }

    /// An operator's start or restart is not a crash: the next crash starts over.
    pub fn reset(&mut self) {
        self.next = self.policy.initial_backoff;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn doubles_up_to_the_cap_and_resets_after_a_long_run() {
        let mut backoff = CrashBackoff::new(RestartPolicy::default());
        let delays: Vec<u64> = (0..7)
            .map(|_| backoff.after_exit(SECOND).as_secs())
            .collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff.after_exit(Duration::from_secs(60)), SECOND);
        assert_eq!(backoff.after_exit(SECOND), 2 * SECOND);
        backoff.reset();
        assert_eq!(backoff.after_exit(SECOND), SECOND);
    }
}
