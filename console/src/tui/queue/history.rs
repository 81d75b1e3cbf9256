//! The queue over time: a capped history of samples, and throughput from their counters.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};

use crate::model::{QueueOverview, QueueStatus};

/// Samples kept: at one a second, the last five minutes.
pub const HISTORY_CAP: usize = 300;

/// One look at the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSample {
    pub at: DateTime<Utc>,
    pub depth: QueueStatus,
    pub oldest_ready_age_secs: Option<f64>,
    /// Jobs processed by outcome, summed over workers, when their metrics were read.
    pub processed: Option<BTreeMap<String, u64>>,
    /// Jobs per second by outcome since the previous sample, when both had totals.
    pub rates: Option<BTreeMap<String, f64>>,
}

/// The last [`HISTORY_CAP`] samples, oldest first.
#[derive(Debug, Clone, Default)]
pub struct QueueHistory {
    samples: VecDeque<QueueSample>,
}

impl QueueHistory {
    pub fn push(&mut self, at: DateTime<Utc>, overview: &QueueOverview) {
        let processed = overview
            .processed
            .as_ref()
            .map(|totals| totals.by_outcome.clone());
        let rates = match (self.samples.back(), &processed) {
            (Some(previous), Some(now)) => previous
                .processed
                .as_ref()
                .and_then(|before| rates(before, now, previous.at, at)),
            _ => None,
        };
        if self.samples.len() == HISTORY_CAP {
            self.samples.pop_front();
        }
        self.samples.push_back(QueueSample {
            at,
            depth: overview.depth,
            oldest_ready_age_secs: overview.oldest_ready_age_secs,
            processed,
            rates,
        });
    }

    pub fn latest(&self) -> Option<&QueueSample> {
        self.samples.back()
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &QueueSample> + ExactSizeIterator {
        self.samples.iter()
    }

    /// The newest `n` values of one series, oldest first.
    pub fn series(&self, n: usize, value: impl Fn(&QueueSample) -> u64) -> Vec<u64> {
        let skip = self.samples.len().saturating_sub(n);
        self.samples.iter().skip(skip).map(value).collect()
    }
}

/// Per-second increase of each outcome between two totals. An outcome whose total went
/// down (a worker restarted and its counter began again at zero, or left the sum) has no
/// rate for this interval rather than a negative or invented one.
pub fn rates(
    before: &BTreeMap<String, u64>,
    now: &BTreeMap<String, u64>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Option<BTreeMap<String, f64>> {
    let seconds = (to - from).num_milliseconds() as f64 / 1000.0;
    if seconds <= 0.0 {
        return None;
    }
    Some(
        now.iter()
            .filter_map(|(outcome, &total)| {
                let previous = before.get(outcome).copied().unwrap_or(0);
                (total >= previous).then(|| (outcome.clone(), (total - previous) as f64 / seconds))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::model::ProcessedTotals;

    fn overview(ready: u64, done: u64, dead: u64) -> QueueOverview {
        QueueOverview {
            depth: QueueStatus {
                ready,
                delayed: 0,
                processing: 1,
                dead,
            },
            oldest_ready_age_secs: Some(1.5),
            processed: Some(ProcessedTotals {
                by_outcome: BTreeMap::from([("done".to_owned(), done), ("dead".to_owned(), dead)]),
                workers: 1,
            }),
        }
    }

    #[test]
    fn the_history_is_capped_and_keeps_the_newest() {
        let start = DateTime::<Utc>::UNIX_EPOCH;
        let mut history = QueueHistory::default();
        for n in 0..(HISTORY_CAP as u64 + 20) {
            history.push(start + Duration::seconds(n as i64), &overview(n, n, 0));
        }
        assert_eq!(history.len(), HISTORY_CAP);
        assert_eq!(history.iter().next().map(|s| s.depth.ready), Some(20));
        assert_eq!(history.series(3, |s| s.depth.ready), [317, 318, 319]);
        assert_eq!(history.series(1000, |s| s.depth.ready).len(), HISTORY_CAP);
    }

    #[test]
    fn rates_come_from_increases_and_a_reset_gives_no_rate() {
        let start = DateTime::<Utc>::UNIX_EPOCH;
        let mut history = QueueHistory::default();
        history.push(start, &overview(0, 100, 2));
        assert_eq!(
            history.latest().and_then(|s| s.rates.clone()),
            None,
            "one sample: no rate"
        );
        history.push(start + Duration::seconds(2), &overview(0, 130, 3));
        let rates = history
            .latest()
            .and_then(|s| s.rates.clone())
            .expect("rates");
        assert_eq!(rates.get("done"), Some(&15.0));
        assert_eq!(rates.get("dead"), Some(&0.5));
        // The worker restarted: its counters start again.
        history.push(start + Duration::seconds(3), &overview(0, 4, 3));
        let rates = history
            .latest()
            .and_then(|s| s.rates.clone())
            .expect("rates");
        assert_eq!(rates.get("done"), None);
        assert_eq!(rates.get("dead"), Some(&0.0));
        assert_eq!(
            super::rates(&BTreeMap::new(), &BTreeMap::new(), start, start),
            None,
            "no time passed"
        );
    }
}
