//! What the console knows from one source: the last good value, when it came, and the
//! source's current error, so a panel can say how old its data is and why it is stale.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::text;

/// The last value a collector delivered and the last error it hit.
#[derive(Debug, Clone)]
pub struct Feed<T> {
    value: Option<T>,
    updated_at: Option<DateTime<Utc>>,
    error: Option<String>,
}

impl<T> Default for Feed<T> {
    fn default() -> Self {
        Self {
            value: None,
            updated_at: None,
            error: None,
        }
    }
}

impl<T> Feed<T> {
    /// A success replaces the value and clears the error; a failure keeps the old value
    /// (shown as stale) next to the error.
    pub fn accept(&mut self, result: Result<T, String>, at: DateTime<Utc>) {
        match result {
            Ok(value) => {
                self.value = Some(value);
                self.updated_at = Some(at);
                self.error = None;
            }
            Err(error) => self.error = Some(error),
        }
    }

    /// The source confirmed its value is still current without sending it again.
    pub fn touch(&mut self, at: DateTime<Utc>) {
        if self.value.is_some() {
            self.updated_at = Some(at);
            self.error = None;
        }
    }

    pub fn value(&self) -> Option<&T> {
        self.value.as_ref()
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    pub fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.updated_at
    }

    /// How old the value is at `now`.
    pub fn age(&self, now: DateTime<Utc>) -> Option<Duration> {
        self.updated_at.map(|at| text::elapsed(at, now))
    }

    /// `2s ago`, `no data yet`: what a panel's title says about its data.
    pub fn age_caption(&self, now: DateTime<Utc>) -> String {
        match self.age(now) {
            Some(age) => format!("{} ago", text::duration_short(age)),
            None => "no data yet".to_owned(),
        }
    }
}

/// A history that keeps the newest `cap` items: sparklines, charts, result lists.
#[derive(Debug, Clone)]
pub struct Capped<T> {
    items: VecDeque<T>,
    cap: usize,
}

impl<T> Capped<T> {
    pub fn new(cap: usize) -> Self {
        Self {
            items: VecDeque::with_capacity(cap.min(1024)),
            cap,
        }
    }

    /// Adds `item`, dropping the oldest once `cap` is reached.
    pub fn push(&mut self, item: T) {
        if self.cap == 0 {
            return;
        }
        if self.items.len() == self.cap {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.items.iter()
    }

    pub fn last(&self) -> Option<&T> {
        self.items.back()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_keeps_the_stale_value_beside_the_error() {
        let start = Utc::now();
        let mut feed = Feed::default();
        assert_eq!(feed.age_caption(start), "no data yet");
        feed.accept(Ok(7), start);
        feed.accept(
            Err("connection refused".to_owned()),
            start + chrono::Duration::seconds(3),
        );
        assert_eq!(feed.value(), Some(&7));
        assert_eq!(feed.error(), Some("connection refused"));
        assert_eq!(
            feed.age_caption(start + chrono::Duration::seconds(5)),
            "5s ago"
        );
        feed.accept(Ok(8), start + chrono::Duration::seconds(6));
        assert_eq!((feed.value(), feed.error()), (Some(&8), None));
    }

    #[test]
    fn capped_history_keeps_the_newest() {
        let mut history = Capped::new(3);
        for value in 0..5 {
            history.push(value);
        }
        assert_eq!(history.iter().copied().collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(history.last(), Some(&4));
        let mut nothing = Capped::new(0);
        nothing.push(1);
        assert!(nothing.is_empty());
    }
}
